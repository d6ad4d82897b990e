"""Pictures for a human check: per-view overlays and a per-visit summary of the four views.

Overlay = the photo, the predicted scalp outlined in white, hair loss as a heat map over the
scalp (transparent where there is none, yellow to red as the loss fraction rises to 1) and
the view's percent in a corner (:func:`labelled`). Summary = the four overlays side by side with the visit's
SALT, severity bands and status. All functions return new RGB uint8 arrays.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from autosalt.contract import VIEWS, scalp_pixels

OUTLINE_COLOUR = (255, 255, 255)
TEXT_COLOUR = (255, 255, 255)
FLAG_COLOUR = (255, 170, 0)
ERROR_COLOUR = (255, 70, 70)
#: Heat map opacity at full loss (fraction 1); scales down with the fraction.
HEAT_MAX_OPACITY = 0.65
SUMMARY_TILE_HEIGHT = 300
BANNER_HEIGHT = 44


def _ascii(text: str) -> str:
    """OpenCV's Hershey fonts draw ASCII only."""
    return text.encode("ascii", "replace").decode("ascii")


def _put_label(image: np.ndarray, text: str, origin: tuple[int, int], scale: float,
               colour: tuple[int, int, int] = TEXT_COLOUR) -> None:
    """Text on a dark box so it reads on any background (drawn in place); origin = baseline."""
    thickness = max(1, round(scale * 1.6))
    (width, height), baseline = cv2.getTextSize(_ascii(text), cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    pad = max(2, round(4 * scale))
    x, y = origin
    cv2.rectangle(image, (x - pad, y - height - pad), (x + width + pad, y + baseline + pad),
                  (20, 20, 20), thickness=-1)
    cv2.putText(image, _ascii(text), origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness,
                cv2.LINE_AA)


def view_overlay(photo: np.ndarray, mask: np.ndarray, loss: np.ndarray) -> np.ndarray:
    """Photo (H, W, 3) + scalp outline + loss heat map (loss (H, W) in [0, 1]), unlabelled."""
    scalp = scalp_pixels(mask)
    fraction = np.clip(loss, 0.0, 1.0) * scalp
    # Yellow (255, 255, 0) at low loss to red (255, 0, 0) at full loss.
    heat = np.empty_like(photo)
    heat[..., 0] = 255
    heat[..., 1] = (255 * (1.0 - fraction)).astype(np.uint8)
    heat[..., 2] = 0
    opacity = (HEAT_MAX_OPACITY * fraction)[..., None]
    overlay = (photo * (1.0 - opacity) + heat * opacity).astype(np.uint8)
    contours, _ = cv2.findContours(scalp.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    line = max(1, round(max(photo.shape[:2]) / 300))
    cv2.drawContours(overlay, contours, -1, OUTLINE_COLOUR, line, cv2.LINE_AA)
    return overlay


def labelled(image: np.ndarray, label: str, flagged: bool = False) -> np.ndarray:
    """A copy of ``image`` with ``label`` (e.g. ``top 12.3%``) in its top-left corner, sized to
    stay readable whatever the image size (orange when the view is flagged)."""
    labelled_image = image.copy()
    scale = max(0.6, max(image.shape[:2]) / 500)
    _put_label(labelled_image, label, (round(10 * scale), round(30 * scale)), scale,
               FLAG_COLOUR if flagged else TEXT_COLOUR)
    return labelled_image


def missing_tile(height: int, width: int, text: str) -> np.ndarray:
    """A grey tile standing in for a view that is missing or could not be read."""
    tile = np.full((height, width, 3), 60, np.uint8)
    _put_label(tile, text, (10, height // 2), 0.6, ERROR_COLOUR)
    return tile


def visit_summary(tiles: Mapping[str, np.ndarray], labels: Mapping[str, tuple[str, bool]],
                  title: str, status: str) -> np.ndarray:
    """Unlabelled overlays (any sizes) in contract order, each labelled with ``labels[view]``
    (text, flagged), under a banner with ``title``."""
    resized = []
    for view in VIEWS:
        tile = tiles.get(view)
        if tile is None:
            resized.append(missing_tile(SUMMARY_TILE_HEIGHT, SUMMARY_TILE_HEIGHT, f"{view}: no image"))
            continue
        width = max(1, round(tile.shape[1] * SUMMARY_TILE_HEIGHT / tile.shape[0]))
        tile = cv2.resize(tile, (width, SUMMARY_TILE_HEIGHT), interpolation=cv2.INTER_AREA)
        resized.append(labelled(tile, *labels.get(view, (view, False))))
    row = np.concatenate(resized, axis=1)
    banner = np.full((BANNER_HEIGHT, row.shape[1], 3), 25, np.uint8)
    colour = {"ok": TEXT_COLOUR, "flagged": FLAG_COLOUR}.get(status, ERROR_COLOUR)
    _put_label(banner, title, (10, 30), 0.75, colour)
    return np.concatenate([banner, row], axis=0)
