"""Batch normalisation folded into the convolution before it, for inference.

In eval mode a ``BatchNorm2d`` after a ``Conv2d`` is a per-channel scale and shift, which the
convolution's weights and bias can take over: the network computes the same function with one
pass over memory fewer per layer (what ONNX Runtime and TensorRT do when they load a model).
Only pairs whose order is certain are folded: a convolution and a batch norm that follow each
other among a module's children (``nn.Sequential``, timm's blocks, smp's decoder); the folded
network is then checked against the original on a fixed input, and the original is kept where
they differ, so an architecture that registers its layers out of order is never changed.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

#: Folded and original network may differ by this much (fp32 rounding), relative to the largest
#: output, on the check input.
FOLD_TOLERANCE = 1e-4


def _fold_pair(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> nn.Module:
    """Fold ``norm`` into ``conv`` in place; returns what replaces ``norm`` (its activation, if any)."""
    scale = norm.weight.detach() / torch.sqrt(norm.running_var + norm.eps)
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(norm.running_mean)
    conv.weight = nn.Parameter(conv.weight.detach() * scale.reshape(-1, 1, 1, 1), requires_grad=False)
    conv.bias = nn.Parameter(norm.bias.detach() + (bias - norm.running_mean) * scale, requires_grad=False)
    # timm's BatchNormAct2d: the norm, then its dropout and activation, which stay
    rest = [module for name in ("drop", "act") if isinstance(module := getattr(norm, name, None), nn.Module)]
    return nn.Sequential(*rest) if rest else nn.Identity()


def _foldable(conv: nn.Module, norm: nn.Module) -> bool:
    return (isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d) and norm.affine
            and norm.track_running_stats and norm.num_features == conv.out_channels)


def fold_batchnorm(model: nn.Module, input_size: int = 64) -> tuple[nn.Module, int]:
    """A copy of ``model`` (in eval mode) with each conv + batch-norm pair folded into the conv.

    Returns (network, pairs folded). The copy is checked against ``model`` on a fixed input
    of ``input_size`` pixels in fp32; where they differ, ``model`` itself comes back with 0.
    """
    model = model.eval()
    folded = copy.deepcopy(model)
    pairs = 0
    for parent in list(folded.modules()):
        names = list(parent._modules)
        for first, second in zip(names, names[1:]):
            conv, norm = parent._modules[first], parent._modules[second]
            if _foldable(conv, norm):
                parent._modules[second] = _fold_pair(conv, norm)
                pairs += 1
    if not pairs:
        return model, 0
    parameter = next(model.parameters())
    generator = torch.Generator().manual_seed(0)
    check = torch.randn(2, 3, input_size, input_size, generator=generator).to(parameter.device)
    with torch.no_grad():
        expected, got = model(check).float(), folded(check).float()
    if not torch.allclose(got, expected, rtol=0, atol=FOLD_TOLERANCE * (1 + float(expected.abs().max()))):
        return model, 0
    return folded, pairs
