"""The ``pixel`` method: a view's percent is the mean loss over the photo's scalp pixels.

This is what published tools do. It ignores perspective (a pixel near the silhouette covers
more scalp than one in the middle) and counts neighbouring areas seen in the photo; the
``surface`` method corrects both. Kept as the baseline and as the fallback.
"""

from __future__ import annotations

import numpy as np

from autosalt.contract import CLASS_LOSS, scalp_pixels


class EmptyScalpError(ValueError):
    """A view has no scalp pixels, so its percent is undefined."""


def pixel_loss_fraction(mask: np.ndarray, loss_map: np.ndarray | None = None) -> np.ndarray:
    """Per-pixel loss fraction (H, W) float32 in [0, 1], zero off the scalp.

    Args:
        mask: (H, W) uint8 class ids.
        loss_map: optional (H, W) float loss fraction in [0, 1]; without it, class 3 counts
            as full loss and class 2 as none.
    """
    scalp = scalp_pixels(mask)
    if loss_map is None:
        fraction = (mask == CLASS_LOSS).astype(np.float32)
    else:
        if loss_map.shape != mask.shape:
            raise ValueError(f"loss map shape {loss_map.shape} differs from mask {mask.shape}")
        fraction = np.clip(loss_map.astype(np.float32), 0.0, 1.0)
    return np.where(scalp, fraction, np.float32(0.0))


def percent_of(part: float, whole: float) -> float:
    """``100 * part / whole`` for a loss-weighted share (0 <= part <= whole, whole > 0), kept in
    0..100: summed in floating point, a fully bald scalp's share can come out a rounding error
    above 100, which every SALT check refuses."""
    return min(100.0, max(0.0, 100.0 * float(part) / float(whole)))


def pixel_view_percent(mask: np.ndarray, loss_map: np.ndarray | None = None) -> float:
    """Percent (0..100) of the photo's scalp pixels with hair loss, loss-fraction weighted."""
    scalp = scalp_pixels(mask)
    count = int(scalp.sum())
    if count == 0:
        raise EmptyScalpError("no scalp pixels (classes 2/3) in the mask")
    return percent_of(pixel_loss_fraction(mask, loss_map)[scalp].sum(), count)
