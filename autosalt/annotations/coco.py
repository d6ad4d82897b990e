"""COCO JSON (instances format): polygons and RLE masks, for import and round trips.

Read: each image in ``images`` with its ``annotations``; category names are the labels.
``segmentation`` is either a list of polygons ``[x1, y1, x2, y2, ...]`` or an RLE dict
``{"size": [h, w], "counts": ...}`` with counts as a list (uncompressed) or a string
(compressed, pycocotools' format); ``bbox`` is used only when there is no segmentation.
Polygons of one annotation combine by the even-odd rule (a polygon inside another is a
hole; disjoint polygons simply add up, as in COCO). Coordinates have pixel corners at
integers (pixel (0, 0) spans [0, 1]), so they are shifted by half a pixel to pixel centres.
File names are relative to the photo folder (``--images``, default the JSON's folder).

Write: :func:`mask_to_coco` turns (file name, mask) pairs into a COCO document.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from autosalt.annotations.labels import EXPORT_LABELS, PAINT_ORDER
from autosalt.annotations.polygons import CORNER_OFFSET, mask_to_regions
from autosalt.annotations.shapes import AnnotationError, ImageAnnotation, Shape

# ----------------------------------------------------------------------------- RLE


def rle_encode(binary: np.ndarray, compressed: bool = True) -> dict:
    """COCO RLE of a bool (H, W) mask: column-major runs, starting with a run of zeros."""
    flat = np.asarray(binary, dtype=bool).ravel(order="F")
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate([[0], changes, [flat.size]])).tolist()
    if flat.size and flat[0]:
        runs = [0] + runs
    counts = _counts_to_string(runs) if compressed else runs
    return {"size": [int(binary.shape[0]), int(binary.shape[1])], "counts": counts}


def rle_decode(rle: dict, where: str = "RLE") -> np.ndarray:
    """Bool (H, W) mask of a COCO RLE dict (counts as a list or a compressed string)."""
    try:
        height, width = (int(value) for value in rle["size"])
        counts = rle["counts"]
    except (KeyError, TypeError, ValueError):
        raise AnnotationError(f"{where}: an RLE needs 'size': [height, width] and 'counts'") from None
    if isinstance(counts, str):
        runs = _string_to_counts(counts, where)
    elif isinstance(counts, list) and all(isinstance(c, int) and c >= 0 for c in counts):
        runs = counts
    else:
        raise AnnotationError(f"{where}: RLE counts must be a string or a list of counts >= 0")
    if sum(runs) != height * width:
        raise AnnotationError(f"{where}: RLE counts add up to {sum(runs)} pixels, "
                              f"its size {height}x{width} has {height * width}")
    values = np.arange(len(runs)) % 2 == 1
    flat = np.repeat(values, runs)
    return flat.reshape((height, width), order="F")


def _counts_to_string(runs: list[int]) -> str:
    """pycocotools' ``rleToString``: deltas of counts two back, 5 bits per character."""
    characters = []
    for index, count in enumerate(runs):
        value = count - runs[index - 2] if index > 2 else count
        more = True
        while more:
            chunk = value & 0x1F
            value >>= 5
            more = value != -1 if chunk & 0x10 else value != 0
            if more:
                chunk |= 0x20
            characters.append(chr(chunk + 48))
    return "".join(characters)


def _string_to_counts(text: str, where: str) -> list[int]:
    """pycocotools' ``rleFrString``."""
    runs: list[int] = []
    position = 0
    while position < len(text):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(text):
                raise AnnotationError(f"{where}: compressed RLE string ends in the middle of a count")
            chunk = ord(text[position]) - 48
            if not 0 <= chunk < 64:
                raise AnnotationError(f"{where}: compressed RLE has an invalid character "
                                      f"{text[position]!r} at {position}")
            value |= (chunk & 0x1F) << (5 * shift)
            more = bool(chunk & 0x20)
            position += 1
            shift += 1
            if not more and chunk & 0x10:
                value |= -1 << (5 * shift)
        if len(runs) > 2:
            value += runs[-2]
        if value < 0:
            raise AnnotationError(f"{where}: compressed RLE decodes to a negative count")
        runs.append(value)
    return runs


# ----------------------------------------------------------------------------- writing


def mask_to_coco(items: Sequence[tuple[str, np.ndarray]], encoding: str = "polygon") -> dict:
    """A COCO document for (file name, uint8 (H, W) class-id mask) pairs.

    One annotation per connected region and class (``encoding="polygon"``: its outline and
    holes as polygons; ``"rle"``: one compressed-RLE annotation per class and image).
    Categories: ``skin``, ``scalp_hair``, ``hair_loss``, ``ignore`` (background left out).
    """
    if encoding not in ("polygon", "rle"):
        raise ValueError(f"encoding must be 'polygon' or 'rle', not {encoding!r}")
    class_ids = [class_id for class_id in PAINT_ORDER if class_id in EXPORT_LABELS]
    category_of = {class_id: index + 1 for index, class_id in enumerate(class_ids)}
    images, annotations = [], []
    for image_id, (file_name, mask) in enumerate(items, start=1):
        height, width = mask.shape
        images.append({"id": image_id, "file_name": str(file_name), "height": int(height),
                       "width": int(width)})
        for class_id in class_ids:
            binary = mask == class_id
            if not binary.any():
                continue
            if encoding == "rle":
                pieces = [(rle_encode(binary), binary, 1)]
            else:
                pieces = [([(ring + CORNER_OFFSET).ravel().tolist() for ring in rings], None, 0)
                          for rings in mask_to_regions(binary)]
            for segmentation, raster, crowd in pieces:
                annotations.append(_annotation(len(annotations) + 1, image_id, category_of[class_id],
                                               segmentation, raster, crowd, binary))
    return {"info": {"description": "autosalt masks"}, "images": images,
            "annotations": annotations,
            "categories": [{"id": category_of[c], "name": EXPORT_LABELS[c], "supercategory": "head"}
                           for c in class_ids]}


def _annotation(annotation_id: int, image_id: int, category_id: int, segmentation, raster,
                crowd: int, binary: np.ndarray) -> dict:
    if raster is None:
        xs = np.concatenate([np.asarray(polygon[0::2]) for polygon in segmentation])
        ys = np.concatenate([np.asarray(polygon[1::2]) for polygon in segmentation])
        bbox = [float(xs.min()) - CORNER_OFFSET, float(ys.min()) - CORNER_OFFSET,
                float(xs.max() - xs.min()) + 1, float(ys.max() - ys.min()) + 1]
        area = None
    else:
        rows, cols = np.nonzero(raster)
        bbox = [float(cols.min()), float(rows.min()), float(cols.max() - cols.min() + 1),
                float(rows.max() - rows.min() + 1)]
        area = int(raster.sum())
    return {"id": annotation_id, "image_id": image_id, "category_id": category_id,
            "segmentation": segmentation, "area": area if area is not None else int(binary.sum()),
            "bbox": bbox, "iscrowd": crowd}


# ----------------------------------------------------------------------------- reading


def read_coco(path: Path, images_root: Path) -> list[ImageAnnotation]:
    """Every image of a COCO file, each with its shapes (or with ``error`` set)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as error:
        raise AnnotationError(f"{path}: malformed JSON (line {error.lineno}, column {error.colno}: "
                              f"{error.msg})") from None
    except (UnicodeDecodeError, OSError) as error:
        raise AnnotationError(f"{path}: cannot read as UTF-8 text ({error})") from None
    if not isinstance(document, dict) or not all(isinstance(document.get(key), list)
                                                 for key in ("images", "annotations")):
        raise AnnotationError(f"{path}: not a COCO file (needs 'images' and 'annotations' lists)")
    categories = {}
    for category in document.get("categories") or []:
        try:
            categories[category["id"]] = str(category["name"])
        except (KeyError, TypeError):
            raise AnnotationError(f"{path}: a category lacks 'id' or 'name'") from None
    if not categories:
        raise AnnotationError(f"{path}: no categories (empty label set)")
    if not document["annotations"]:
        raise AnnotationError(f"{path}: no annotations (empty label set)")
    by_image: dict[object, list[dict]] = {}
    for annotation in document["annotations"]:
        if not isinstance(annotation, dict) or "image_id" not in annotation:
            raise AnnotationError(f"{path}: an annotation lacks 'image_id'")
        by_image.setdefault(annotation["image_id"], []).append(annotation)
    known_ids = set()
    results = []
    for image in document["images"]:
        if not isinstance(image, dict) or "id" not in image or not isinstance(image.get("file_name"), str):
            raise AnnotationError(f"{path}: an image entry lacks 'id' or 'file_name'")
        known_ids.add(image["id"])
        name = image["file_name"].replace("\\", "/")
        size = None
        if "height" in image and "width" in image:
            size = (int(image["height"]), int(image["width"]))
        record = ImageAnnotation(path, f"image '{name}': ", images_root / name, [name], size, [])
        annotations = by_image.get(image["id"], [])
        if not annotations:
            record.skip = record.message("no annotations (not labelled yet?); skipped")
        for index, annotation in enumerate(annotations):
            label = categories.get(annotation.get("category_id"))
            what = f"annotation {annotation.get('id', index)}"
            if label is None:
                record.error = record.message(f"{what} has category_id "
                                              f"{annotation.get('category_id')!r}, not in 'categories'")
                break
            try:
                record.shapes.append(_shape(annotation, label, f"{what} ('{label}')", record, size))
            except AnnotationError as error:
                record.error = str(error)
                break
        results.append(record)
    orphans = sorted(set(by_image) - known_ids, key=str)
    if orphans:
        raise AnnotationError(f"{path}: annotations refer to image ids {orphans[:10]} "
                              "that are not in 'images'")
    return results


def _shape(annotation: dict, label: str, what: str, record: ImageAnnotation,
           size: tuple[int, int] | None) -> Shape:
    segmentation = annotation.get("segmentation")
    if isinstance(segmentation, dict):
        raster = rle_decode(segmentation, record.message(what))
        if size is not None and raster.shape != size:
            raise AnnotationError(record.message(f"{what}: RLE size {list(raster.shape)} differs from "
                                                 f"the image's {list(size)}"))
        return Shape(label, what, raster=raster)
    if isinstance(segmentation, list) and segmentation:
        rings = []
        for polygon in segmentation:
            try:
                points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
            except (TypeError, ValueError):
                raise AnnotationError(record.message(f"{what}: a polygon must be a flat list "
                                                     "[x1, y1, x2, y2, ...]")) from None
            if len(points) < 3 or not np.isfinite(points).all():
                raise AnnotationError(record.message(f"{what}: a polygon needs at least 3 finite "
                                                     f"points, got {len(points)}"))
            rings.append(points - CORNER_OFFSET)
        return Shape(label, what, rings)
    bbox = annotation.get("bbox")
    if isinstance(bbox, list) and len(bbox) == 4:
        x, y, width, height = (float(value) for value in bbox)
        # Pixel centres of the first and last column and row the box covers.
        right, bottom = x + max(width, 1) - 1, y + max(height, 1) - 1
        corners = np.array([[x, y], [right, y], [right, bottom], [x, bottom]])
        return Shape(label, what + " (bounding box)", [corners])
    raise AnnotationError(record.message(f"{what}: no segmentation (polygons or RLE) and no bbox"))
