"""Predicted masks as LabelMe polygons, so a rater corrects predictions instead of drawing.

One JSON file per photo in LabelMe's format (``version``, ``shapes`` of ``shape_type``
polygon, ``imagePath`` relative to the JSON file, no embedded image data). Each connected
region of a class becomes one polygon labelled with the contract's class name; holes are not
represented (LabelMe polygons have none), so a rater re-draws a bald patch inside hair as its
own ``scalp_loss`` polygon, which is what the polygons of that class already are.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from autosalt.contract import CLASS_HAIR, CLASS_LOSS, CLASS_NAMES, CLASS_SKIN

LABELME_VERSION = "5.4.1"
#: Regions smaller than this share of the photo are noise for a rater, not shapes.
MIN_REGION_FRACTION = 0.0005
#: Polygon simplification tolerance, in pixels per 1000 px of the photo's long side.
SIMPLIFY_PX_PER_1000 = 2.0


def mask_to_shapes(mask: np.ndarray) -> list[dict]:
    """LabelMe shapes (skin, scalp_hair, scalp_loss polygons) of a class mask (H, W)."""
    shapes = []
    min_area = MIN_REGION_FRACTION * mask.size
    epsilon = max(1.0, SIMPLIFY_PX_PER_1000 * max(mask.shape) / 1000)
    for class_id in (CLASS_SKIN, CLASS_HAIR, CLASS_LOSS):
        region = (mask == class_id).astype(np.uint8)
        contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            if cv2.contourArea(contour) < min_area:
                continue
            polygon = cv2.approxPolyDP(contour, epsilon, closed=True).reshape(-1, 2)
            if len(polygon) < 3:
                continue
            shapes.append({"label": CLASS_NAMES[class_id],
                           "points": [[float(x), float(y)] for x, y in polygon],
                           "group_id": None, "description": "autosalt prediction",
                           "shape_type": "polygon", "flags": {}})
    return shapes


def labelme_document(mask: np.ndarray, photo_path: str | os.PathLike,
                     json_path: str | os.PathLike) -> dict:
    """The LabelMe JSON for one photo; ``imagePath`` is relative to where the JSON is written."""
    image_path = os.path.relpath(Path(photo_path).resolve(), Path(json_path).resolve().parent)
    return {"version": LABELME_VERSION, "flags": {}, "shapes": mask_to_shapes(mask),
            "imagePath": image_path, "imageData": None,
            "imageHeight": int(mask.shape[0]), "imageWidth": int(mask.shape[1])}
