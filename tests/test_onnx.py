"""ONNX export and the ONNX Runtime backend match PyTorch (fp32) on a tiny random model."""

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")

from autosalt.cli import main  # noqa: E402
from autosalt.inference.onnx_backend import LOGIT_TOLERANCE, OnnxPredictor  # noqa: E402
from autosalt.model.checkpoint import make_checkpoint, save_checkpoint  # noqa: E402
from autosalt.model.factory import create_model  # noqa: E402
from autosalt.model.predictor import Predictor, letterbox, normalise  # noqa: E402


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    torch.manual_seed(0)
    model = create_model("unet", "mobilenet_v2", pretrained=False)
    save_checkpoint(folder / "tiny.pt", make_checkpoint(
        model, {"arch": "unet", "encoder": "mobilenet_v2"}, input_size=64, config={}, model_id="tiny"))
    assert main(["export-onnx", str(folder / "tiny.pt"), "--out", str(folder / "tiny.onnx")]) == 0
    return Predictor(folder / "tiny.pt", bf16=False), OnnxPredictor(folder / "tiny.onnx")


def test_logits_and_masks_match_pytorch(models):
    torch_predictor, onnx_predictor = models
    rng = np.random.default_rng(1)
    photos = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((80, 100, 3), (64, 48, 3),
                                                                        (120, 120, 3))]
    batch = torch.from_numpy(np.stack([normalise(letterbox(photo, 64)[0]) for photo in photos]))
    with torch.no_grad():
        expected = torch_predictor.model(batch).numpy()
    actual = onnx_predictor.model(batch).numpy()  # a batch of 3: the batch axis is dynamic
    assert np.abs(expected - actual).max() < LOGIT_TOLERANCE
    for mine, theirs in zip(onnx_predictor.predict_batch(photos, tta=True),
                            torch_predictor.predict_batch(photos, tta=True)):
        assert (mine.mask == theirs.mask).mean() > 0.999
        assert np.abs(mine.loss - theirs.loss).max() < 1e-3
    assert onnx_predictor.model_id == "tiny" and onnx_predictor.input_size == 64


def test_bad_onnx_file_is_a_clear_error(tmp_path):
    from autosalt.model.checkpoint import CheckpointError

    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(CheckpointError, match="not a readable ONNX model"):
        OnnxPredictor(tmp_path / "bad.onnx")
    with pytest.raises(CheckpointError, match="export-onnx"):
        OnnxPredictor(tmp_path / "missing.onnx")
