"""The hair-loss Jaccard benchmark splits disagreeing pixels by cause and reads its ceiling
off the exact truth."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bench_loss_jaccard import ceiling_counts, error_parts, jaccard, smooth_field  # noqa: E402


def scalp_with_patch():
    """60x60: face skin around a scalp; a bald patch (fraction 1) and a thinned area at 0.55."""
    mask = np.ones((60, 60), np.uint8)
    mask[5:55, 5:55] = 2
    fraction = np.zeros((60, 60), np.float32)
    mask[10:20, 10:20], fraction[10:20, 10:20] = 3, 1.0  # bald patch
    mask[30:50, 30:50], fraction[30:50, 30:50] = 3, 0.55  # thinning just over the split
    return mask, fraction


def test_error_parts_puts_each_wrong_pixel_in_one_part():
    mask, fraction = scalp_with_patch()
    predicted = mask.copy()
    predicted[10:20, 10:21] = 3  # the patch one column too wide: edge
    predicted[30:50, 30:50] = 2  # the thinned area missed: edge on its rim, near 0.5 inside
    predicted[40:50, 8:18] = 3  # loss called on haired scalp far from any boundary: other
    parts = error_parts(mask, fraction, predicted, edge=3, band=0.15)
    truth, called = mask == 3, predicted == 3
    assert parts["hit"] == (truth & called).sum()
    assert sum(parts[p] for p in ("edge", "near", "other")) == (truth ^ called).sum()
    assert parts["near"] == 14 * 14  # the missed area less its rim 3 px wide
    assert parts["other"] >= 50  # most of the false patch lies over 3 px from true loss
    assert jaccard(parts, ("edge", "near", "other")) == 1.0
    assert jaccard(parts) == parts["hit"] / (truth | called).sum()


def test_error_parts_leaves_out_ignored_pixels():
    mask, fraction = scalp_with_patch()
    predicted = mask.copy()
    predicted[40:50, 8:18] = 3
    mask[40:50, 8:18] = 255
    assert error_parts(mask, fraction, predicted, 3, 0.15)["other"] == 0


def test_ceiling_without_error_is_exact_and_grows_union_with_error():
    mask, fraction = scalp_with_patch()
    intersection, union = ceiling_counts(mask, fraction, 0.0)
    assert intersection == union == (mask == 3).sum()
    intersection, union = ceiling_counts(mask, fraction, -0.1)  # 0.55 -> 0.45: the thinned area lost
    assert intersection == 100 and union == (mask == 3).sum()


def test_smooth_field_has_unit_spread_and_is_smooth():
    field = smooth_field((120, 90), np.random.default_rng(0))
    assert field.shape == (120, 90)
    assert abs(field.std() - 1.0) < 1e-3
    assert np.abs(np.diff(field, axis=0)).mean() < 0.2
