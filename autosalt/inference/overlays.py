"""Pictures for a human check: per-view overlays and a per-visit summary of the four views.

Overlay = the photo, the predicted scalp outlined in white, hair loss as a heat map over the
scalp (transparent where there is none, yellow to red as the loss fraction rises to 1) and
the view's percent in a corner. Summary = the four overlays side by side with the visit's
SALT, severity bands and status. All functions return new RGB uint8 arrays.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from autosalt.contract import CLASS_HAIR, CLASS_LOSS, VIEWS

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
    """Text with a dark outline so it reads on any background (drawn in place)."""
    thickness = max(1, round(scale * 2))
    cv2.putText(image, _ascii(text), origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0),
                thickness + 2, cv2.LINE_AA)
    cv2.putText(image, _ascii(text), origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness,
                cv2.LINE_AA)


def view_overlay(photo: np.ndarray, mask: np.ndarray, loss: np.ndarray, label: str,
                 flagged: bool = False) -> np.ndarray:
    """Photo (H, W, 3) + scalp outline + loss heat map (loss (H, W) in [0, 1]) + ``label``."""
    scalp = (mask == CLASS_HAIR) | (mask == CLASS_LOSS)
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
    scale = max(0.4, max(photo.shape[:2]) / 700)
    _put_label(overlay, label, (round(10 * scale), round(34 * scale)), scale,
               FLAG_COLOUR if flagged else TEXT_COLOUR)
    return overlay


def missing_tile(height: int, width: int, text: str) -> np.ndarray:
    """A grey tile standing in for a view that is missing or could not be read."""
    tile = np.full((height, width, 3), 60, np.uint8)
    _put_label(tile, text, (10, height // 2), 0.6, ERROR_COLOUR)
    return tile


def visit_summary(tiles: Mapping[str, np.ndarray], title: str, status: str) -> np.ndarray:
    """The views' overlays (any sizes) in contract order under a banner with ``title``."""
    resized = []
    for view in VIEWS:
        tile = tiles.get(view)
        if tile is None:
            tile = missing_tile(SUMMARY_TILE_HEIGHT, SUMMARY_TILE_HEIGHT, f"{view}: no image")
        width = max(1, round(tile.shape[1] * SUMMARY_TILE_HEIGHT / tile.shape[0]))
        resized.append(cv2.resize(tile, (width, SUMMARY_TILE_HEIGHT), interpolation=cv2.INTER_AREA))
    row = np.concatenate(resized, axis=1)
    banner = np.full((BANNER_HEIGHT, row.shape[1], 3), 25, np.uint8)
    colour = {"ok": TEXT_COLOUR, "flagged": FLAG_COLOUR}.get(status, ERROR_COLOUR)
    _put_label(banner, title, (10, 30), 0.75, colour)
    return np.concatenate([banner, row], axis=0)
