"""ONNX export of a checkpoint and an ONNX Runtime predictor (``autosalt export-onnx``).

The exported graph is the network only (normalised image (B, 3, S, S) -> logits (B, 5, S, S),
dynamic batch axis); letterboxing and everything after the logits stay in
:class:`autosalt.model.predictor.PhotoPredictor`, which :class:`OnnxPredictor` shares with the
PyTorch :class:`~autosalt.model.predictor.Predictor` by running an ONNX Runtime session as its
network, so both backends share one post-processing path.
The checkpoint's metadata (model id, input size, autosalt version) is stored in the ONNX
file's metadata, so scoring with it records the same model id.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch

from autosalt.model.checkpoint import CheckpointError, load_checkpoint, model_from_checkpoint
from autosalt.model.predictor import PhotoPredictor

DEFAULT_OPSET = 17
#: Largest absolute difference of logits between PyTorch fp32 and ONNX Runtime fp32 that
#: tests accept (float32 re-ordering of convolutions; observed ~1e-5).
LOGIT_TOLERANCE = 1e-3
METADATA_KEY = "autosalt"


def export_onnx(checkpoint_path: str | os.PathLike, out_path: str | os.PathLike,
                opset: int = DEFAULT_OPSET) -> Path:
    """Write ``out_path`` (.onnx) for a checkpoint; returns the path."""
    import onnx

    from autosalt.fileio import write_bytes_atomic

    checkpoint = load_checkpoint(checkpoint_path)
    model = model_from_checkpoint(checkpoint, checkpoint_path).float().eval()
    size = int(checkpoint["input_size"])
    example = torch.zeros(1, 3, size, size)
    out_path = Path(out_path)
    temporary = out_path.with_name(f".{out_path.name}.export.tmp")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.onnx.export(model, (example,), str(temporary), input_names=["image"],
                          output_names=["logits"], opset_version=opset, dynamo=False,
                          dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
        graph = onnx.load(str(temporary))
    finally:
        temporary.unlink(missing_ok=True)
    metadata = {"model_id": checkpoint.get("model_id") or Path(checkpoint_path).name,
                "input_size": size, "autosalt_version": checkpoint.get("autosalt_version", ""),
                "model_args": checkpoint["model_args"], "metrics": checkpoint.get("metrics", {}),
                "validated_on": checkpoint.get("validated_on", "")}
    entry = graph.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(metadata, default=str)
    write_bytes_atomic(out_path, graph.SerializeToString())
    return out_path


class _SessionModule:
    """Calls an ONNX Runtime session like the torch network (tensor in, tensor out)."""

    def __init__(self, session) -> None:
        self.session = session

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        image = np.ascontiguousarray(batch.float().numpy())
        (logits,) = self.session.run(["logits"], {"image": image})
        return torch.from_numpy(logits)


class OnnxPredictor(PhotoPredictor):
    """:class:`PhotoPredictor` with the network run by ONNX Runtime (fp32, CPU)."""

    def __init__(self, onnx_path: str | os.PathLike, threads: int | None = None) -> None:
        import onnxruntime

        if not Path(onnx_path).is_file():
            raise CheckpointError(f"{onnx_path}: ONNX model not found; make one with "
                                  "'autosalt export-onnx CHECKPOINT --out MODEL.onnx'")
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            session = onnxruntime.InferenceSession(str(onnx_path), options,
                                                   providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types
            raise CheckpointError(f"{onnx_path}: not a readable ONNX model ({error})") from None
        metadata = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if metadata is None:
            raise CheckpointError(f"{onnx_path}: not exported by 'autosalt export-onnx' "
                                  "(no autosalt metadata)")
        info = json.loads(metadata)
        super().__init__(_SessionModule(session), int(info["input_size"]), info["model_id"],
                         info.get("metrics", {}), "cpu", bf16=False, channels_last=False)
        self.checkpoint_path = str(onnx_path)
        self.validated_on = str(info.get("validated_on", ""))


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="autosalt checkpoint (.pt)")
    parser.add_argument("--out", type=Path, help="ONNX file to write (default: next to the "
                                                 "checkpoint, with .onnx)")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset version")


def run(args: argparse.Namespace) -> int:
    out = args.out or args.checkpoint.with_suffix(".onnx")
    try:
        path = export_onnx(args.checkpoint, out, args.opset)
    except CheckpointError as error:
        print(f"autosalt export-onnx: error: {error}")
        return 2
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB); score with "
          f"'autosalt infer PHOTOS --out OUT --model {path} --backend onnxruntime'")
    return 0
