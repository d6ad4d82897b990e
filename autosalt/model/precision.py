"""bfloat16 autocast only where the hardware runs it.

bf16 autocast is much faster than fp32 on GPUs and on x86 CPUs with AVX512-BF16 or AMX
(Intel Sapphire Rapids and later, AMD Zen 4 and later). Elsewhere PyTorch emulates it and it
is much *slower*, many times fp32 on a CPU with AVX2 alone (figures in docs/benchmarks.md).
So a request for bf16 (``train.bf16``,
``--precision bf16``) is honoured where bf16 is native and falls back to fp32, with a
notice, where it is not.
"""

from __future__ import annotations

import sys

import torch

_noticed: set[str] = set()


def native_bf16(device: str | torch.device) -> bool:
    """Whether ``device`` computes bfloat16 convolutions and matrix products in hardware."""
    device = torch.device(device)
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    return False


def resolve_bf16(requested: bool, device: str | torch.device) -> bool:
    """``requested`` where ``device`` runs bf16 natively, else False (with a notice, once)."""
    if not requested or native_bf16(device):
        return requested
    device_type = torch.device(device).type
    if device_type not in _noticed:
        _noticed.add(device_type)
        print(f"autosalt: this {device_type} has no native bfloat16 (no AVX512-BF16/AMX); "
              "using fp32, which is several times faster here than emulated bf16",
              file=sys.stderr)
    return False
