"""What every annotation reader returns, and how its shapes become one class-id mask.

Readers (:mod:`.labelme`, :mod:`.cvat`, :mod:`.coco`) turn a file into
:class:`ImageAnnotation` records: the photo it belongs to, the size the annotation tool
showed, and :class:`Shape` objects in pixel-centre coordinates. :func:`paint_mask` then
checks and rasterises them with the priority of :mod:`.labels`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autosalt.annotations.labels import PAINT_ORDER, normalise_label
from autosalt.annotations.polygons import rasterize_region, ring_position, self_intersects
from autosalt.contract import CLASS_BACKGROUND
from autosalt.fileio import InputError


class AnnotationError(InputError):
    """An annotation file (or one image in it) cannot be imported; the message says why."""


@dataclass
class Shape:
    """One labelled region: even-odd rings (pixel-centre x, y) or a ready raster (RLE masks)."""

    label: str
    what: str  # how to find it in the file, e.g. "shape 3 (polygon 'scalp')"
    rings: list[np.ndarray] = field(default_factory=list)
    raster: np.ndarray | None = None  # bool (H, W); for masks given as pixels


@dataclass
class ImageAnnotation:
    """The annotation of one photo, as read from a file (before any check against the photo)."""

    source: Path  # the annotation file
    where: str  # "" for one-image files, else e.g. "image 'P001/week00/top.jpg': "
    photo: Path  # where the photo should be
    names: list[str]  # relative names to read patient/visit/view from, most specific first
    size: tuple[int, int] | None  # (height, width) the annotation tool showed, if recorded
    shapes: list[Shape]
    warnings: list[str] = field(default_factory=list)
    error: str | None = None  # set when this image cannot be imported (others may be)
    skip: str | None = None  # set when the file lists the image but labels nothing on it

    def message(self, text: str) -> str:
        return f"{self.source}: {self.where}{text}"


def paint_mask(annotation: ImageAnnotation, shape: tuple[int, int], labels: dict[str, int],
               unknown: str = "error", unlabeled: int = CLASS_BACKGROUND) -> np.ndarray:
    """Rasterise an annotation's shapes into a uint8 (H, W) class-id mask.

    Overlaps go to the class later in :data:`PAINT_ORDER`. Shapes partly outside the image
    are clipped and self-intersecting rings filled as drawn (even-odd), each with a warning
    appended to ``annotation.warnings``; a shape entirely outside the image, unknown labels
    (unless ``unknown="ignore"``) and an empty label set raise :class:`AnnotationError`.
    """
    if not annotation.shapes:
        raise AnnotationError(annotation.message("no labelled shapes (empty label set); "
                                                 "label the photo or leave it out"))
    unknown_names = sorted({shape.label for shape in annotation.shapes
                            if normalise_label(shape.label) not in labels})
    if unknown_names and unknown != "ignore":
        raise AnnotationError(annotation.message(
            f"unknown labels {unknown_names}; known are {sorted(labels)}. Map them with "
            "--labels map.yaml (name: class id) or skip them with --unknown ignore"))
    if unknown_names:
        annotation.warnings.append(annotation.message(f"skipped shapes with unknown labels {unknown_names}"))
    by_class: dict[int, np.ndarray] = {}
    for item in annotation.shapes:
        class_id = labels.get(normalise_label(item.label))
        if class_id is None:
            continue
        region = _shape_pixels(annotation, item, shape)
        by_class[class_id] = by_class.get(class_id, np.zeros(shape, dtype=bool)) | region
    if not by_class:
        raise AnnotationError(annotation.message("no shape with a known label is left to import"))
    mask = np.full(shape, unlabeled, dtype=np.uint8)
    for class_id in PAINT_ORDER:
        if class_id in by_class:
            mask[by_class[class_id]] = class_id
    return mask


def _shape_pixels(annotation: ImageAnnotation, item: Shape, shape: tuple[int, int]) -> np.ndarray:
    if item.raster is not None:
        if item.raster.shape != shape:
            raise AnnotationError(annotation.message(
                f"{item.what}: mask is {item.raster.shape[1]}x{item.raster.shape[0]}, "
                f"the photo {shape[1]}x{shape[0]}"))
        return item.raster
    positions = [ring_position(ring, shape) for ring in item.rings]
    if all(position == "outside" for position in positions):
        raise AnnotationError(annotation.message(
            f"{item.what} lies entirely outside the {shape[1]}x{shape[0]} image "
            "(annotation made on another photo or size?)"))
    if any(position != "inside" for position in positions):
        annotation.warnings.append(annotation.message(
            f"{item.what} reaches outside the {shape[1]}x{shape[0]} image; clipped"))
    if any(self_intersects(ring) for ring in item.rings):
        annotation.warnings.append(annotation.message(
            f"{item.what} crosses itself; filled as drawn (crossed parts by the even-odd "
            "rule): check its outline"))
    return rasterize_region(item.rings, shape)
