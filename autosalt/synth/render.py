"""Ray-cast photo renderer for the synthetic head: photo, class mask and loss map per view.

The scene is the head (star-shaped surface, ``head.Head``), a nose and two ears (ellipsoids),
the neck (a vertical cylinder) and the torso in clothing (an ellipsoid). Every pixel's ray
hits the nearest of these; the class mask and loss map come from the same hit, so they match
the photo exactly. Hair is drawn as a strand texture that follows a growth field over the
scalp, with coverage falling with the loss fraction (diffuse thinning shows the scalp through).
Hard cases from the literature are drawn on purpose: partings and cast shadows (not loss),
fine, grey or blond hair on light skin (low contrast), loose strands over bald patches (still
loss), hair clips and fingers (background), blur, noise and JPEG artefacts; with ``--look
broad`` or ``short`` also short haircuts, which show the scalp through without any loss.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np

from autosalt.contract import CLASS_BACKGROUND, CLASS_HAIR, CLASS_IGNORE, CLASS_LOSS, CLASS_SKIN
from autosalt.synth.head import Head, azimuth_elevation
from autosalt.synth.patterns import LossPattern

#: Skin tones from very light to very dark (linear RGB 0..1 anchors, sampled in between).
SKIN_TONES = np.array([(243, 214, 196), (230, 188, 162), (208, 158, 122), (176, 124, 88),
                       (134, 90, 62), (96, 62, 43), (62, 41, 31)], dtype=np.float32) / 255.0
#: Hair colours: black, dark brown, brown, light brown, dark blond, blond, red, grey, white.
HAIR_COLOURS = np.array([(22, 20, 20), (48, 34, 26), (85, 60, 42), (128, 95, 68), (160, 128, 86),
                         (214, 184, 134), (140, 66, 38), (150, 148, 146), (222, 220, 214)],
                        dtype=np.float32) / 255.0
LOSS_CLASS_THRESHOLD = 0.5  # loss fraction at or above which a scalp pixel is class 3


@dataclass
class Appearance:
    """A patient's looks (fixed across visits)."""

    skin: np.ndarray  # (3,) RGB 0..1 of the face
    scalp: np.ndarray  # (3,) RGB of scalp skin (less sun, often paler or pinker)
    hair: np.ndarray  # (3,) RGB of the hair
    hair_opacity: float  # coverage of full-density hair (fine hair shows scalp through)
    hair_volume_cm: float  # how far hair stands out beyond the scalp silhouette
    strand_contrast: float
    whorl: np.ndarray  # (3,) unit direction hair grows away from
    comb: np.ndarray  # (3,) direction hair is combed towards (mixed into the growth field)
    parting: np.ndarray | None  # (3,) normal of the parting's great circle, or None
    clothing: np.ndarray  # (3,)
    scalp_shine: float

    @staticmethod
    def random(rng: np.random.Generator) -> Appearance:
        tone = rng.uniform(0, len(SKIN_TONES) - 1)
        low = int(np.floor(tone))
        high = min(low + 1, len(SKIN_TONES) - 1)
        skin = SKIN_TONES[low] * (1 - (tone - low)) + SKIN_TONES[high] * (tone - low)
        skin = np.clip(skin * rng.uniform(0.94, 1.06, 3), 0, 1)
        scalp = np.clip(skin * np.array([1.04, 1.0, 1.0]) * rng.uniform(0.97, 1.08), 0, 1)
        # Light skin goes more often with blond, red and grey hair; every pairing stays possible.
        light = tone < 2.5
        weights = np.array([3, 3, 3, 2, 2, 2, 1, 2, 1], dtype=float) if light else \
            np.array([8, 3, 2, 1, 0.4, 0.3, 0.2, 1.5, 0.6])
        hair = HAIR_COLOURS[rng.choice(len(HAIR_COLOURS), p=weights / weights.sum())].copy()
        if rng.random() < 0.25:  # salt-and-pepper greying
            hair = hair * (1 - (g := rng.uniform(0.2, 0.7))) + HAIR_COLOURS[7] * g
        whorl = _unit(np.array([rng.normal(0, 0.2), rng.uniform(-0.8, -0.3), 1.0]))
        comb = _unit(np.array([rng.normal(0, 0.7), rng.normal(0.2, 0.8), rng.uniform(-1, 0)]))
        parting = None
        if rng.random() < 0.35:  # side or centre parting: a sagittal-ish plane
            parting = _unit(np.array([1.0, rng.normal(0, 0.15), 0.0]))
            parting = _rotate_about_z(parting, 0) * 1.0
            offset = rng.choice([0.0, rng.uniform(0.2, 0.5) * rng.choice([-1, 1])])
            parting = _unit(parting + np.array([0, 0, offset]))
        return Appearance(
            skin=skin.astype(np.float32), scalp=scalp.astype(np.float32),
            hair=hair.astype(np.float32), hair_opacity=rng.uniform(0.7, 1.0),
            hair_volume_cm=rng.uniform(0.1, 1.4), strand_contrast=rng.uniform(0.25, 0.8),
            whorl=whorl, comb=comb, parting=parting,
            clothing=rng.uniform(0.05, 0.95, 3).astype(np.float32),
            scalp_shine=rng.uniform(0.05, 0.35),
        )


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector, axis=-1, keepdims=True)


def _rotate_about_z(vector: np.ndarray, degrees: float) -> np.ndarray:
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
        forward = _unit(target - position)
        right = _unit(np.cross(forward, up))
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
        return _unit(camera_dirs @ self.rotation)

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
_BACKDROP, _HEAD, _NOSE, _EAR, _NECK, _TORSO = range(6)


def _scene_objects(head: Head):
    a, b, c = head.semi_axes
    ears = []
    for ear_dir in head.ear_centres():
        surface = ear_dir * head.radius(ear_dir[None])[0]
        outward = _unit(np.array([np.sign(ear_dir[0]), -0.15, 0.0]))
        centre = surface + outward * 0.9 + np.array([0, -0.3, 0])
        tilt = np.radians(12.0)
        up = np.array([0.0, -np.sin(tilt), np.cos(tilt)])
        front = _unit(np.cross(up, outward))
        ears.append(Ellipsoid(centre, np.stack([outward, front, up]), np.array([0.9, 2.0, 3.1])))
    nose_dir = _unit(np.array([0.0, 1.0, -0.2]))
    nose_surface = nose_dir * head.radius(nose_dir[None])[0]
    nose = Ellipsoid(nose_surface + np.array([0, 0.5, -0.6]),
                     np.stack([[1.0, 0, 0], _unit([0, 0.55, 1.0]), _unit([0, 1.0, -0.55])]),
                     np.array([1.1, 2.6, 1.2]))
    neck = ((0.0, -0.15 * b), 0.62 * a, -0.45 * c)
    torso = _axis_aligned((0, -0.1 * b, -2.6 * c), (2.6 * a, 1.25 * b, 1.25 * c))
    return nose, ears, neck, torso


def _lock_noise(rng: np.random.Generator, size: tuple[int, int], scale: float) -> np.ndarray:
    """Smooth noise in [0, 1] with features about ``scale`` pixels wide."""
    height, width = size
    small = rng.random((max(2, int(height / scale) + 2), max(2, int(width / scale) + 2)))
    noise = cv2.resize(small.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(noise, 0, 1)


def _strand_texture(rng: np.random.Generator, angle: np.ndarray, size: tuple[int, int],
                    length: int, bins: int = 8) -> np.ndarray:
    """Noise smeared along each pixel's hair direction ``angle`` (rad): strands, in [0, 1]."""
    height, width = size
    noise = rng.random((height, width)).astype(np.float32)
    responses = []
    for index in range(bins):
        theta = np.pi * index / bins
        kernel = np.zeros((length, length), np.float32)
        half = (length - 1) / 2
        cv2.line(kernel, (int(round(half - np.cos(theta) * half)), int(round(half - np.sin(theta) * half))),
                 (int(round(half + np.cos(theta) * half)), int(round(half + np.sin(theta) * half))), 1.0, 1)
        kernel /= kernel.sum()
        responses.append(cv2.filter2D(noise, -1, kernel, borderType=cv2.BORDER_REFLECT))
    stack = np.stack(responses)
    position = (np.mod(angle, np.pi) / np.pi * bins)
    lower = np.floor(position).astype(int) % bins
    upper = (lower + 1) % bins
    weight = (position - np.floor(position)).astype(np.float32)
    rows, cols = np.indices(size)
    texture = stack[lower, rows, cols] * (1 - weight) + stack[upper, rows, cols] * weight
    texture = (texture - texture.mean()) / (texture.std() + 1e-6)
    return np.clip(0.5 + 0.25 * texture, 0, 1)


def _curl_texture(rng: np.random.Generator, size: tuple[int, int], scale: float) -> np.ndarray:
    """Tightly coiled hair, in [0, 1]: the contour lines of band-pass noise ``scale`` pixels
    wide make short curled arcs with no common direction (no strands to follow)."""
    noise = rng.random(size).astype(np.float32)
    band = (cv2.GaussianBlur(noise, (0, 0), scale / 4) - cv2.GaussianBlur(noise, (0, 0), scale / 2))
    band /= band.std() + 1e-6
    coils = np.exp(-(band / 0.45) ** 2)  # bright ridges along the zero crossings
    coils = (coils - coils.mean()) / (coils.std() + 1e-6)
    return np.clip(0.5 + 0.25 * coils, 0, 1).astype(np.float32)


def _stubble_texture(rng: np.random.Generator, size: tuple[int, int], length: int) -> np.ndarray:
    """Closely cropped hair, in [0, 1]: short dashes ``length`` pixels long, each patch of
    scalp at its own angle, so there are neither long strands nor curls."""
    angle = (_lock_noise(rng, size, max(4.0, size[1] / 12)) * 4 * np.pi).astype(np.float32)
    dots = (rng.random(size) > 0.7).astype(np.float32)
    return _strand_texture(np.random.default_rng(rng.integers(2**32)), angle, size, length) \
        * 0.5 + 0.5 * cv2.GaussianBlur(dots, (0, 0), 0.6)


def _thinning_factor(rng: np.random.Generator, angle: np.ndarray, loss: np.ndarray,
                     strand_length: int, gaps: np.ndarray | None = None) -> np.ndarray:
    """Factor (H, W) on a coverage map that already holds ``(1 - loss)``: thinning removes hairs.

    Diffuse thinning leaves fewer hairs; it does not make each hair finer (naturally fine hair
    is the patient's ``hair_opacity``). A pixel keeps its hair where a strand texture's rank is
    above the loss fraction, so thinning shows bare scalp between the strands that are left
    while the mean coverage still falls as (1 - loss). Where loss nears 1 (patches) the factor
    blends back to 1: patches stay evenly bare. ``gaps``: the texture whose rank decides which
    hairs go (default: a finer strand texture along ``angle``).
    """
    height, width = loss.shape
    if gaps is None:
        gaps = _strand_texture(rng, angle, (height, width), max(3, strand_length // 2) | 1)
    rank = np.empty(gaps.size, np.float32)
    rank[np.argsort(gaps, axis=None, kind="stable")] = np.linspace(0.0, 1.0, gaps.size,
                                                                    dtype=np.float32)
    gap_level = 0.04 + 0.96 * rank.reshape(height, width)
    keep = np.clip((gap_level - loss) / 0.08 + 0.5, 0.0, 1.0)
    patchy = np.clip((loss - 0.7) / 0.2, 0.0, 1.0)
    thinning = keep / np.maximum(1.0 - loss, 0.05)  # replaces the (1 - loss) already applied
    return ((1.0 - patchy) * thinning + patchy).astype(np.float32)


def _background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    height, width = size
    kind = rng.integers(0, 5)
    base = rng.uniform(0.05, 0.95, 3).astype(np.float32)
    if rng.random() < 0.5:  # clinics favour neutral walls
        base = np.full(3, rng.uniform(0.15, 0.95), np.float32) * rng.uniform(0.9, 1.1, 3)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xs / width + np.sin(angle) * ys / height)
    image = base[None, None, :] * (1 + rng.uniform(-0.35, 0.35) * ramp[..., None])
    if kind == 1:  # a second wall, door or cabinet edge
        other = rng.uniform(0.05, 0.95, 3).astype(np.float32)
        split = rng.uniform(0.1, 0.9) * width
        image = np.where((xs > split)[..., None], other[None, None, :], image)
    elif kind == 2:  # textured surface
        image = image * (0.8 + 0.4 * _lock_noise(rng, size, rng.uniform(4, 40)))[..., None]
    elif kind == 3:  # clutter: a few boxes
        for _ in range(rng.integers(2, 8)):
            x0, y0 = rng.integers(0, width), rng.integers(0, height)
            x1, y1 = x0 + rng.integers(10, width // 2), y0 + rng.integers(10, height // 2)
            cv2.rectangle(image, (int(x0), int(y0)), (int(x1), int(y1)),
                          rng.uniform(0, 1, 3).tolist(), -1)
    return np.clip(image, 0, 1).astype(np.float32)


def _hair_angles(camera: Camera, points: np.ndarray, normals: np.ndarray,
                 appearance: Appearance) -> np.ndarray:
    """Image-plane angle (rad) of the hair direction at scalp points (N, 3)."""
    directions = points / np.linalg.norm(points, axis=1, keepdims=True)
    away = directions * (directions @ appearance.whorl)[:, None] - appearance.whorl
    flow = _unit(away + 1e-6) + 0.6 * appearance.comb
    flow -= normals * np.einsum("ij,ij->i", flow, normals)[:, None]
    flow = _unit(flow + 1e-9)
    start, _ = camera.project(points)
    end, _ = camera.project(points + 0.5 * flow)
    delta = end - start
    return np.arctan2(delta[:, 1], delta[:, 0])


def _drape_background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    height, width = size
    colour = np.array([0.05, 0.42, 0.40], np.float32) * rng.uniform(0.8, 1.2, 3).astype(np.float32)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    folds = np.zeros(size, np.float32)
    count = int(rng.integers(3, 7))
    for _ in range(count):  # mostly vertical folds of the cloth
        angle = rng.uniform(-0.4, 0.4)
        frequency = rng.uniform(2, 7) * 2 * np.pi / width
        folds += np.sin(frequency * (np.cos(angle) * xs + np.sin(angle) * ys) + rng.uniform(0, 2 * np.pi))
    shade = 0.8 + 0.25 * folds / np.sqrt(count)
    return np.clip(colour[None, None, :] * shade[..., None], 0, 1).astype(np.float32)


def _wallpaper_background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Patterned wallpaper: stripes of two colours with a grid of small motifs."""
    height, width = size
    base = rng.uniform(0.35, 0.9, 3).astype(np.float32)
    other = np.clip(base * rng.uniform(0.5, 1.3, 3), 0, 1).astype(np.float32)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    period = width / rng.uniform(5, 14)
    stripes = (np.mod(xs + rng.uniform(0, period), period) < period * rng.uniform(0.3, 0.6))
    image = np.where(stripes[..., None], other[None, None, :], base[None, None, :])
    step = period / 2
    motif = (np.hypot(np.mod(xs, step) - step / 2, np.mod(ys, step) - step / 2) < step * 0.18)
    image = np.where(motif[..., None], (base * 0.45)[None, None, :], image)
    return np.clip(image, 0, 1).astype(np.float32)


def _studio_background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A dark backdrop with a soft spotlight behind the head."""
    height, width = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    centre = rng.uniform(0.3, 0.7, 2) * np.array([width, height])
    radius2 = ((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (rng.uniform(0.3, 0.6) * width) ** 2
    colour = np.full(3, rng.uniform(0.04, 0.12), np.float32) * rng.uniform(0.85, 1.15, 3)
    glow = 1.0 + rng.uniform(1.0, 2.5) * np.exp(-radius2)
    return np.clip(colour[None, None, :] * glow[..., None], 0, 1).astype(np.float32)


def _studio_lighting(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cool cast and a steeper tone curve (a studio's hard light)."""
    cast = np.array([0.86, 0.97, 1.16], np.float32) * rng.uniform(0.95, 1.05, 3).astype(np.float32)
    return np.clip(image * cast[None, None, :], 0, 1) ** rng.uniform(1.1, 1.3)


def _lamp_lighting(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Warm tungsten cast, darker towards the side away from the lamp."""
    height, width = image.shape[:2]
    xs = np.linspace(-1, 1, width, dtype=np.float32)[None, :]
    falloff = np.clip(1.0 - rng.uniform(0.2, 0.4) * (xs * rng.choice([-1.0, 1.0]) + 1.0), 0.3, 1.0)
    cast = np.array([1.12, 0.93, 0.66], np.float32) * rng.uniform(0.95, 1.05, 3).astype(np.float32)
    return image * falloff[..., None] * cast[None, None, :]


def _drape_lighting(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Green fluorescent cast and a flash vignette over the whole photo."""
    height, width = image.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    radius2 = ((xs - width / 2) / (width / 2)) ** 2 + ((ys - height / 2) / (height / 2)) ** 2
    vignette = np.clip(1.0 - rng.uniform(0.3, 0.5) * radius2, 0.2, 1.0)
    cast = np.array([0.82, 1.06, 0.86], np.float32) * rng.uniform(0.95, 1.05, 3).astype(np.float32)
    return image * vignette[..., None] * cast[None, None, :]


def _everyday_light(rng: np.random.Generator, camera: Camera) -> tuple[np.ndarray, float]:
    """A key light from roughly the camera's side of the head and plenty of ambient light."""
    return _unit(rng.normal(0, 0.6, 3) + 1.5 * (-camera.rotation[2])), rng.uniform(0.3, 0.6)


def _ring_flash(rng: np.random.Generator, camera: Camera) -> tuple[np.ndarray, float]:
    """A flash on the camera's axis, little ambient light."""
    return _unit(rng.normal(0, 0.1, 3) + (-camera.rotation[2])), rng.uniform(0.05, 0.15)


def _side_lamp(rng: np.random.Generator, camera: Camera) -> tuple[np.ndarray, float]:
    """A lamp to one side of the camera, little ambient light."""
    side = rng.choice([-1.0, 1.0]) * camera.rotation[0]
    return _unit(rng.normal(0, 0.15, 3) + 0.7 * (-camera.rotation[2]) + side), rng.uniform(0.1, 0.2)


def _overhead_light(rng: np.random.Generator, camera: Camera) -> tuple[np.ndarray, float]:
    """A light above the head, tipped a little towards the camera."""
    key = _unit(np.array([0.0, 0.0, 1.0]) + rng.normal(0, 0.15, 3) + 0.35 * (-camera.rotation[2]))
    return key, rng.uniform(0.08, 0.18)


def _straight_hair(rng: np.random.Generator, angle: np.ndarray, strand_length: int
                   ) -> tuple[np.ndarray, np.ndarray | None]:
    """Strands along the growth field; thinning removes finer strands along it."""
    return _strand_texture(rng, angle, angle.shape, strand_length), None


def _coiled_hair(rng: np.random.Generator, angle: np.ndarray, strand_length: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    width = angle.shape[1]
    return (_curl_texture(rng, angle.shape, max(4.0, width / rng.uniform(35, 60))),
            _curl_texture(rng, angle.shape, max(3.0, width / rng.uniform(60, 90))))


def _cropped_hair(rng: np.random.Generator, angle: np.ndarray, strand_length: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    stubble = max(3, int(angle.shape[1] / rng.uniform(70, 110))) | 1
    return (_stubble_texture(rng, angle.shape, stubble),
            _stubble_texture(rng, angle.shape, max(3, stubble - 2) | 1))


def _wavy_hair(rng: np.random.Generator, angle: np.ndarray, strand_length: int
               ) -> tuple[np.ndarray, np.ndarray | None]:
    """Wavy strands: the growth direction swings back and forth across the head in waves a
    few strands long, each lock at its own phase."""
    height, width = angle.shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    wave_dir = rng.uniform(0, np.pi)
    wavelength = width / rng.uniform(8, 20)
    phase = 2 * np.pi * (np.cos(wave_dir) * xs + np.sin(wave_dir) * ys) / wavelength
    phase += 2 * np.pi * _lock_noise(rng, (height, width), max(4.0, width / 15))
    swung = (angle + rng.uniform(0.35, 0.8) * np.sin(phase)).astype(np.float32)
    return _strand_texture(rng, swung, angle.shape, strand_length), None


def _short_hair(rng: np.random.Generator, angle: np.ndarray, strand_length: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """A short haircut: short strands that still follow the growth field, each tuft standing
    at a slightly different angle. Unlike studio's cropped hair (dashes at random angles with
    dots) they keep the head's growth direction."""
    height, width = angle.shape
    length = max(3, int(width / rng.uniform(90, 150))) | 1
    tilt = (_lock_noise(rng, (height, width), max(4.0, width / 25)) - 0.5) * rng.uniform(0.4, 1.2)
    jittered = (angle + tilt).astype(np.float32)
    return (_strand_texture(rng, jittered, angle.shape, length),
            _strand_texture(rng, jittered, angle.shape, max(3, length - 2) | 1))


def _blurred_room_background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A room out of focus behind the head: furniture, a door, a bright window, all blurred."""
    height, width = size
    image = np.empty((height, width, 3), np.float32)
    image[:] = rng.uniform(0.2, 0.8, 3).astype(np.float32)
    for _ in range(int(rng.integers(3, 9))):
        x0, y0 = rng.uniform(-0.2, 1.0) * width, rng.uniform(-0.2, 1.0) * height
        x1, y1 = x0 + rng.uniform(0.1, 0.6) * width, y0 + rng.uniform(0.1, 0.8) * height
        colour = rng.uniform(0.0, 1.0, 3)
        if rng.random() < 0.2:  # a window or lamp: bright, nearly white
            colour = np.full(3, rng.uniform(0.85, 1.0)) * rng.uniform(0.95, 1.05, 3)
        cv2.rectangle(image, (int(x0), int(y0)), (int(x1), int(y1)), colour.tolist(), -1)
    image = cv2.GaussianBlur(image, (0, 0), width * rng.uniform(0.02, 0.06))
    return np.clip(image, 0, 1).astype(np.float32)


def _tiled_background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Square wall tiles with grout lines (treatment rooms, bathrooms)."""
    height, width = size
    tile = rng.uniform(0.6, 1.0) * np.array([1.0, 1.0, 1.0]) * rng.uniform(0.85, 1.05, 3)
    if rng.random() < 0.4:  # coloured tiles
        tile = rng.uniform(0.3, 0.9, 3)
    grout = tile * rng.uniform(0.55, 0.85)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    period = width / rng.uniform(3, 9)
    line = max(1.0, period * rng.uniform(0.03, 0.07))
    joints = (np.mod(xs + rng.uniform(0, period), period) < line) | \
        (np.mod(ys + rng.uniform(0, period), period) < line)
    image = np.where(joints[..., None], grout[None, None, :], tile[None, None, :])
    image = image * (0.92 + 0.16 * _lock_noise(rng, size, width / 3))[..., None]
    return np.clip(image, 0, 1).astype(np.float32)


def _window_backlight(rng: np.random.Generator, camera: Camera) -> tuple[np.ndarray, float]:
    """Daylight from a window behind and to one side of the head: the side facing the camera
    is in the head's own shade, lit by the room's ambient light."""
    side = rng.choice([-1.0, 1.0]) * camera.rotation[0]
    key = _unit(rng.normal(0, 0.15, 3) + rng.uniform(0.3, 0.8) * camera.rotation[2] + side)
    return key, rng.uniform(0.25, 0.45)


_LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # RGB -> luma (ITU-R BT.601)


def _saturate(image: np.ndarray, factor: float) -> np.ndarray:
    """Scale each pixel's colour away from (> 1) or towards (< 1) its grey."""
    grey = (image @ _LUMA)[..., None]
    return grey + factor * (image - grey)


def _phone_hdr_grade(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A phone's automatic HDR: shadows lifted, local contrast and saturation pushed."""
    image = np.clip(image, 0, 1)
    luma = image @ _LUMA
    lifted = luma ** rng.uniform(0.6, 0.85)
    image = image * (lifted / np.maximum(luma, 1e-3))[..., None]
    blurred = cv2.GaussianBlur(image.astype(np.float32), (0, 0), image.shape[1] * 0.02)
    image = image + rng.uniform(0.2, 0.5) * (image - blurred)
    return _saturate(image, rng.uniform(1.1, 1.4))


def _dim_grade(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An underexposed photo in a dim room: dark, slightly desaturated, with sensor gain noise
    that shows most in the shadows."""
    image = _saturate(np.clip(image, 0, 1) * rng.uniform(0.5, 0.8), rng.uniform(0.7, 0.95))
    noise = rng.normal(0, rng.uniform(0.01, 0.03), image.shape[:2])[..., None]
    return (image + noise * (1.2 - image)).astype(np.float32)


@dataclass(frozen=True)
class Look:
    """How a photo looks, whatever the head: room, light, hair texture, colour grading.

    ``light(rng, camera) -> (key direction, ambient)``; ``background(rng, size)``;
    ``hair(rng, angle map, strand length) -> (strand texture, texture deciding which hairs
    thinning removes, or None for the default)``; ``grade(image, rng)``: whole-photo light and
    colour after shadows, or None; ``clumping``: how much hair falls in locks; ``volume``: share
    of the patient's hair volume that stands out beyond the silhouette; ``density``: factor on
    the patient's hair coverage (short hair covers less of the scalp than long hair lying on it).
    """

    light: Callable[[np.random.Generator, Camera], tuple[np.ndarray, float]] = _everyday_light
    background: Callable[[np.random.Generator, tuple[int, int]], np.ndarray] = _background
    hair: Callable[[np.random.Generator, np.ndarray, int], tuple[np.ndarray, np.ndarray | None]] \
        = _straight_hair
    grade: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None
    clumping: float = 0.8
    volume: float = 1.0
    density: float = 1.0


#: Short hair's clumping, volume and density (:class:`Look`), drawn in this order by ``broad``.
SHORT_HAIR_RANGES = {"clumping": (0.05, 0.35), "volume": (0.0, 0.2), "density": (0.55, 0.9)}

#: Looks of the whole photo (``synth --look``). ``default`` is the generator's everyday mix.
#: ``drape``: a teal surgical drape with folds behind the head, a ring flash on the camera's
#: axis, a green fluorescent cast and a dark vignette. ``coily``: tightly coiled hair (curled
#: arcs, no strands to follow; the default's hair is straight or wavy), photographed at home
#: against patterned wallpaper under a warm lamp from one side. ``studio``: closely cropped hair
#: (short dashes, no strands or curls, nothing standing out beyond the silhouette), a dark
#: studio backdrop with a spotlight, a cool light from above. ``short``: the default look with
#: a short haircut (``broad``'s short hair, mid-range in :data:`SHORT_HAIR_RANGES`), for
#: measuring that case alone. Which looks a released model was trained on is in its model
#: card; the others are for fine-tuning experiments (docs/retraining.md) and for measuring how
#: a model copes with photos unlike its own.
LOOK_STYLES: dict[str, Look] = {
    "default": Look(),
    "drape": Look(light=_ring_flash, background=_drape_background, grade=_drape_lighting),
    "coily": Look(light=_side_lamp, background=_wallpaper_background, hair=_coiled_hair,
                  grade=_lamp_lighting),
    "studio": Look(light=_overhead_light, background=_studio_background, hair=_cropped_hair,
                   grade=_studio_lighting, clumping=0.2, volume=0.1),
    "short": Look(hair=_short_hair, clumping=0.2, volume=0.1, density=0.72),
}
#: ``mixed``: each visit draws its own look from the parts of ``default``, ``drape`` and
#: ``coily`` (light, room, hair texture, colour grading independently, lock clumping and hair
#: volume on a continuous scale), so a training set sees many combinations, not three fixed
#: looks. ``varied``: the same, drawn from a wider family: ``mixed``'s parts plus wavy hair, a
#: window behind the head, rooms out of focus, tiled walls, a phone's HDR and dim underexposed
#: rooms. ``broad``: ``varied``'s family plus short haircuts (short strands along the growth
#: field, little volume or clumping, 55-90% of the scalp covered), common in clinics and absent
#: from the other families. ``studio``'s parts are never drawn by any of them: it stays a look
#: no model trained on them saw (its cropped hair is a different texture: dashes at random
#: angles). ``mixed`` and ``varied`` are kept as they were, so the data of earlier releases
#: can be rendered again.
MIXED_LOOK = "mixed"
VARIED_LOOK = "varied"
BROAD_LOOK = "broad"


#: Each drawn look's family: per part of :class:`Look`, the choices and their probabilities,
#: drawn in this order (then lock clumping and hair volume), so a seed gives the same looks.
_MIXED_PARTS = {
    "light": ((_everyday_light, _ring_flash, _side_lamp), (0.5, 0.25, 0.25)),
    "background": ((_background, _drape_background, _wallpaper_background), (0.5, 0.25, 0.25)),
    "hair": ((_straight_hair, _coiled_hair), (0.7, 0.3)),
    "grade": ((None, _drape_lighting, _lamp_lighting), (0.5, 0.25, 0.25)),
}
_VARIED_PARTS = {
    "light": ((_everyday_light, _ring_flash, _side_lamp, _window_backlight), (0.4, 0.2, 0.2, 0.2)),
    "background": ((_background, _drape_background, _wallpaper_background,
                    _blurred_room_background, _tiled_background), (0.3, 0.15, 0.15, 0.2, 0.2)),
    "hair": ((_straight_hair, _coiled_hair, _wavy_hair), (0.45, 0.25, 0.3)),
    "grade": ((None, _drape_lighting, _lamp_lighting, _phone_hdr_grade, _dim_grade),
              (0.35, 0.15, 0.15, 0.2, 0.15)),
}


_BROAD_PARTS = dict(_VARIED_PARTS, hair=(
    (_straight_hair, _coiled_hair, _wavy_hair, _short_hair), (0.3, 0.2, 0.2, 0.3)))


def _draw_look(rng: np.random.Generator, family: dict) -> Look:
    parts = {part: choices[rng.choice(len(choices), p=list(weights))]
             for part, (choices, weights) in family.items()}
    return Look(**parts, clumping=float(rng.uniform(0.3, 1.0)), volume=float(rng.uniform(0.3, 1.0)))


def mixed_look(rng: np.random.Generator) -> Look:
    """One visit's look for ``--look mixed`` (see :data:`LOOKS`)."""
    return _draw_look(rng, _MIXED_PARTS)


def varied_look(rng: np.random.Generator) -> Look:
    """One visit's look for ``--look varied`` (see :data:`LOOKS`)."""
    return _draw_look(rng, _VARIED_PARTS)


def broad_look(rng: np.random.Generator) -> Look:
    """One visit's look for ``--look broad`` (see :data:`LOOKS`): short hair has little volume
    or clumping and covers less of the scalp."""
    look = _draw_look(rng, _BROAD_PARTS)
    if look.hair is not _short_hair:
        return look
    return replace(look, **{name: float(rng.uniform(low, high))
                            for name, (low, high) in SHORT_HAIR_RANGES.items()})


DRAWN_LOOKS: dict[str, Callable[[np.random.Generator], Look]] = {
    MIXED_LOOK: mixed_look, VARIED_LOOK: varied_look, BROAD_LOOK: broad_look}
LOOKS = tuple(LOOK_STYLES) + tuple(DRAWN_LOOKS)


def resolve_look(look: str | Look, rng: np.random.Generator | None = None) -> Look:
    """A look by name (``mixed`` and ``varied`` draw one from ``rng``), or a :class:`Look`."""
    if isinstance(look, Look):
        return look
    if look in DRAWN_LOOKS:
        if rng is None:
            raise ValueError(f"look {look!r} needs a random generator to draw the visit's look")
        return DRAWN_LOOKS[look](rng)
    if look not in LOOK_STYLES:
        raise ValueError(f"unknown look {look!r}; choose from {', '.join(LOOKS)}")
    return LOOK_STYLES[look]


def render_view(head: Head, pattern: LossPattern, severity: float, appearance: Appearance,
                camera: Camera, rng: np.random.Generator, occluders: bool = True,
                look: str | Look = "default") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render one view (``look``: one of :data:`LOOKS`, or a :class:`Look`; ``mixed`` and
    ``varied`` draw a look from ``rng`` for this view alone; :func:`generate.render_visit`
    draws one per visit).

    Returns:
        photo: (H, W, 3) uint8 RGB; mask: (H, W) uint8 class ids (contract section 3);
        loss: (H, W) uint8 loss fraction x 255 on scalp pixels, 0 elsewhere.
    """
    style = resolve_look(look, rng)
    height, width = camera.size
    origin = camera.position
    directions = camera.ray_directions().reshape(-1, 3)
    nose, ears, (neck_xy, neck_radius, neck_top), torso = _scene_objects(head)
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
    on_head = np.flatnonzero(object_id == _HEAD)
    normals[on_head] = head.normals(points[on_head])
    for ident, ellipsoids in ((_NOSE, [nose]), (_EAR, ears), (_TORSO, [torso])):
        for ellipsoid in ellipsoids:
            rows = np.flatnonzero(object_id == ident)
            local = (points[rows] - ellipsoid.centre) @ ellipsoid.axes.T / ellipsoid.radii ** 2
            normals[rows] = _unit(local @ ellipsoid.axes + 1e-12)
    rows = np.flatnonzero(object_id == _NECK)
    radial = points[rows].copy()
    radial[:, 0] -= neck_xy[0]
    radial[:, 1] -= neck_xy[1]
    radial[:, 2] = 0
    normals[rows] = _unit(radial + 1e-12)

    # Head surface attributes.
    head_points = points[on_head]
    head_dirs = _unit(head_points)
    scalp = head.is_scalp(head_dirs)
    loss = np.where(scalp, pattern.loss(head_dirs, head, severity), 0.0).astype(np.float32)

    mask = np.full(len(directions), CLASS_BACKGROUND, np.uint8)
    mask[np.isin(object_id, (_NOSE, _EAR, _NECK))] = CLASS_SKIN
    head_class = np.where(scalp, np.where(loss >= LOSS_CLASS_THRESHOLD, CLASS_LOSS, CLASS_HAIR),
                          CLASS_SKIN)
    mask[on_head] = head_class
    loss_full = np.zeros(len(directions), np.float32)
    loss_full[on_head] = loss

    # Albedo: skin everywhere on the body, scalp skin inside the hairline, clothing on the torso.
    albedo = np.zeros((len(directions), 3), np.float32)
    skin_objects = np.isin(object_id, (_HEAD, _NOSE, _EAR, _NECK))
    albedo[skin_objects] = appearance.skin
    albedo[on_head[scalp]] = appearance.scalp
    albedo[object_id == _TORSO] = appearance.clothing
    _paint_face(albedo, on_head, head_dirs, scalp, appearance, rng)

    # Lighting: ambient + a key light from the camera's side of the head + skin specular.
    view_dirs = -directions
    key, ambient = style.light(rng, camera)
    lambert = np.clip(normals @ key, 0, 1)
    shade = (ambient + (1 - ambient) * lambert).astype(np.float32)
    halfway = _unit(key[None, :] + view_dirs)
    specular = np.clip(np.einsum("ij,ij->i", normals, halfway), 0, 1) ** rng.uniform(15, 50)
    shine = np.where(skin_objects, 0.08, 0.0).astype(np.float32)
    shine[on_head[scalp]] = appearance.scalp_shine
    colour = albedo * shade[:, None] + (shine * specular)[:, None]

    image = colour.reshape(height, width, 3)
    background = style.background(rng, (height, width))
    backdrop = (object_id == _BACKDROP).reshape(height, width)
    image[backdrop] = background[backdrop]

    # Hair: coverage from density, lock clumping and partings; strands along the growth field.
    coverage = np.zeros(len(directions), np.float32)
    scalp_rows = on_head[scalp]
    coverage[scalp_rows] = appearance.hair_opacity * style.density * (1.0 - loss[scalp])
    if appearance.parting is not None:
        parting_distance = np.abs(head_dirs[scalp] @ appearance.parting)
        in_front_top = head_dirs[scalp][:, 2] > 0.3
        strip = np.clip(1.0 - (0.035 - parting_distance) / 0.02, 0.15, 1.0)
        coverage[scalp_rows] *= np.where(in_front_top, strip, 1.0)
    coverage = coverage.reshape(height, width)
    locks = _lock_noise(rng, (height, width), max(3.0, width / rng.uniform(40, 120)))
    coverage *= np.clip(1.0 - style.clumping / 2 + style.clumping * locks, 0, 1.15)
    angle_full = np.zeros(len(directions), np.float32)
    angle_full[scalp_rows] = _hair_angles(camera, points[scalp_rows], normals[scalp_rows], appearance)
    angle_map = angle_full.reshape(height, width)
    strand_length = int(max(5, width / rng.uniform(25, 60))) | 1
    strands, gaps = style.hair(rng, angle_map, strand_length)
    loss_2d = loss_full.reshape(height, width)
    if np.any(loss_2d > 0):
        coverage *= _thinning_factor(rng, angle_map, loss_2d, strand_length, gaps)
        coverage = np.minimum(coverage, 1.15)
    coverage = np.clip(coverage * (0.75 + 0.5 * strands), 0, 1)

    # Hair standing out beyond the silhouette: strands over the backdrop, labelled "ignore".
    volume_px = int(appearance.hair_volume_cm * style.volume * camera.focal
                    / max(np.median(depth[on_head]), 1.0)) if on_head.size else 0
    mask_2d = mask.reshape(height, width)
    if volume_px >= 1:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * volume_px + 1,) * 2)
        fringe = cv2.dilate(coverage, kernel) * (object_id.reshape(height, width) != _HEAD)
        fringe *= np.clip(strands * 1.6 - 0.3, 0, 1)
        fringe[~backdrop & (object_id.reshape(height, width) != _TORSO)] = 0
        coverage = np.maximum(coverage, fringe)
        mask_2d[(fringe > 0.25) & (mask_2d == CLASS_BACKGROUND)] = CLASS_IGNORE
    hair_shade = np.clip(shade.reshape(height, width) * 1.05, 0.2, 1.2)
    sheen = 1.0 + appearance.strand_contrast * (strands - 0.5) * 1.6
    hair_rgb = appearance.hair[None, None, :] * (hair_shade * sheen)[..., None]
    hair_rgb = np.where(backdrop[..., None], appearance.hair[None, None, :] * sheen[..., None] *
                        (ambient + 0.3), hair_rgb)
    image = image * (1 - coverage[..., None]) + hair_rgb * coverage[..., None]

    _draw_vellus_and_loose_strands(image, mask_2d, loss_2d, appearance, rng)
    if occluders:
        _draw_occluders(image, mask_2d, appearance, rng)
    _cast_shadows(image, rng)
    if style.grade is not None:
        image = style.grade(image, rng)
    image = _camera_effects(image, rng)
    photo = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    loss_u8 = np.where(np.isin(mask_2d, (CLASS_HAIR, CLASS_LOSS)),
                       np.round(loss_2d * 255), 0).astype(np.uint8)
    if camera.mirrored:
        photo, mask_2d, loss_u8 = photo[:, ::-1], mask_2d[:, ::-1], loss_u8[:, ::-1]
    return (np.ascontiguousarray(photo), np.ascontiguousarray(mask_2d),
            np.ascontiguousarray(loss_u8))


def _paint_face(albedo, on_head, head_dirs, scalp, appearance, rng) -> None:
    """Eyebrows, eyes and lips on the face, so the face (front) can be told from the back."""
    azimuth, elevation = azimuth_elevation(head_dirs)
    face = ~scalp & (np.abs(azimuth) < 60)
    features = [  # (azimuth, elevation, half-width, half-height, colour)
        (24, 7, 12, 2.2, appearance.hair * 0.9 + 0.05), (-24, 7, 12, 2.2, appearance.hair * 0.9 + 0.05),
        (24, 0, 7, 2.5, np.array([0.92, 0.92, 0.9])), (-24, 0, 7, 2.5, np.array([0.92, 0.92, 0.9])),
        (24, 0, 2.6, 2.4, np.array([0.12, 0.09, 0.07])), (-24, 0, 2.6, 2.4, np.array([0.12, 0.09, 0.07])),
        (0, -38, 11, 3.0, appearance.skin * np.array([0.8, 0.55, 0.55])),
    ]
    for feature_az, feature_el, half_w, half_h, colour in features:
        ellipse = ((azimuth - feature_az) / half_w) ** 2 + ((elevation - feature_el) / half_h) ** 2
        inside = face & (ellipse < 1)
        albedo[on_head[inside]] = colour


def _draw_vellus_and_loose_strands(image, mask, loss, appearance, rng) -> None:
    """Short regrowing hairs inside patches and long strands lying over them (still loss)."""
    height, width = mask.shape
    bald = mask == 3
    if bald.sum() < 50:
        return
    dots = bald & (rng.random(mask.shape) < rng.uniform(0.0, 0.03))
    image[dots] = image[dots] * 0.5 + appearance.hair * 0.5
    if rng.random() < 0.5:
        ys, xs = np.nonzero(bald)
        for _ in range(rng.integers(1, 8)):
            index = rng.integers(len(ys))
            x, y = float(xs[index]), float(ys[index])
            angle = rng.uniform(0, 2 * np.pi)
            curve = []
            for _step in range(12):
                curve.append((x, y))
                angle += rng.normal(0, 0.15)
                x += np.cos(angle) * width / 60
                y += np.sin(angle) * width / 60
            colour = (appearance.hair * rng.uniform(0.8, 1.1)).tolist()
            cv2.polylines(image, [np.round(np.array(curve) * 4).astype(np.int32)], False, colour,
                          1, cv2.LINE_AA, shift=2)


def _draw_occluders(image, mask, appearance, rng) -> None:
    """Hair clips on the hair and fingers from the frame edge: class 0 (not head)."""
    height, width = mask.shape
    haired = np.argwhere(mask == 2)
    if len(haired) and rng.random() < 0.15:
        for _ in range(rng.integers(1, 3)):
            y, x = haired[rng.integers(len(haired))]
            length, thickness = width * rng.uniform(0.05, 0.12), width * rng.uniform(0.012, 0.03)
            box = cv2.boxPoints(((float(x), float(y)), (length, thickness), rng.uniform(0, 180)))
            polygon = np.round(box).astype(np.int32)
            colour = rng.uniform(0, 1, 3)
            cv2.fillPoly(image, [polygon], colour.tolist(), cv2.LINE_AA)
            cv2.fillPoly(mask, [polygon], 0)
    if rng.random() < 0.1:
        head_pixels = np.argwhere(np.isin(mask, (1, 2, 3)))
        if len(head_pixels):
            y, x = head_pixels[rng.integers(len(head_pixels))]
            side = rng.integers(0, 4)
            edge = [(x, 0), (x, height - 1), (0, y), (width - 1, y)][side]
            finger_width = int(width * rng.uniform(0.035, 0.06))
            for offset in range(rng.integers(1, 4)):
                shift = np.array([offset * finger_width * 1.1, 0]) if side < 2 else \
                    np.array([0, offset * finger_width * 1.1])
                start = (np.array(edge) + shift).astype(int)
                end = (np.array([x, y]) + shift).astype(int)
                finger = np.zeros(mask.shape, np.uint8)
                cv2.line(finger, tuple(int(v) for v in start), tuple(int(v) for v in end), 1,
                         finger_width)
                cv2.circle(finger, tuple(int(v) for v in end), finger_width // 2, 1, -1)
                on = finger.astype(bool)
                image[on] = appearance.skin * rng.uniform(0.75, 1.0)
                mask[on] = 0


def _cast_shadows(image, rng) -> None:
    """Soft shadows (from hands, the camera, a lamp): darker, never loss."""
    height, width = image.shape[:2]
    for _ in range(rng.integers(0, 3)):
        blob = np.zeros((height, width), np.float32)
        centre = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
        axes = (int(width * rng.uniform(0.08, 0.35)), int(height * rng.uniform(0.05, 0.25)))
        cv2.ellipse(blob, centre, axes, rng.uniform(0, 180), 0, 360, 1.0, -1)
        blob = cv2.GaussianBlur(blob, (0, 0), width * rng.uniform(0.01, 0.05))
        image *= (1 - rng.uniform(0.15, 0.5) * blob)[..., None]
    # Vignetting.
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    radius = np.hypot((xs - width / 2) / width, (ys - height / 2) / height)
    image *= (1 - rng.uniform(0, 0.35) * radius ** 2)[..., None]


def _camera_effects(image, rng) -> np.ndarray:
    """White balance, exposure, gamma, blur, sensor noise."""
    height, width = image.shape[:2]
    image = image * rng.uniform(0.88, 1.12, 3)[None, None, :] * rng.uniform(0.75, 1.25)
    image = np.clip(image, 0, 1) ** rng.uniform(0.8, 1.25)
    if rng.random() < 0.6:
        sigma = rng.uniform(0.3, 1.6) * width / 512
        image = cv2.GaussianBlur(image.astype(np.float32), (0, 0), sigma)
    image = image + rng.normal(0, rng.uniform(0.002, 0.03), image.shape)
    return image.astype(np.float32)
