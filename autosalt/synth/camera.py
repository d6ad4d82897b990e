"""The synthetic photo's camera and the scene its rays hit: the head, nose, ears, neck and torso."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autosalt.synth.head import Head


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector, axis=-1, keepdims=True)


def rotate_about_z(vector: np.ndarray, degrees: float) -> np.ndarray:
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ vector


@dataclass
class Camera:
    """Pinhole camera: rows of ``rotation`` are the camera's right, down and forward axes."""

    rotation: np.ndarray  # (3, 3) world -> camera
    position: np.ndarray  # (3,) cm, head frame
    focal: float  # px
    centre: tuple[float, float]  # principal point (x, y) px
    size: tuple[int, int]  # (height, width) px
    mirrored: bool = False  # the saved photo is flipped left-right (selfie cameras)

    @staticmethod
    def look_at(position: np.ndarray, target: np.ndarray, up: np.ndarray, roll_deg: float,
                focal: float, size: tuple[int, int], mirrored: bool = False) -> Camera:
        forward = unit(target - position)
        right = unit(np.cross(forward, up))
        down = np.cross(forward, right)
        angle = np.radians(roll_deg)
        right, down = (np.cos(angle) * right + np.sin(angle) * down,
                       -np.sin(angle) * right + np.cos(angle) * down)
        height, width = size
        return Camera(np.stack([right, down, forward]), position.astype(float), float(focal),
                      (width / 2.0, height / 2.0), size, mirrored)

    def ray_directions(self) -> np.ndarray:
        """Unit ray directions (H, W, 3) in the head frame, one per pixel centre."""
        height, width = self.size
        xs = (np.arange(width, dtype=np.float64) + 0.5 - self.centre[0]) / self.focal
        ys = (np.arange(height, dtype=np.float64) + 0.5 - self.centre[1]) / self.focal
        grid_x, grid_y = np.meshgrid(xs, ys)
        camera_dirs = np.stack([grid_x, grid_y, np.ones_like(grid_x)], axis=-1)
        return unit(camera_dirs @ self.rotation)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (..., 2) and depth (...,) of head-frame points (before mirroring)."""
        camera_points = (points - self.position) @ self.rotation.T
        depth = camera_points[..., 2]
        pixels = camera_points[..., :2] / depth[..., None] * self.focal + np.array(self.centre)
        return pixels, depth

    def to_dict(self) -> dict:
        return {"rotation": self.rotation.tolist(), "position": self.position.tolist(),
                "focal": self.focal, "centre": list(self.centre), "size": list(self.size),
                "mirrored": self.mirrored}


@dataclass(frozen=True)
class Ellipsoid:
    centre: np.ndarray
    axes: np.ndarray  # (3, 3) rows = unit axes
    radii: np.ndarray  # (3,)

    def intersect(self, origin: np.ndarray, directions: np.ndarray) -> np.ndarray:
        """Nearest positive ray parameter (N,) or inf on a miss."""
        local_origin = (self.axes @ (origin - self.centre)) / self.radii
        local_dirs = (directions @ self.axes.T) / self.radii
        a = np.einsum("ij,ij->i", local_dirs, local_dirs)
        b = 2.0 * local_dirs @ local_origin
        c = local_origin @ local_origin - 1.0
        discriminant = b * b - 4 * a * c
        t = np.full(len(directions), np.inf)
        hit = discriminant > 0
        t_hit = (-b[hit] - np.sqrt(discriminant[hit])) / (2 * a[hit])
        t[hit] = np.where(t_hit > 0, t_hit, np.inf)
        return t


def _axis_aligned(centre, radii) -> Ellipsoid:
    return Ellipsoid(np.asarray(centre, float), np.eye(3), np.asarray(radii, float))


def intersect_head(head: Head, origin: np.ndarray, directions: np.ndarray,
                   samples: int = 8, bisections: int = 9) -> np.ndarray:
    """First ray parameter (N,) where rays enter the head surface, inf on a miss.

    Rays are clipped to the bounding ellipsoid, sampled up to their closest approach to the
    skull centre until the surface is crossed, and the crossing is refined by bisection.
    """
    bound = _axis_aligned((0, 0, 0), np.array(head.semi_axes) * head.bounding_scale())
    t_enter = bound.intersect(origin, directions)
    result = np.full(len(directions), np.inf)
    candidates = np.flatnonzero(np.isfinite(t_enter))
    if candidates.size == 0:
        return result
    dirs = directions[candidates]
    start = t_enter[candidates]
    closest = np.maximum(-(dirs @ origin), start)
    fractions = np.linspace(0.0, 1.0, samples + 1)[1:]
    t_samples = start[:, None] + (closest - start)[:, None] * fractions[None, :]
    values = head.signed_distance_like(origin + t_samples[..., None] * dirs[:, None, :])
    inside = values < 0
    hit = inside.any(axis=1)
    first = np.argmax(inside, axis=1)
    rows = np.flatnonzero(hit)
    high = t_samples[rows, first[rows]]
    low = np.where(first[rows] > 0, t_samples[rows, np.maximum(first[rows] - 1, 0)], start[rows])
    hit_dirs = dirs[rows]
    for _ in range(bisections):
        middle = 0.5 * (low + high)
        is_inside = head.signed_distance_like(origin + middle[:, None] * hit_dirs) < 0
        high = np.where(is_inside, middle, high)
        low = np.where(is_inside, low, middle)
    result[candidates[rows]] = 0.5 * (low + high)
    return result


def intersect_vertical_cylinder(origin, directions, centre_xy, radius, z_max) -> np.ndarray:
    dx, dy = directions[:, 0], directions[:, 1]
    ox, oy = origin[0] - centre_xy[0], origin[1] - centre_xy[1]
    a = dx * dx + dy * dy
    b = 2 * (ox * dx + oy * dy)
    c = ox * ox + oy * oy - radius * radius
    discriminant = b * b - 4 * a * c
    t = np.full(len(directions), np.inf)
    ok = (discriminant > 0) & (a > 1e-12)
    t_near = (-b[ok] - np.sqrt(discriminant[ok])) / (2 * a[ok])
    z = origin[2] + t_near * directions[ok, 2]
    t[ok] = np.where((t_near > 0) & (z < z_max), t_near, np.inf)
    return t


# Object ids in the rendered id map.
BACKDROP, HEAD, NOSE, EAR, NECK, TORSO = range(6)


def scene_objects(head: Head):
    """The nose, the two ears (ellipsoids), the neck (centre xy, radius, top z) and the torso."""
    a, b, c = head.semi_axes
    ears = []
    for ear_dir in head.ear_centres():
        surface = ear_dir * head.radius(ear_dir[None])[0]
        outward = unit(np.array([np.sign(ear_dir[0]), -0.15, 0.0]))
        centre = surface + outward * 0.9 + np.array([0, -0.3, 0])
        tilt = np.radians(12.0)
        up = np.array([0.0, -np.sin(tilt), np.cos(tilt)])
        front = unit(np.cross(up, outward))
        ears.append(Ellipsoid(centre, np.stack([outward, front, up]), np.array([0.9, 2.0, 3.1])))
    nose_dir = unit(np.array([0.0, 1.0, -0.2]))
    nose_surface = nose_dir * head.radius(nose_dir[None])[0]
    nose = Ellipsoid(nose_surface + np.array([0, 0.5, -0.6]),
                     np.stack([[1.0, 0, 0], unit([0, 0.55, 1.0]), unit([0, 1.0, -0.55])]),
                     np.array([1.1, 2.6, 1.2]))
    neck = ((0.0, -0.15 * b), 0.62 * a, -0.45 * c)
    torso = _axis_aligned((0, -0.1 * b, -2.6 * c), (2.6 * a, 1.25 * b, 1.25 * c))
    return nose, ears, neck, torso


@dataclass(frozen=True)
class SceneHits:
    """What each pixel's ray hits, flattened over the image (N = H x W pixels).

    ``object_id`` (N,): :data:`BACKDROP`, :data:`HEAD`, ...; ``depth`` (N,) ray parameter;
    ``points`` (N, 3) cm and ``normals`` (N, 3) in the head frame; ``directions`` (N, 3) unit
    rays; ``on_head`` (M,): indices of the pixels on the head surface.
    """

    object_id: np.ndarray
    depth: np.ndarray
    points: np.ndarray
    normals: np.ndarray
    directions: np.ndarray
    on_head: np.ndarray


def cast_scene(head: Head, camera: Camera) -> SceneHits:
    """Cast one ray per pixel into the scene: the nearest object hit and its surface normal."""
    origin = camera.position
    directions = camera.ray_directions().reshape(-1, 3)
    nose, ears, (neck_xy, neck_radius, neck_top), torso = scene_objects(head)
    depths = np.stack([
        np.full(len(directions), 1e9),
        intersect_head(head, origin, directions),
        nose.intersect(origin, directions),
        np.minimum(ears[0].intersect(origin, directions), ears[1].intersect(origin, directions)),
        intersect_vertical_cylinder(origin, directions, neck_xy, neck_radius, neck_top),
        torso.intersect(origin, directions),
    ])
    object_id = np.argmin(depths, axis=0)
    depth = depths[object_id, np.arange(len(directions))]
    points = origin + depth[:, None] * directions

    # Surface normals per object (for shading).
    normals = np.zeros_like(points)
    on_head = np.flatnonzero(object_id == HEAD)
    normals[on_head] = head.normals(points[on_head])
    for ident, ellipsoids in ((NOSE, [nose]), (EAR, ears), (TORSO, [torso])):
        for ellipsoid in ellipsoids:
            rows = np.flatnonzero(object_id == ident)
            local = (points[rows] - ellipsoid.centre) @ ellipsoid.axes.T / ellipsoid.radii ** 2
            normals[rows] = unit(local @ ellipsoid.axes + 1e-12)
    rows = np.flatnonzero(object_id == NECK)
    radial = points[rows].copy()
    radial[:, 0] -= neck_xy[0]
    radial[:, 1] -= neck_xy[1]
    radial[:, 2] = 0
    normals[rows] = unit(radial + 1e-12)
    return SceneHits(object_id, depth, points, normals, directions, on_head)
