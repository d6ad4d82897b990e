"""The synthetic head: shape, hairline, SALT areas, and the surface integral that is the truth.

Head frame (contract section 1): origin at the skull centre, +x the patient's left, +y the
nose, +z up; lengths in cm. The head surface is star-shaped about the origin,
``p(u) = r(u) * u`` for unit directions ``u``, where ``r`` is an ellipsoid (narrowed at the
jaw) times a smooth low-order polynomial perturbation, so no two heads share one shape.

Angles: ``azimuth`` is measured about +z from the nose (0 deg) towards the patient's left
(+90 deg), back is +-180 deg; ``elevation`` is the angle of ``u`` above the horizontal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from autosalt.contract import SALT_AREA_WEIGHTS, VIEWS

#: Monomials of the unit direction used for the shape perturbation (exponents of x, y, z).
SHAPE_MONOMIALS: tuple[tuple[int, int, int], ...] = (
    (0, 0, 1), (0, 1, 0), (1, 0, 0), (2, 0, 0), (0, 2, 0), (0, 0, 2), (0, 1, 1), (1, 1, 0),
    (1, 0, 1), (0, 3, 0), (0, 0, 3), (0, 2, 1), (2, 0, 1), (0, 1, 2), (1, 2, 0), (2, 1, 0),
)
#: Left-right asymmetric monomials (odd in x) get a smaller share: heads are nearly symmetric.
_ASYMMETRIC = np.array([m[0] % 2 == 1 for m in SHAPE_MONOMIALS])

#: Hairline control points: azimuth (deg) -> elevation (deg) of the hairline, mirrored to
#: negative azimuths. Forehead high, sideburns low in front of the ears, nape lowest.
HAIRLINE_AZIMUTHS = np.array([0.0, 30.0, 50.0, 68.0, 82.0, 110.0, 140.0, 180.0])
HAIRLINE_ELEVATIONS = np.array([38.0, 34.0, 25.0, 2.0, -12.0, -18.0, -28.0, -36.0])


def unit_directions_from_angles(azimuth_deg: np.ndarray, elevation_deg: np.ndarray) -> np.ndarray:
    """Unit vectors (..., 3) in the head frame from azimuth/elevation in degrees."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    return np.stack([np.sin(az) * np.cos(el), np.cos(az) * np.cos(el), np.sin(el)], axis=-1)


def azimuth_elevation(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Azimuth and elevation (deg) of points or directions (..., 3) seen from the origin."""
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    azimuth = np.degrees(np.arctan2(x, y))
    elevation = np.degrees(np.arctan2(z, np.hypot(x, y)))
    return azimuth, elevation


@dataclass
class Head:
    """A head's geometry: shape, ears, nose, hairline; everything the truth depends on."""

    semi_axes: tuple[float, float, float] = (7.6, 9.8, 11.5)  # cm, along x, y, z
    jaw_narrowing: float = 0.22  # fraction the width shrinks towards the chin
    shape_coefficients: np.ndarray = field(default_factory=lambda: np.zeros(len(SHAPE_MONOMIALS)))
    hairline_offsets: np.ndarray = field(default_factory=lambda: np.zeros(len(HAIRLINE_AZIMUTHS)))
    hairline_asymmetry: float = 0.0  # deg added on the left, removed on the right
    ear_azimuth: float = 97.0  # deg, ear centre (mirrored for the right ear)
    ear_elevation: float = -14.0  # deg
    ear_clearance: float = 17.0  # deg of hairless skin around and behind the ear

    @staticmethod
    def random(rng: np.random.Generator, irregularity: float = 1.0) -> Head:
        """A plausible adult head; ``irregularity`` scales the departure from an ellipsoid."""
        width = rng.uniform(7.0, 8.2)
        coefficients = rng.normal(0.0, 0.025 * irregularity, len(SHAPE_MONOMIALS))
        coefficients[_ASYMMETRIC] *= 0.3
        return Head(
            semi_axes=(width, width * rng.uniform(1.17, 1.38), rng.uniform(10.8, 12.3)),
            jaw_narrowing=rng.uniform(0.12, 0.32),
            shape_coefficients=coefficients,
            hairline_offsets=rng.normal(0.0, 3.5, len(HAIRLINE_AZIMUTHS))
            + np.where(HAIRLINE_AZIMUTHS < 60, rng.uniform(-3, 10), 0.0),  # receding fronts
            hairline_asymmetry=rng.normal(0.0, 1.5),
            ear_azimuth=rng.uniform(92.0, 103.0),
            ear_elevation=rng.uniform(-18.0, -9.0),
            ear_clearance=rng.uniform(11.0, 16.0),
        )

    # ------------------------------------------------------------------ shape

    def bounding_scale(self) -> float:
        """A factor k so that ``r(u) <= k * ellipsoid(u)`` everywhere (for ray bounds)."""
        return 1.0 + float(np.abs(self.shape_coefficients).sum()) + 1e-3

    def radius(self, directions: np.ndarray) -> np.ndarray:
        """Surface radius (cm) along unit directions (..., 3)."""
        x, y, z = directions[..., 0], directions[..., 1], directions[..., 2]
        a, b, c = self.semi_axes
        jaw = 1.0 - self.jaw_narrowing * np.clip(-z, 0.0, 1.0) ** 2
        ellipsoid = 1.0 / np.sqrt((x / (a * jaw)) ** 2 + (y / b) ** 2 + (z / c) ** 2)
        # Powers computed once: this function is the renderer's inner loop.
        powers_x = (1.0, x, x * x, x * x * x)
        powers_y = (1.0, y, y * y, y * y * y)
        powers_z = (1.0, z, z * z, z * z * z)
        perturbation = 1.0
        for coefficient, (i, j, k) in zip(self.shape_coefficients, SHAPE_MONOMIALS):
            perturbation = perturbation + coefficient * (powers_x[i] * powers_y[j] * powers_z[k])
        return ellipsoid * perturbation

    def signed_distance_like(self, points: np.ndarray) -> np.ndarray:
        """``|p| - r(p/|p|)``: negative inside the head, zero on its surface (cm, not metric)."""
        norm = np.linalg.norm(points, axis=-1)
        return norm - self.radius(points / np.maximum(norm, 1e-9)[..., None])

    def normals(self, points: np.ndarray, step: float = 1e-3) -> np.ndarray:
        """Outward unit normals at surface points (..., 3), by central differences."""
        gradient = np.empty_like(points)
        for axis in range(3):
            offset = np.zeros(3)
            offset[axis] = step
            gradient[..., axis] = (self.signed_distance_like(points + offset)
                                   - self.signed_distance_like(points - offset))
        return gradient / np.maximum(np.linalg.norm(gradient, axis=-1, keepdims=True), 1e-12)

    # --------------------------------------------------------------- hairline

    def hairline_elevation(self, azimuth_deg: np.ndarray) -> np.ndarray:
        """Elevation (deg) of the hairline at each azimuth (deg)."""
        knots_az = np.concatenate([-HAIRLINE_AZIMUTHS[:0:-1], HAIRLINE_AZIMUTHS])
        offsets = HAIRLINE_ELEVATIONS + self.hairline_offsets
        knots_el = np.concatenate([offsets[:0:-1], offsets])
        elevation = np.interp(azimuth_deg, knots_az, knots_el)
        return elevation + self.hairline_asymmetry * np.sin(np.radians(azimuth_deg))

    def ear_centres(self) -> np.ndarray:
        """Unit directions (2, 3) of the left (+x) and right ear centres."""
        return unit_directions_from_angles(np.array([self.ear_azimuth, -self.ear_azimuth]),
                                           np.array([self.ear_elevation, self.ear_elevation]))

    def is_scalp(self, directions: np.ndarray) -> np.ndarray:
        """True where the direction's surface point lies inside the hairline."""
        azimuth, elevation = azimuth_elevation(directions)
        scalp = elevation > self.hairline_elevation(azimuth)
        ear_cos = np.cos(np.radians(self.ear_clearance))
        for ear in self.ear_centres():
            scalp &= directions @ ear < ear_cos
        return scalp


@dataclass(frozen=True)
class AreaBoundaries:
    """The contract's SALT area boundaries for one head.

    ``top``: surface points with z > ``top_plane_z`` (cm); ``back``: the rest of the scalp
    within ``back_half_angle`` (deg) of azimuth 180; ``left``/``right``: the remainder, split
    by x (the patient's left is +x).
    """

    top_plane_z: float
    back_half_angle: float

    def area_index(self, points: np.ndarray) -> np.ndarray:
        """Index into ``VIEWS`` (0 top, 1 left, 2 right, 3 back) for surface points (..., 3)."""
        azimuth, _ = azimuth_elevation(points)
        from_back = 180.0 - np.abs(azimuth)
        index = np.where(points[..., 0] > 0, 1, 2)
        index = np.where(from_back <= self.back_half_angle, 3, index)
        return np.where(points[..., 2] > self.top_plane_z, 0, index).astype(np.int8)


@dataclass(frozen=True)
class SurfaceSamples:
    """The head surface as small cells: centre points (N, 3), directions (N, 3), areas (N,) cm^2."""

    points: np.ndarray
    directions: np.ndarray
    areas: np.ndarray


def surface_cells(head: Head, resolution_deg: float = 0.5) -> SurfaceSamples:
    """Tessellate the head on an azimuth x elevation grid; cell areas from their corner quads."""
    elevations = np.arange(-90.0, 90.0 + 1e-9, resolution_deg)
    azimuths = np.arange(-180.0, 180.0 + 1e-9, resolution_deg)
    az_grid, el_grid = np.meshgrid(azimuths, elevations)
    corner_dirs = unit_directions_from_angles(az_grid, el_grid)
    corners = corner_dirs * head.radius(corner_dirs)[..., None]
    diagonal_a = corners[1:, 1:] - corners[:-1, :-1]
    diagonal_b = corners[1:, :-1] - corners[:-1, 1:]
    areas = 0.5 * np.linalg.norm(np.cross(diagonal_a, diagonal_b), axis=-1)
    centre_dirs = unit_directions_from_angles(0.5 * (az_grid[1:, 1:] + az_grid[:-1, :-1]),
                                              0.5 * (el_grid[1:, 1:] + el_grid[:-1, :-1]))
    centres = centre_dirs * head.radius(centre_dirs)[..., None]
    return SurfaceSamples(centres.reshape(-1, 3), centre_dirs.reshape(-1, 3), areas.reshape(-1))


def area_boundaries(points: np.ndarray, areas: np.ndarray) -> AreaBoundaries:
    """Boundaries that give top 40% and back 24% of the scalp area (points: scalp cells)."""
    total = areas.sum()
    order = np.argsort(-points[:, 2])
    cumulative = np.cumsum(areas[order])
    top_count = int(np.searchsorted(cumulative, SALT_AREA_WEIGHTS["top"] * total))
    top_plane_z = float(points[order[min(top_count, len(order) - 1)], 2])
    below = points[:, 2] <= top_plane_z
    azimuth, _ = azimuth_elevation(points[below])
    from_back = 180.0 - np.abs(azimuth)
    order_back = np.argsort(from_back)
    cumulative_back = np.cumsum(areas[below][order_back])
    back_count = int(np.searchsorted(cumulative_back, SALT_AREA_WEIGHTS["back"] * total))
    back_half_angle = float(from_back[order_back[min(back_count, len(order_back) - 1)]])
    return AreaBoundaries(top_plane_z, back_half_angle)


def integrate_views(area_index: np.ndarray, loss: np.ndarray, areas: np.ndarray) -> dict[str, float]:
    """Area-weighted mean loss (percent) per view, from scalp samples (N,) each."""
    values = {}
    for index, view in enumerate(VIEWS):
        inside = area_index == index
        weight = areas[inside].sum()
        values[view] = float(100.0 * (loss[inside] * areas[inside]).sum() / weight) if weight else 0.0
    return values
