"""Training throughput (images/s) on this machine: fp32, ``channels_last``, ``channels_last`` + bf16.

    python benchmarks/bench_train.py [--data ROOT] [--encoder efficientnet_lite0] [--size 256]
                                     [--batch 12] [--steps 12]

Times full training steps (forward, loss, backward, AdamW step) of the default architecture
on real batches from a labeled folder (augmentation included, one DataLoader worker, as in
``configs/default.yaml``), after two warm-up steps, for each precision setting. Without
``--data`` it renders a small synthetic set first. Writes the ``train_<cpu capability>``
section of docs/benchmarks.md (e.g. ``train_avx2``): bf16 is fast only where the CPU runs it
natively (AVX512-BF16, AMX) and much slower than fp32 elsewhere, so each kind of CPU keeps its
own figures.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402

from autosalt.model.factory import create_model  # noqa: E402
from autosalt.model.precision import resolve_bf16  # noqa: E402
from autosalt.synth.generate import SynthOptions, generate  # noqa: E402
from autosalt.training.data import SegmentationDataset, list_samples  # noqa: E402
from autosalt.training.engine import _autocast, segmentation_loss  # noqa: E402
from autosalt.training.presets import TrainPreset  # noqa: E402

SETTINGS = {"fp32": (False, False), "channels_last": (True, False),
            "channels_last + bf16": (True, True)}


def images_per_second(loader, encoder: str, channels_last: bool, bf16: bool, steps: int) -> float:
    torch.manual_seed(0)
    model = create_model("unet", encoder, pretrained=False).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    device = torch.device("cpu")
    batches = itertools.cycle(loader)
    images, started = 0, 0.0
    for step in range(steps + 2):
        if step == 2:  # after warm-up (allocator, oneDNN kernel selection)
            images, started = 0, time.perf_counter()
        image, mask, fraction = next(batches)
        if channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        with _autocast(device, bf16):
            logits = model(image)
        loss, _ = segmentation_loss(logits, mask, fraction)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        images += image.shape[0]
    return images / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="labeled folder (default: render one)")
    parser.add_argument("--encoder", default="efficientnet_lite0")
    parser.add_argument("--size", type=int, default=256, help="network input size")
    parser.add_argument("--batch", type=int, default=12)
    parser.add_argument("--steps", type=int, default=12, help="timed steps per setting")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        data = args.data
        if data is None:
            data = Path(temporary) / "synth"
            generate(data, patients=6, visits=1, seed=9300, options=SynthOptions(size=(288, 288)),
                     workers=2, progress=False)
        dataset = SegmentationDataset(list_samples([data]), TrainPreset(args.size))
        loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch, shuffle=True,
                                             num_workers=1, drop_last=True)
        started = machine()
        capability = torch.backends.cpu.get_cpu_capability()
        rates = {name: images_per_second(loader, args.encoder, *flags, args.steps)
                 for name, flags in SETTINGS.items()}
    rows = [f"| {name} | {rate:.1f} | {rate / rates['fp32']:.2f}x |" for name, rate in rates.items()]
    chosen = "channels_last + bf16" if resolve_bf16(True, "cpu") else "channels_last"
    body = "\n".join([
        f"## Training throughput on {capability} (`benchmarks/bench_train.py`)", "",
        f"Machine: {started}; torch {torch.__version__}, {torch.get_num_threads()} threads.",
        f"unet + {args.encoder}, {args.size} px input, batch {args.batch}, {args.steps} timed steps "
        "(forward, loss, backward, AdamW) after 2 warm-up steps, augmentation in one DataLoader worker.",
        "", "| setting | images/s | vs fp32 |", "|---|---|---|",
        *rows, "",
        f"With the defaults (`train.channels_last`, `train.bf16` true) training here runs {chosen}: "
        "bf16 autocast is used only where the CPU runs it natively (`autosalt/model/precision.py`)."])
    write_section(f"train_{capability.lower()}", body)
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
