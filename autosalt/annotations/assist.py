"""Helpers for correcting masks by eye: polygon painting, a hair/skin split, a head cut-out.

These are the tools behind ``scripts/label_assist.py`` (docs/retraining.md, "A worked real
example"): a rater starts from the model's pre-annotation, looks at :func:`labelling_view`
(the photo and its classes side by side, with a pixel grid to read coordinates from) and
mends what is wrong with a few operations:

- :func:`paint_polygon`: give a polygon one class (optionally only where the mask already has
  certain classes, e.g. turn scalp into hair loss without touching the face);
- :func:`split_scalp_by_colour`: inside a polygon, re-split the scalp into hair and bare skin
  by colour and texture (bare skin modelled on the photo's own face and neck skin);
- :func:`cut_out_head`: GrabCut the head (face and scalp) from the backdrop, seeded by the mask.

All functions are pure: they take ``uint8`` arrays and return new ones. Masks are (H, W)
class ids of the data contract; photos (H, W, 3) sRGB.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from autosalt.contract import (
    CLASS_BACKGROUND,
    CLASS_HAIR,
    CLASS_IGNORE,
    CLASS_LOSS,
    CLASS_SKIN,
    scalp_pixels,
)

#: Overlay colour of each class in :func:`labelling_view` (RGB); background is left clear.
CLASS_TINTS: dict[int, tuple[int, int, int]] = {
    CLASS_SKIN: (40, 120, 255), CLASS_HAIR: (40, 220, 40), CLASS_LOSS: (255, 40, 40),
    CLASS_IGNORE: (200, 200, 200)}
TINT_OPACITY = 0.45


def paint_polygon(mask: np.ndarray, points: Sequence[tuple[float, float]], class_id: int,
                  only: Sequence[int] | None = None) -> np.ndarray:
    """A copy of ``mask`` with the polygon ``points`` ((x, y) pixels) set to ``class_id``.

    ``only``: change just the pixels whose current class is in this list.
    """
    polygon = np.round(np.asarray(points, dtype=np.float64)).astype(np.int32).reshape(-1, 1, 2)
    if len(polygon) < 3:
        raise ValueError(f"a polygon needs at least 3 points, got {len(polygon)}")
    inside = np.zeros(mask.shape, np.uint8)
    cv2.fillPoly(inside, [polygon], 1)
    inside = inside.astype(bool)
    if only is not None:
        inside &= np.isin(mask, list(only))
    painted = mask.copy()
    painted[inside] = class_id
    return painted


def pixel_features(photo: np.ndarray) -> np.ndarray:
    """(H, W, 4) float32: smoothed CIE Lab colour and local texture (std of lightness, 7x7)."""
    lab = cv2.cvtColor(photo, cv2.COLOR_RGB2LAB).astype(np.float32)
    smooth = cv2.GaussianBlur(lab, (0, 0), 2.0)
    lightness = lab[..., 0]
    mean = cv2.blur(lightness, (7, 7))
    texture = np.sqrt(np.maximum(cv2.blur(lightness * lightness, (7, 7)) - mean * mean, 0.0))
    return np.dstack([smooth, cv2.GaussianBlur(texture, (0, 0), 2.0)])


def split_scalp_by_colour(photo: np.ndarray, mask: np.ndarray,
                          region: Sequence[tuple[float, float]] | None = None,
                          skin_seeds: Sequence[tuple[float, float]] | None = None,
                          hair_seeds: Sequence[tuple[float, float]] | None = None,
                          bias: float = 0.0, smooth: int = 9) -> np.ndarray:
    """Re-split the scalp inside ``region`` (default: all of it) into hair (2) and loss (3).

    Each scalp pixel goes to the nearer of two colour-and-texture models, bare skin and hair,
    learnt from seed points the rater picks on the photo (``skin_seeds``, ``hair_seeds``:
    (x, y) pixels; each samples a disc of radius :data:`SEED_RADIUS`). Without seeds, skin is
    learnt from the scalp's most skin-like fifth (light, red, smooth) and hair from its
    least skin-like third. ``bias`` > 0 calls more pixels loss, < 0 more hair (in standard
    deviations). ``smooth``: median filter size that removes speckle.
    """
    scalp = scalp_pixels(mask)
    if region is not None:
        scalp &= paint_polygon(np.zeros(mask.shape, np.uint8), region, 1).astype(bool)
    if scalp.sum() < 50:
        return mask.copy()
    features = pixel_features(photo)
    scalp_features = features[scalp]
    if skin_seeds:
        skin_features = features[_seed_discs(mask.shape, skin_seeds)]
    else:
        likeness = scalp_features[:, 0] + 2 * scalp_features[:, 1] - 3 * scalp_features[:, 3]
        skin_features = scalp_features[likeness >= np.quantile(likeness, 0.8)]
    distance_skin = _model_distance(scalp_features, skin_features)
    if hair_seeds:
        hair_features = features[_seed_discs(mask.shape, hair_seeds)]
    else:
        hair_features = scalp_features[distance_skin >= np.quantile(distance_skin, 0.67)]
    loss_here = distance_skin - bias < _model_distance(scalp_features, hair_features)
    is_loss = np.zeros(mask.shape, np.uint8)
    is_loss[scalp] = loss_here
    if smooth > 1:
        is_loss = (cv2.medianBlur(is_loss * 255, smooth | 1) > 0).astype(np.uint8)
    split = mask.copy()
    split[scalp] = np.where(is_loss[scalp] > 0, CLASS_LOSS, CLASS_HAIR)
    return split


#: Radius (pixels) of the disc each seed point samples in :func:`split_scalp_by_colour`.
SEED_RADIUS = 8
#: Floor on a model's per-feature spread, so a uniform seed patch does not make it knife-edged.
_MIN_SPREAD = np.array([6.0, 3.0, 3.0, 2.0], np.float32)


def _seed_discs(shape: tuple[int, int], seeds: Sequence[tuple[float, float]]) -> np.ndarray:
    discs = np.zeros(shape, np.uint8)
    for x, y in seeds:
        cv2.circle(discs, (int(round(x)), int(round(y))), SEED_RADIUS, 1, thickness=-1)
    return discs.astype(bool)


def _model_distance(features: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Distance of each feature row to a diagonal Gaussian fitted on ``reference`` rows."""
    spread = np.maximum(reference.std(axis=0), _MIN_SPREAD)
    return np.linalg.norm((features - reference.mean(axis=0)) / spread, axis=1)


def cut_out_head(photo: np.ndarray, mask: np.ndarray, iterations: int = 4) -> np.ndarray:
    """A copy of ``mask`` where pixels GrabCut puts in the backdrop become background.

    Seeds: the inner part of the mask's head classes (skin, scalp) is foreground, the rest of
    them probable foreground, everything else probable background. Head pixels GrabCut drops
    become background; no pixel is added.
    """
    head = np.isin(mask, (CLASS_SKIN, CLASS_HAIR, CLASS_LOSS)).astype(np.uint8)
    if head.sum() < 100:
        return mask.copy()
    seeds = np.where(head > 0, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    # Only the head's inner part is certain: the mask may spill a good way onto the backdrop.
    margin = max(7, int(0.35 * np.sqrt(head.sum() / np.pi)))
    core = cv2.erode(head, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1)))
    seeds[core > 0] = cv2.GC_FGD
    background_model, foreground_model = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(cv2.cvtColor(photo, cv2.COLOR_RGB2BGR), seeds, None, background_model,
                foreground_model, iterations, cv2.GC_INIT_WITH_MASK)
    dropped = (head > 0) & np.isin(seeds, (cv2.GC_BGD, cv2.GC_PR_BGD))
    cut = mask.copy()
    cut[dropped] = CLASS_BACKGROUND
    return cut


def labelling_view(photo: np.ndarray, mask: np.ndarray, grid: int = 80) -> np.ndarray:
    """The photo and its classes side by side (RGB, (H, 2W, 3)), both with a labelled grid.

    Tints: skin blue, scalp with hair green, hair loss red, ignore grey; background clear.
    Grid lines every ``grid`` pixels carry their coordinate, so a rater can read polygon
    points off the picture.
    """
    tinted = photo.astype(np.float32)
    for class_id, colour in CLASS_TINTS.items():
        where = mask == class_id
        tinted[where] = (1 - TINT_OPACITY) * tinted[where] + TINT_OPACITY * np.array(colour, np.float32)
    tinted = tinted.astype(np.uint8)
    for class_id in (CLASS_SKIN, CLASS_HAIR, CLASS_LOSS):
        contours, _ = cv2.findContours((mask == class_id).astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(tinted, contours, -1, CLASS_TINTS[class_id], 1)
    panels = [_with_grid(photo.copy(), grid), _with_grid(tinted, grid)]
    return np.concatenate(panels, axis=1)


def _with_grid(image: np.ndarray, grid: int) -> np.ndarray:
    height, width = image.shape[:2]
    for x in range(grid, width, grid):
        cv2.line(image, (x, 0), (x, height - 1), (255, 255, 0), 1)
        cv2.putText(image, str(x), (x + 2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1)
    for y in range(grid, height, grid):
        cv2.line(image, (0, y), (width - 1, y), (255, 255, 0), 1)
        cv2.putText(image, str(y), (2, y - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1)
    return image
