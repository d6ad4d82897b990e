"""Head geometry for the ``surface`` method: ellipse fits, a canonical head, orthographic rays.

Conventions (contract section 1): head frame centred on the skull, +x the patient's left,
+y the nose, +z up, lengths in cm. Image coordinates are (x right, y down) in pixels, pixel
centres at integer + 0.5. A camera is orthographic: ``right`` and ``down`` (unit 3-vectors in
the head frame) span the image plane and ``toward`` (= right x down, negated) points from the
head to the camera.

Nothing here knows how the photos were made: the head is a canonical ellipsoid of adult
proportions, fitted per photo to the scalp silhouette by an affine map of the image plane.
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
    """Cross product of two 3-vectors (np.cross costs ~10x more on single vectors)."""
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
        toward = toward / np.linalg.norm(toward)
        up = image_up - toward * (image_up @ toward)
        up /= np.linalg.norm(up)
        right = cross3(up, toward)  # right x down = forward = -toward
        return OrthoCamera(right, -up)


def silhouette_basis(camera: OrthoCamera, semi_axes: np.ndarray) -> np.ndarray:
    """(2, 2) symmetric L with the ellipsoid's silhouette = {L q : |q| <= 1} (cm, image plane)."""
    shape = np.diag(1.0 / semi_axes ** 2)
    d = camera.toward
    projected = shape - np.outer(shape @ d, shape @ d) / (d @ shape @ d)
    plane = np.stack([camera.right, camera.down], axis=1)  # (3, 2)
    form = plane.T @ projected @ plane
    eigenvalues, vectors = np.linalg.eigh(form)
    return vectors @ np.diag(1.0 / np.sqrt(eigenvalues)) @ vectors.T


def cast_rays(camera: OrthoCamera, semi_axes: np.ndarray, plane_points: np.ndarray,
              with_normals: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Surface points and outward unit normals (N, 3) hit by orthographic rays.

    ``plane_points`` (N, 2) cm are image-plane coordinates relative to the head centre; rays
    missing the ellipsoid (outside the silhouette) are moved onto the silhouette. Normals are
    None when ``with_normals`` is False (the pose search needs only the points).
    """
    shape = 1.0 / semi_axes ** 2
    d = camera.toward
    origins = plane_points[:, :1] * camera.right + plane_points[:, 1:] * camera.down
    # |o + t d|_S^2 = 1: a t^2 + 2 b t + c = 0; the camera-side root is the larger t.
    a = d @ (shape * d)
    b = transform((shape * d)[None, :], origins)[:, 0]
    c = np.einsum("ij,ij->i", origins * shape, origins) - 1.0
    t = (-b + np.sqrt(np.maximum(b * b - a * c, 0.0))) / a
    points = origins + t[:, None] * d
    if not with_normals:
        return points, None
    normals = points * shape
    normals /= np.sqrt((normals ** 2).sum(axis=1, keepdims=True))
    return points, normals


@dataclass(frozen=True)
class Boundaries:
    """The contract's area boundaries on the canonical ellipsoid, in normalised height.

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


def canonical_is_scalp(points: np.ndarray) -> np.ndarray:
    """Boolean (...,): inside the canonical hairline and clear of the ears, for points or
    directions (..., 3) in the head frame (only their direction matters)."""
    directions = points / np.maximum(np.linalg.norm(points, axis=-1, keepdims=True), 1e-12)
    azimuth = np.degrees(np.arctan2(directions[..., 0], directions[..., 1]))
    elevation = np.degrees(np.arcsin(np.clip(directions[..., 2], -1.0, 1.0)))
    knots_az = np.concatenate([-HAIRLINE_AZIMUTHS[:0:-1], HAIRLINE_AZIMUTHS])
    knots_el = np.concatenate([HAIRLINE_ELEVATIONS[:0:-1], HAIRLINE_ELEVATIONS])
    scalp = elevation > np.interp(azimuth, knots_az, knots_el)
    ear_cos = np.cos(np.radians(EAR_CLEARANCE))
    for side in (1, -1):
        ear_az, ear_el = np.radians(side * EAR_AZIMUTH), np.radians(EAR_ELEVATION)
        ear = np.array([np.sin(ear_az) * np.cos(ear_el), np.cos(ear_az) * np.cos(ear_el),
                        np.sin(ear_el)])
        scalp &= directions @ ear < ear_cos
    return scalp


@lru_cache(maxsize=1)
def canonical_boundaries(resolution_deg: float = 1.0) -> Boundaries:
    """Area boundaries of the canonical head with the typical hairline (computed once)."""
    elevations = np.radians(np.arange(-90 + resolution_deg / 2, 90, resolution_deg))
    azimuths = np.radians(np.arange(-180 + resolution_deg / 2, 180, resolution_deg))
    az, el = np.meshgrid(azimuths, elevations)
    directions = np.stack([np.sin(az) * np.cos(el), np.cos(az) * np.cos(el), np.sin(el)], -1)
    semi = CANONICAL_SEMI_AXES
    # Parametrise the ellipsoid by the direction's point scaled onto it; cell area by the
    # surface element |dp/daz x dp/del| from finite differences.
    radius = 1.0 / np.sqrt(((directions / semi) ** 2).sum(-1))
    points = directions * radius[..., None]
    step = np.radians(resolution_deg)
    d_az = np.gradient(points, step, axis=1)
    d_el = np.gradient(points, step, axis=0)
    areas = np.linalg.norm(np.cross(d_az, d_el), axis=-1) * step * step
    scalp = canonical_is_scalp(directions)
    points, areas = points[scalp], areas[scalp]
    total = areas.sum()
    order = np.argsort(-points[:, 2])
    cumulative = np.cumsum(areas[order])
    top_z = points[order[np.searchsorted(cumulative, SALT_AREA_WEIGHTS["top"] * total)], 2]
    below = points[:, 2] <= top_z
    from_back = 180.0 - np.abs(np.degrees(np.arctan2(points[below, 0], points[below, 1])))
    order = np.argsort(from_back)
    cumulative = np.cumsum(areas[below][order])
    half_angle = from_back[order[np.searchsorted(cumulative, SALT_AREA_WEIGHTS["back"] * total)]]
    return Boundaries(float(top_z / semi[2]), float(half_angle))
