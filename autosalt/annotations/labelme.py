"""LabelMe JSON: one file per photo (reading for import, writing for correction).

Read: ``polygon``, ``rectangle``, ``circle`` and ``mask`` shapes; ``line``, ``linestrip``,
``point`` and ``points`` enclose no area and are skipped with a warning. LabelMe has no
holes: shapes with the same label and the same ``group_id`` form one region by the even-odd
rule (a polygon inside another of its group is a hole). ``imagePath`` is relative to the
JSON file; ``imageData`` is never used (the photo file is). Coordinates: pixel centres at
integers, as LabelMe draws them.

Write: :func:`mask_to_labelme` turns a class-id mask into a LabelMe document a rater can
correct and :mod:`.importer` reads back exactly.
"""

from __future__ import annotations

import base64
import io
import json
import os
from pathlib import Path, PurePosixPath

import cv2
import numpy as np

from autosalt.annotations.labels import EXPORT_LABELS, PAINT_ORDER
from autosalt.annotations.polygons import mask_to_regions
from autosalt.annotations.shapes import AnnotationError, ImageAnnotation, Shape
from autosalt.contract import CLASS_HAIR, CLASS_LOSS
from autosalt.fileio import open_image

#: LabelMe version written into exported files (the JSON layout of LabelMe 5).
LABELME_VERSION = "5.5.0"
_NO_AREA = ("line", "linestrip", "point", "points")
_CIRCLE_POINTS = 64


def mask_to_labelme(mask: np.ndarray, image_path: str | os.PathLike,
                    image_size: tuple[int, int] | None = None, layered: bool = True) -> dict:
    """A LabelMe document (dict, ready for ``json.dump``) with the mask's classes as polygons.

    ``mask``: uint8 (H, W) class ids. ``image_path``: the photo as LabelMe should open it,
    relative to where the JSON file will be saved (e.g. ``../../photos/P001/week00/top.jpg``).
    ``image_size``: (height, width) of the photo as displayed (EXIF applied); a mask of
    another size is resized to it (nearest neighbour) first. Labels: ``skin``,
    ``scalp_hair``, ``hair_loss``, ``ignore`` (background is left unlabelled).

    ``layered=True`` (for correction): the ``scalp_hair`` polygons cover the whole scalp
    (hair and loss) and ``hair_loss`` polygons lie on top, so a rater who shrinks a patch
    gives its pixels back to scalp with hair instead of leaving a hole. Both import
    priority (hair loss over scalp) and LabelMe's own later-over-earlier order then give the
    mask back exactly. Polygons with holes are written as shapes sharing a ``group_id``.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be (H, W) class ids, got shape {mask.shape}")
    if image_size is not None and tuple(image_size) != mask.shape:
        height, width = image_size
        mask = cv2.resize(mask, (int(width), int(height)), interpolation=cv2.INTER_NEAREST)
    shapes, group_id = [], 0
    for class_id in PAINT_ORDER:
        if class_id not in EXPORT_LABELS:
            continue
        region_mask = mask == class_id
        if layered and class_id == CLASS_HAIR:
            region_mask = region_mask | (mask == CLASS_LOSS)
        for rings in mask_to_regions(region_mask):
            group = None
            if len(rings) > 1:
                group_id += 1
                group = group_id
            shapes += [{"label": EXPORT_LABELS[class_id], "points": ring.tolist(), "group_id": group,
                        "description": "", "shape_type": "polygon", "flags": {}, "mask": None}
                       for ring in rings]
    return {"version": LABELME_VERSION, "flags": {}, "shapes": shapes,
            "imagePath": PurePosixPath(*Path(image_path).parts).as_posix(), "imageData": None,
            "imageHeight": int(mask.shape[0]), "imageWidth": int(mask.shape[1])}


def read_labelme(path: Path, root: Path) -> ImageAnnotation:
    """Read one LabelMe file; ``root`` is the folder its relative name is taken from."""
    document = _load_json(path)
    if not isinstance(document, dict) or not isinstance(document.get("shapes"), list):
        raise AnnotationError(f"{path}: not a LabelMe file (no 'shapes' list)")
    image_path = document.get("imagePath")
    if not isinstance(image_path, str) or not image_path.strip():
        raise AnnotationError(f"{path}: no 'imagePath': which photo was labelled?")
    image_path = image_path.replace("\\", "/")
    photo = path.parent / image_path
    size = None
    if "imageHeight" in document and "imageWidth" in document:
        try:
            size = (int(document["imageHeight"]), int(document["imageWidth"]))
        except (TypeError, ValueError):
            raise AnnotationError(f"{path}: imageHeight/imageWidth are not numbers") from None
    relative = path.relative_to(root).with_suffix("").as_posix() if path.is_relative_to(root) else path.stem
    annotation = ImageAnnotation(path, "", photo, [relative, image_path], size, [])
    groups: dict[tuple[str, object], Shape] = {}
    for index, item in enumerate(document["shapes"]):
        if not isinstance(item, dict) or not isinstance(item.get("label"), str):
            raise AnnotationError(f"{path}: shape {index} has no label")
        kind = item.get("shape_type") or "polygon"
        what = f"shape {index} ({kind} '{item['label']}')"
        if kind in _NO_AREA:
            annotation.warnings.append(f"{path}: {what} encloses no area; skipped")
            continue
        points = _points(item.get("points"), path, what)
        if kind == "mask":
            annotation.shapes.append(_mask_shape(item, points, size, path, what))
            continue
        ring = _ring(kind, points, path, what)
        group_id = item.get("group_id")
        if group_id is None:
            annotation.shapes.append(Shape(item["label"], what, [ring]))
        elif (item["label"], group_id) in groups:
            groups[(item["label"], group_id)].rings.append(ring)
        else:
            groups[(item["label"], group_id)] = Shape(item["label"], f"{what} (group {group_id})", [ring])
            annotation.shapes.append(groups[(item["label"], group_id)])
    return annotation


def _load_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as error:
        raise AnnotationError(f"{path}: malformed JSON (line {error.lineno}, column {error.colno}: "
                              f"{error.msg})") from None
    except UnicodeDecodeError:
        raise AnnotationError(f"{path}: not UTF-8 text; is it a JSON file?") from None
    except OSError as error:
        raise AnnotationError(f"{path}: cannot read ({error.strerror})") from None


def _points(value, path: Path, what: str) -> np.ndarray:
    try:
        points = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise AnnotationError(f"{path}: {what}: points must be a list of [x, y] numbers") from None
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise AnnotationError(f"{path}: {what}: points must be a list of [x, y] numbers")
    if not np.isfinite(points).all():
        raise AnnotationError(f"{path}: {what}: points are not all finite numbers")
    return points


def _ring(kind: str, points: np.ndarray, path: Path, what: str) -> np.ndarray:
    if kind == "polygon":
        if len(points) < 3:
            raise AnnotationError(f"{path}: {what}: a polygon needs at least 3 points, got {len(points)}")
        return points
    if kind == "rectangle":
        if len(points) != 2:
            raise AnnotationError(f"{path}: {what}: a rectangle needs 2 corner points")
        (x1, y1), (x2, y2) = points
        return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])
    if kind == "circle":
        if len(points) != 2:
            raise AnnotationError(f"{path}: {what}: a circle needs its centre and a point on it")
        centre, edge = points
        radius = float(np.hypot(*(edge - centre)))
        angles = np.linspace(0, 2 * np.pi, _CIRCLE_POINTS, endpoint=False)
        return centre + radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    raise AnnotationError(f"{path}: {what}: unknown shape_type '{kind}' "
                          "(known: polygon, rectangle, circle, mask)")


def _mask_shape(item: dict, points: np.ndarray, size: tuple[int, int] | None, path: Path,
                what: str) -> Shape:
    """LabelMe 5.3+ ``mask`` shape: a base64 PNG of the box between its two points."""
    if size is None:
        raise AnnotationError(f"{path}: {what}: mask shapes need imageHeight and imageWidth")
    try:
        data = io.BytesIO(base64.b64decode(item.get("mask") or "", validate=True))
        with open_image(data, name=f"{path}: {what}: 'mask'") as image:
            patch = np.asarray(image.convert("L")) > 0
    except (ValueError, OSError):
        raise AnnotationError(f"{path}: {what}: 'mask' is not a base64 PNG") from None
    raster = np.zeros(size, dtype=bool)
    left, top = (int(np.floor(v + 0.5)) for v in points[0])
    rows = slice(max(top, 0), min(top + patch.shape[0], size[0]))
    cols = slice(max(left, 0), min(left + patch.shape[1], size[1]))
    if rows.start >= rows.stop or cols.start >= cols.stop:
        raise AnnotationError(f"{path}: {what} lies entirely outside the image")
    raster[rows, cols] = patch[rows.start - top: rows.stop - top, cols.start - left: cols.stop - left]
    return Shape(item["label"], what, raster=raster)
