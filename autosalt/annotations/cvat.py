"""CVAT for images 1.1 XML: ``<image>`` elements with ``<polygon>``, ``<box>`` and ``<mask>``.

Coordinates have pixel corners at integers (as in COCO) and are shifted by half a pixel to
pixel centres. A ``<mask>`` holds ``rle="..."``: comma-separated run lengths, row by row
inside its box (``left``, ``top``, ``width``, ``height``), starting with a background run.
``<polyline>``, ``<points>`` and ``<cuboid>`` enclose no area and are skipped with a
warning. CVAT has no holes and its ``z_order`` is not used: overlaps follow the label
priority of :mod:`.labels`. Image names are relative to the photo folder (``--images``,
default the XML file's folder).
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np

from autosalt.annotations.polygons import CORNER_OFFSET
from autosalt.annotations.shapes import AnnotationError, ImageAnnotation, Shape

_NO_AREA = ("polyline", "points", "cuboid", "skeleton", "tag")


def read_cvat(path: Path, images_root: Path) -> list[ImageAnnotation]:
    """Every ``<image>`` of a CVAT 1.1 XML file, each with its shapes (or ``error`` set)."""
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        line, column = error.position
        raise AnnotationError(f"{path}: malformed XML (line {line}, column {column}: "
                              f"{str(error).split(':')[0]})") from None
    except OSError as error:
        raise AnnotationError(f"{path}: cannot read ({error.strerror})") from None
    if root.tag != "annotations":
        raise AnnotationError(f"{path}: not a CVAT for images XML file (root element "
                              f"<{root.tag}>, expected <annotations>)")
    images = root.findall("image")
    if not images:
        raise AnnotationError(f"{path}: no <image> elements (a CVAT video export or an empty task?)")
    results = []
    for index, image in enumerate(images):
        name = (image.get("name") or "").replace("\\", "/")
        record = ImageAnnotation(path, f"image '{name or index}': ", images_root / name, [name], None, [])
        results.append(record)
        try:
            if not name:
                raise AnnotationError(record.message("<image> has no name attribute"))
            record.size = (_number(image, "height", record, int), _number(image, "width", record, int))
            for shape_index, element in enumerate(image):
                label = element.get("label") or ""
                what = f"<{element.tag}> {shape_index} '{label}'"
                if element.tag in _NO_AREA:
                    record.warnings.append(record.message(f"{what} encloses no area; skipped"))
                    continue
                if not label:
                    raise AnnotationError(record.message(f"{what} has no label"))
                record.shapes.append(_shape(element, label, what, record))
        except AnnotationError as error:
            record.error = str(error)
            continue
        if not record.shapes:
            record.skip = record.message("no shapes (not labelled yet?); skipped")
    if all(record.skip for record in results):
        raise AnnotationError(f"{path}: no image has any labelled shape (empty label set)")
    return results


def _number(element, name: str, record: ImageAnnotation, kind=float):
    try:
        return kind(float(element.get(name)))
    except (TypeError, ValueError):
        raise AnnotationError(record.message(f"<{element.tag}> lacks a numeric '{name}'")) from None


def _shape(element, label: str, what: str, record: ImageAnnotation) -> Shape:
    if element.tag == "polygon":
        try:
            points = np.array([[float(v) for v in pair.split(",")]
                               for pair in (element.get("points") or "").split(";") if pair.strip()])
        except ValueError:
            raise AnnotationError(record.message(f"{what}: points must read 'x1,y1;x2,y2;...'")) from None
        if points.ndim != 2 or points.shape[1:] != (2,) or len(points) < 3:
            raise AnnotationError(record.message(f"{what}: a polygon needs at least 3 'x,y' points"))
        return Shape(label, what, [points - CORNER_OFFSET])
    if element.tag == "box":
        left, top = (_number(element, key, record) for key in ("xtl", "ytl"))
        right, bottom = (_number(element, key, record) for key in ("xbr", "ybr"))
        # Corner coordinates -> centres of the first and last pixel column/row covered.
        corners = np.array([[left, top], [right - 1, top], [right - 1, bottom - 1], [left, bottom - 1]])
        return Shape(label, what, [corners])
    if element.tag == "mask":
        return Shape(label, what, raster=_mask_raster(element, what, record))
    raise AnnotationError(record.message(f"{what}: unknown shape element "
                                         "(known: polygon, box, mask)"))


def _mask_raster(element, what: str, record: ImageAnnotation) -> np.ndarray:
    left, top, width, height = (_number(element, key, record, int)
                                for key in ("left", "top", "width", "height"))
    try:
        runs = [int(value) for value in (element.get("rle") or "").split(",") if value.strip()]
    except ValueError:
        raise AnnotationError(record.message(f"{what}: rle must be comma-separated counts")) from None
    if any(run < 0 for run in runs) or sum(runs) != width * height:
        raise AnnotationError(record.message(f"{what}: rle counts add up to {sum(runs)} pixels, "
                                             f"its {width}x{height} box has {width * height}"))
    patch = np.repeat(np.arange(len(runs)) % 2 == 1, runs).reshape(height, width)
    image_height, image_width = record.size
    raster = np.zeros(record.size, dtype=bool)
    rows = slice(max(top, 0), min(top + height, image_height))
    cols = slice(max(left, 0), min(left + width, image_width))
    if rows.start >= rows.stop or cols.start >= cols.stop:
        raise AnnotationError(record.message(f"{what} lies entirely outside the image"))
    if (rows.start, rows.stop, cols.start, cols.stop) != (top, top + height, left, left + width):
        record.warnings.append(record.message(f"{what} reaches outside the image; clipped"))
    raster[rows, cols] = patch[rows.start - top: rows.stop - top, cols.start - left: cols.stop - left]
    return raster
