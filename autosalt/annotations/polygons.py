"""Binary masks <-> polygon rings, exactly, in pixel-centre coordinates.

Coordinates are (x, y) with pixel (row r, column c) centred at (x=c, y=r) -- the LabelMe
convention. COCO and CVAT put pixel corners at integers; their readers and writers shift by
half a pixel (:data:`CORNER_OFFSET`).

A *region* is a list of rings combined by the even-odd rule: the first ring is the outline,
rings inside it are holes, rings inside a hole are islands, and so on. Rasterising rounds
each vertex to the nearest pixel centre, fills every ring including its boundary pixels
(``cv2.fillPoly``) and XORs the fills; this reproduces holes exactly because hole rings are
traced on the hole's own pixels (not on the pixels around it). A rater's sub-pixel outline
is therefore placed to within half a pixel.

Masks are exported with ``cv2.findContours`` (``RETR_CCOMP``): each outer boundary becomes
a region whose holes are the outlines of the non-region pixels inside it. Filling an
exported region gives back exactly the pixels it came from, so a mask -> polygons -> mask
round trip is lossless.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Vertices further out than this (in pixels) are clamped (cv2 takes 32-bit coordinates).
_FAR = 1_000_000.0
#: Add to pixel-centre coordinates to get corner-based ones (COCO, CVAT); subtract to go back.
CORNER_OFFSET = 0.5


def fill_ring(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixels (bool, shape (H, W)) whose centres lie inside or on a closed ring of (N, 2) points."""
    canvas = np.zeros(shape, dtype=np.uint8)
    if len(points) == 0 or canvas.size == 0:
        return canvas.astype(bool)
    pixels = np.floor(np.clip(np.asarray(points, dtype=np.float64), -_FAR, _FAR) + 0.5)
    cv2.fillPoly(canvas, [pixels.astype(np.int32).reshape(-1, 1, 2)], 1, lineType=cv2.LINE_8)
    return canvas.astype(bool)


def rasterize_region(rings: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Even-odd combination of rings: outline minus holes plus islands (bool (H, W))."""
    region = np.zeros(shape, dtype=bool)
    for ring in rings:
        region ^= fill_ring(ring, shape)
    return region


def _ring_points(contour: np.ndarray) -> np.ndarray:
    """A findContours contour as an (N, 2) float ring of at least 3 points.

    A 1-pixel dot or straight line comes back as 1 or 2 points; repeating them keeps it a
    valid (zero-area) polygon for annotation tools, and filling it still paints its pixels.
    """
    points = contour.reshape(-1, 2).astype(np.float64)
    if len(points) == 1:
        return np.repeat(points, 3, axis=0)
    if len(points) == 2:
        return points[[0, 1, 0]]
    return points


def _run_rings(pixels: np.ndarray) -> list[np.ndarray]:
    """One zero-area ring per horizontal run of pixels: exact whatever the shape."""
    rings = []
    for row in np.flatnonzero(pixels.any(axis=1)):
        line = np.concatenate([[0], pixels[row].astype(np.int8), [0]])
        starts = np.flatnonzero(np.diff(line) == 1)
        ends = np.flatnonzero(np.diff(line) == -1) - 1
        rings += [np.array([[start, row], [end, row], [start, row]], dtype=np.float64)
                  for start, end in zip(starts, ends, strict=True)]
    return rings


def mask_to_regions(binary: np.ndarray) -> list[list[np.ndarray]]:
    """Regions of a bool (H, W) mask: ``[[outline, hole, ...], ...]``, rings (N, 2) float x, y.

    Filling every region (:func:`rasterize_region`) and taking the union gives back exactly
    ``binary``. Holes are outlines of the 4-connected non-mask components inside an outline;
    where such an outline would also enclose mask pixels (holes touching at corners), the
    hole is written as one zero-area ring per pixel run instead, which is always exact.
    """
    binary = np.ascontiguousarray(binary, dtype=np.uint8)
    contours, hierarchy = cv2.findContours(binary, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    _, pieces = cv2.connectedComponents(binary, connectivity=8)
    regions = []
    for index, contour in enumerate(contours):
        if hierarchy[0][index][3] != -1:
            continue  # a hole boundary traced on the region's pixels: traced again below
        outline = _ring_points(contour)
        rings = [outline]
        if hierarchy[0][index][2] != -1:
            outline_fill = fill_ring(outline, binary.shape)
            start_x, start_y = contour.reshape(-1, 2)[0]
            piece = pieces == pieces[start_y, start_x]
            holes = (outline_fill & (binary == 0)).astype(np.uint8)
            count, components = cv2.connectedComponents(holes, connectivity=4)
            for label in range(1, count):
                hole = components == label
                hole_contours, _ = cv2.findContours(hole.astype(np.uint8), cv2.RETR_EXTERNAL,
                                                    cv2.CHAIN_APPROX_SIMPLE)
                ring = _ring_points(hole_contours[0])
                filled = fill_ring(ring, binary.shape)
                # Exact if the ring covers only this hole and mask pixels of other pieces
                # (islands, which are regions of their own and come back by the union).
                if (filled & ~hole & ((binary == 0) | piece)).any():
                    rings += _run_rings(hole)
                else:
                    rings.append(ring)
        regions.append(rings)
    return regions


def ring_position(points: np.ndarray, shape: tuple[int, int]) -> str:
    """``"inside"``, ``"partly"`` or ``"outside"`` the image, with half a pixel of slack."""
    height, width = shape
    x, y = points[:, 0], points[:, 1]
    out = (x < -1.0) | (x > width) | (y < -1.0) | (y > height)
    if not out.any():
        return "inside"
    if (x.max() < -0.5 or x.min() > width - 0.5 or y.max() < -0.5 or y.min() > height - 0.5):
        return "outside"
    return "partly"


def self_intersects(points: np.ndarray) -> bool:
    """True if two non-adjacent edges of a closed ring properly cross (touching is allowed)."""
    points = np.asarray(points, dtype=np.float64)
    count = len(points)
    if count < 4:
        return False
    starts, ends = points, np.roll(points, -1, axis=0)

    def orientation(a, b, c):
        return np.sign((b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1])
                       - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0]))

    for index in range(count - 2):
        others = np.arange(index + 2, count if index > 0 else count - 1)
        if len(others) == 0:
            continue
        a, b = starts[index], ends[index]
        c, d = starts[others], ends[others]
        crosses = ((orientation(a, b, c) * orientation(a, b, d) < 0)
                   & (orientation(c, d, a) * orientation(c, d, b) < 0))
        if crosses.any():
            return True
    return False
