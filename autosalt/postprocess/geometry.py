"""Head geometry for the ``surface`` method: ellipse fits, head ellipsoids, orthographic rays.

Conventions (contract section 1): head frame centred on the skull, +x the patient's left,
+y the nose, +z up, lengths in cm. Image coordinates are (x right, y down) in pixels, pixel
centres at integer + 0.5. A camera is orthographic: ``right`` and ``down`` (unit 3-vectors in
the head frame) span the image plane and ``toward`` (= right x down, negated) points from the
head to the camera.

Nothing here knows how the photos were made: the head is an ellipsoid (``CANONICAL_SEMI_AXES``
unless the ``surface`` method fits its proportions to a visit's outlines) carrying a typical
hairline, fitted per photo to the scalp silhouette by an affine map of the image plane.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from autosalt.contract import SALT_AREA_WEIGHTS

#: Canonical adult head: semi-axes (cm) along x (width), y (length), z (height).
CANONICAL_SEMI_AXES = np.array([7.6, 9.8, 11.5])

#: A typical adult hairline: azimuth (deg, 0 = nose, 90 = left ear, 180 = back) -> elevation
#: (deg) of the hairline on the head ellipsoid; mirrored to negative azimuths. Forehead high,
#: temples receding, lowest at the nape. The *area boundaries* depend on it (the share of the
#: scalp above the top plane), and the pose search of ``surface`` uses where the masks' scalp
#: ends as a cue to camera tilt; it never decides which pixels are scalp: the masks say that.
HAIRLINE_AZIMUTHS = np.array([0.0, 30.0, 50.0, 70.0, 85.0, 110.0, 140.0, 180.0])
HAIRLINE_ELEVATIONS = np.array([36.0, 32.0, 24.0, 4.0, -10.0, -18.0, -28.0, -35.0])
EAR_AZIMUTH, EAR_ELEVATION, EAR_CLEARANCE = 97.0, -14.0, 14.0  # deg


@dataclass(frozen=True)
class Ellipse:
    """An image ellipse: centre (x, y) px, semi-axes (major >= minor) px, angle of the major axis
    (rad, from image +x towards +y)."""

    centre: np.ndarray
    semi_axes: np.ndarray
    angle: float

    def basis(self) -> np.ndarray:
        """(2, 2) matrix L with ellipse = {centre + L q : |q| <= 1}."""
        c, s = np.cos(self.angle), np.sin(self.angle)
        return np.array([[c, -s], [s, c]]) @ np.diag(self.semi_axes)


def transform(matrix: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``vectors @ matrix.T`` for many short vectors (N, k), without BLAS.

    A BLAS call on an (N, 2) x (2, 2) product is slow and, on a shared machine, fights for
    threads; k is at most 3 here, so explicit sums are faster.
    """
    return np.stack([sum(matrix[row, col] * vectors[:, col] for col in range(matrix.shape[1]))
                     for row in range(matrix.shape[0])], axis=1)


def lengths(vectors: np.ndarray) -> np.ndarray:
    """Euclidean lengths (N,) of 2-vectors (N, 2), faster than np.hypot."""
    return np.sqrt(vectors[:, 0] * vectors[:, 0] + vectors[:, 1] * vectors[:, 1])


class FitError(ValueError):
    """The silhouette does not give a usable ellipse."""


def fit_ellipse(points: np.ndarray) -> Ellipse:
    """Least-squares ellipse through 2-D points (N, 2) px (Halir & Flusser's direct fit).

    Raises FitError when the points do not define an ellipse (too few, collinear, hyperbola).
    """
    if len(points) < 6:
        raise FitError(f"only {len(points)} silhouette points")
    mean = points.mean(axis=0)
    scale = float(points.std()) or 1.0
    x, y = ((points - mean) / scale).T  # normalised for conditioning
    quadratic = np.stack([x * x, x * y, y * y], axis=1)
    linear = np.stack([x, y, np.ones_like(x)], axis=1)
    s1, s2, s3 = quadratic.T @ quadratic, quadratic.T @ linear, linear.T @ linear
    try:
        t = -np.linalg.solve(s3, s2.T)
    except np.linalg.LinAlgError as error:
        raise FitError("silhouette points are degenerate") from error
    m = s1 + s2 @ t
    m = np.array([m[2] / 2, -m[1], m[0] / 2])
    eigenvalues, eigenvectors = np.linalg.eig(m)
    eigenvectors = np.real(eigenvectors)
    condition = 4 * eigenvectors[0] * eigenvectors[2] - eigenvectors[1] ** 2
    candidates = np.flatnonzero(condition > 0)
    if candidates.size == 0:
        raise FitError("silhouette is not elliptic")
    a1 = eigenvectors[:, candidates[0]]
    a, b, c, d, e, f = np.concatenate([a1, t @ a1])
    # Conic a x^2 + b xy + c y^2 + d x + e y + f = 0 -> centre, axes, angle.
    quad = np.array([[a, b / 2], [b / 2, c]])
    try:
        centre = np.linalg.solve(quad, -0.5 * np.array([d, e]))
    except np.linalg.LinAlgError as error:
        raise FitError("silhouette is not elliptic") from error
    value = f + 0.5 * (d * centre[0] + e * centre[1])
    eigenvalues, axes = np.linalg.eigh(quad / -value)
    if np.any(eigenvalues <= 0):
        raise FitError("silhouette is not elliptic")
    semi = 1.0 / np.sqrt(eigenvalues)  # ascending eigenvalue = major axis first
    angle = float(np.arctan2(axes[1, 0], axes[0, 0]))
    return Ellipse(centre * scale + mean, semi * scale, angle)


def cross3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product of two 3-vectors (faster than np.cross on single vectors)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2],
                     a[0] * b[1] - a[1] * b[0]])


@dataclass(frozen=True)
class OrthoCamera:
    """An orthographic camera in the head frame: image right and down (unit 3-vectors)."""

    right: np.ndarray
    down: np.ndarray

    @property
    def toward(self) -> np.ndarray:
        """Unit vector from the head to the camera."""
        return -cross3(self.right, self.down)

    @staticmethod
    def looking_from(toward: np.ndarray, image_up: np.ndarray) -> OrthoCamera:
        """Camera on the ``toward`` side of the head with ``image_up`` (head frame) shown up."""
        return OrthoCamera(*camera_axes(toward, image_up))


def camera_axes(toward: np.ndarray, image_up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Image right and down (..., 3) of the cameras on the ``toward`` (..., 3) side of the head
    with ``image_up`` (3,) shown up; many at once for the pose search."""
    toward = toward / np.linalg.norm(toward, axis=-1, keepdims=True)
    up = image_up - toward * (toward @ image_up)[..., None]
    up = up / np.linalg.norm(up, axis=-1, keepdims=True)
    return np.cross(up, toward), -up  # right x down = forward = -toward


def silhouette_basis(camera: OrthoCamera, semi_axes: np.ndarray) -> np.ndarray:
    """(2, 2) symmetric L with the ellipsoid's silhouette = {L q : |q| <= 1} (cm, image plane)."""
    return silhouette_bases(camera.right, camera.down, camera.toward, semi_axes)


def silhouette_bases(right: np.ndarray, down: np.ndarray, toward: np.ndarray,
                     semi_axes: np.ndarray) -> np.ndarray:
    """``silhouette_basis`` (..., 2, 2) of cameras given by their unit axes (..., 3)."""
    shape = 1.0 / semi_axes ** 2
    plane = np.stack([right, down], axis=-2)  # (..., 2, 3)
    # The silhouette's quadratic form, plane (S - S d d^T S / d^T S d) plane^T.
    along = (plane * (shape * toward)[..., None, :]).sum(axis=-1)
    form = ((plane * shape) @ np.swapaxes(plane, -1, -2)
            - along[..., :, None] * along[..., None, :]
            / (toward * shape * toward).sum(axis=-1)[..., None, None])
    # L = form^(-1/2); for a 2x2 positive definite F, sqrt(F) = (F + s I) / t with
    # s = sqrt(det F), t = sqrt(trace F + 2 s), so L = t (F + s I)^-1.
    f00, f01, f10, f11 = form[..., 0, 0], form[..., 0, 1], form[..., 1, 0], form[..., 1, 1]
    root_det = np.sqrt(f00 * f11 - f01 * f10)
    scale = np.sqrt(f00 + f11 + 2.0 * root_det) / ((f00 + root_det) * (f11 + root_det) - f01 * f10)
    return scale[..., None, None] * np.stack([np.stack([f11 + root_det, -f01], axis=-1),
                                              np.stack([-f10, f00 + root_det], axis=-1)], axis=-2)


def cast_rays(camera: OrthoCamera, semi_axes: np.ndarray, plane_points: np.ndarray,
              with_normals: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Surface points and outward unit normals (N, 3) hit by orthographic rays.

    ``plane_points`` (N, 2) cm are image-plane coordinates relative to the head centre; rays
    missing the ellipsoid (outside the silhouette) are moved onto the silhouette. Normals are
    None when ``with_normals`` is False (the pose search needs only the points).
    """
    shape = 1.0 / semi_axes ** 2
    d = camera.toward
    u, v = plane_points[:, 0], plane_points[:, 1]
    # Coordinates apart: (N, 1) x (3,) broadcasts cost several times more on large N.
    origins = [u * camera.right[k] + v * camera.down[k] for k in range(3)]
    # |o + t d|_S^2 = 1: a t^2 + 2 b t + c = 0; the camera-side root is the larger t.
    a = d @ (shape * d)
    b = sum(shape[k] * d[k] * origins[k] for k in range(3))
    c = sum(shape[k] * origins[k] * origins[k] for k in range(3)) - 1.0
    t = (-b + np.sqrt(np.maximum(b * b - a * c, 0.0))) / a
    coordinates = [origins[k] + t * d[k] for k in range(3)]
    points = np.stack(coordinates, axis=1)
    if not with_normals:
        return points, None
    gradient = [coordinates[k] * shape[k] for k in range(3)]
    inverse_norm = 1.0 / np.sqrt(sum(g * g for g in gradient))
    return points, np.stack([g * inverse_norm for g in gradient], axis=1)


@dataclass(frozen=True)
class Boundaries:
    """The contract's area boundaries on a head ellipsoid, in normalised height.

    ``top``: points with z / c > ``top_height``; ``back``: the rest within ``back_half_angle``
    (deg) of straight back (azimuth about the vertical axis); ``left``/``right``: the rest by x.
    """

    top_height: float
    back_half_angle: float

    def area_index(self, points: np.ndarray, semi_axes: np.ndarray) -> np.ndarray:
        """0 top, 1 left, 2 right, 3 back (the order of ``VIEWS``) for points (N, 3) cm."""
        azimuth = np.degrees(np.arctan2(points[:, 0], points[:, 1]))
        index = np.where(points[:, 0] > 0, 1, 2)
        index = np.where(180.0 - np.abs(azimuth) <= self.back_half_angle, 3, index)
        return np.where(points[:, 2] / semi_axes[2] > self.top_height, 0, index).astype(np.int8)


#: The hairline's knots mirrored to negative azimuths (rad), and the ears' unit directions
#: (2, 3), for ``canonical_is_scalp`` (thousands of calls a photo in the pose search).
_HAIRLINE_KNOTS_AZ = np.radians(np.concatenate([-HAIRLINE_AZIMUTHS[:0:-1], HAIRLINE_AZIMUTHS]))
_HAIRLINE_KNOTS_EL = np.radians(np.concatenate([HAIRLINE_ELEVATIONS[:0:-1], HAIRLINE_ELEVATIONS]))
_EAR_DIRECTIONS = np.array([[side * np.sin(np.radians(EAR_AZIMUTH)) * np.cos(np.radians(EAR_ELEVATION)),
                             np.cos(np.radians(EAR_AZIMUTH)) * np.cos(np.radians(EAR_ELEVATION)),
                             np.sin(np.radians(EAR_ELEVATION))] for side in (1, -1)])


def canonical_is_scalp(points: np.ndarray) -> np.ndarray:
    """Boolean (...,): inside the canonical hairline and clear of the ears, for points or
    directions (..., 3) in the head frame (only their direction matters)."""
    return canonical_is_scalp_xyz(points[..., 0], points[..., 1], points[..., 2])


def canonical_is_scalp_xyz(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``canonical_is_scalp`` for the coordinates given apart (...,) each, as the pose search
    holds them."""
    norm = np.sqrt(x * x + y * y + z * z)
    # elevation > hairline(azimuth), as sines (no arcsin, no division by the norm).
    hairline = np.interp(np.arctan2(x, y), _HAIRLINE_KNOTS_AZ, _HAIRLINE_KNOTS_EL)
    scalp = z > norm * np.sin(hairline)
    limit = np.cos(np.radians(EAR_CLEARANCE)) * norm
    for ear in _EAR_DIRECTIONS:
        scalp &= ear[0] * x + ear[1] * y + ear[2] * z < limit
    return scalp


def area_boundaries(semi_axes: np.ndarray) -> Boundaries:
    """Area boundaries (contract 1) of the ellipsoid with ``semi_axes`` (3,) cm and the typical
    hairline: the top plane leaves 40% of its scalp surface above, the back wedge takes 24%.

    They depend on the proportions only; cached per proportions (a few ms each).
    """
    return _area_boundaries(float(semi_axes[0] / semi_axes[1]), float(semi_axes[2] / semi_axes[1]))


@lru_cache(maxsize=256)
def _area_boundaries(width_to_length: float, height_to_length: float,
                     resolution_deg: float = 1.0) -> Boundaries:
    """``area_boundaries`` of the head with semi-axes (width_to_length, 1, height_to_length).

    Integrates over the ellipsoid's own angles, p = (a cos t sin f, b cos t cos f, c sin t):
    a row of t is a band of constant height z / c = sin t, and a column of f one of constant
    azimuth atan2(a sin f, b cos f), so both boundaries are read off cumulative sums and
    interpolated within the cell they cross. Only the left half (f in 0..180 deg) is
    integrated: the head and the hairline are symmetric.
    """
    a, b, c = width_to_length, 1.0, height_to_length
    step = np.radians(resolution_deg)
    t = np.arange(np.pi / 2 - step / 2, -np.pi / 2, -step)[:, None]  # rows, from the vertex down
    f = np.arange(step / 2, np.pi, step)[None, :]
    cos_t, sin_t, cos_f, sin_f = np.cos(t), np.sin(t), np.cos(f), np.sin(f)
    points = np.stack(np.broadcast_arrays(a * cos_t * sin_f, b * cos_t * cos_f, c * sin_t), -1)
    # |dp/df x dp/dt| dt df
    areas = cos_t * np.sqrt(c * c * cos_t ** 2 * (b * b * sin_f ** 2 + a * a * cos_f ** 2)
                            + a * a * b * b * sin_t ** 2) * step * step
    areas = np.where(canonical_is_scalp(points), areas, 0.0)
    total = areas.sum()
    # Top: rows from the vertex down until 40% of the scalp; the crossing row is cut at the
    # fraction ``row_part`` of its area (in t, counted from its upper edge).
    above = np.concatenate([[0.0], np.cumsum(areas.sum(axis=1))])
    row = int(np.searchsorted(above, SALT_AREA_WEIGHTS["top"] * total)) - 1
    row_areas = areas[row].sum()
    row_part = (SALT_AREA_WEIGHTS["top"] * total - above[row]) / row_areas if row_areas else 0.0
    top_height = np.sin(t[row, 0] + step / 2 - row_part * step)
    # Back: of the scalp below the top plane, columns from straight back (f = 180 deg) on.
    below = areas[row + 1:].sum(axis=0) + (1.0 - row_part) * areas[row]
    from_back = np.concatenate([[0.0], np.cumsum(below[::-1])])
    column = int(np.searchsorted(from_back, SALT_AREA_WEIGHTS["back"] * total)) - 1
    column_area = below[::-1][column]
    column_part = ((SALT_AREA_WEIGHTS["back"] * total - from_back[column]) / column_area
                   if column_area else 0.0)
    edge = np.pi - (column + column_part) * step  # f of the back wedge's edge
    half_angle = 180.0 - np.degrees(np.arctan2(a * np.sin(edge), b * np.cos(edge)))
    return Boundaries(float(top_height), float(half_angle))
