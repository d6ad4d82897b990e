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

The parts live in their own modules: :mod:`~autosalt.synth.camera` (the camera and the rays
it casts into the scene), :mod:`~autosalt.synth.looks` (the patient's appearance and the
photo's look, by name), :mod:`~autosalt.synth.textures` (hair textures); this module paints
one view from them (:func:`render_view`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from autosalt.contract import (
    CLASS_BACKGROUND,
    CLASS_HAIR,
    CLASS_IGNORE,
    CLASS_LOSS,
    CLASS_SKIN,
    scalp_pixels,
)
from autosalt.synth.camera import (  # noqa: F401 (Camera re-exported)
    BACKDROP,
    EAR,
    HEAD,
    NECK,
    NOSE,
    TORSO,
    Camera,
    SceneHits,
    cast_scene,
    unit,
)
from autosalt.synth.head import Head, azimuth_elevation
from autosalt.synth.looks import (  # noqa: F401 (re-exported)
    LOOK_STYLES,
    LOOKS,
    Appearance,
    Look,
    resolve_look,
)
from autosalt.synth.patterns import LossPattern
from autosalt.synth.textures import lock_noise, thinning_factor

LOSS_CLASS_THRESHOLD = 0.5  # loss fraction at or above which a scalp pixel is class 3


@dataclass(frozen=True)
class _Labels:
    """The classes and loss of every pixel: ``mask`` (N,) class ids, ``loss_full`` (N,) loss
    fraction; on the head's pixels (M,): ``head_dirs`` (M, 3) unit directions from the skull
    centre, ``scalp`` (M,) True inside the hairline, ``loss`` (M,) loss fraction."""

    mask: np.ndarray
    loss_full: np.ndarray
    head_dirs: np.ndarray
    scalp: np.ndarray
    loss: np.ndarray


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
    hits = cast_scene(head, camera)
    labels = _label_pixels(head, pattern, severity, hits)
    colour, shade, ambient = _shade_scene(hits, labels, appearance, style, camera, rng)
    image = colour.reshape(height, width, 3)
    background = style.background(rng, (height, width))
    backdrop = (hits.object_id == BACKDROP).reshape(height, width)
    image[backdrop] = background[backdrop]

    mask_2d = labels.mask.reshape(height, width)
    loss_2d = labels.loss_full.reshape(height, width)
    coverage, strands = _hair_coverage(hits, labels, loss_2d, appearance, style, camera, rng)
    coverage = _hair_beyond_silhouette(coverage, strands, mask_2d, backdrop, hits, appearance,
                                       style, camera)
    image = _paint_hair(image, coverage, strands, shade.reshape(height, width), ambient, backdrop,
                        appearance)

    _draw_vellus_and_loose_strands(image, mask_2d, loss_2d, appearance, rng)
    if occluders:
        _draw_occluders(image, mask_2d, appearance, rng)
    _cast_shadows(image, rng)
    if style.grade is not None:
        image = style.grade(image, rng)
    image = _camera_effects(image, rng)
    photo = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    loss_u8 = np.where(scalp_pixels(mask_2d), np.round(loss_2d * 255), 0).astype(np.uint8)
    if camera.mirrored:
        photo, mask_2d, loss_u8 = photo[:, ::-1], mask_2d[:, ::-1], loss_u8[:, ::-1]
    return (np.ascontiguousarray(photo), np.ascontiguousarray(mask_2d),
            np.ascontiguousarray(loss_u8))


def _label_pixels(head: Head, pattern: LossPattern, severity: float, hits: SceneHits) -> _Labels:
    """Class and loss fraction of every pixel, from what its ray hit."""
    head_dirs = unit(hits.points[hits.on_head])
    scalp = head.is_scalp(head_dirs)
    loss = np.where(scalp, pattern.loss(head_dirs, head, severity), 0.0).astype(np.float32)
    count = len(hits.object_id)
    mask = np.full(count, CLASS_BACKGROUND, np.uint8)
    mask[np.isin(hits.object_id, (NOSE, EAR, NECK))] = CLASS_SKIN
    mask[hits.on_head] = np.where(scalp, np.where(loss >= LOSS_CLASS_THRESHOLD, CLASS_LOSS, CLASS_HAIR),
                                  CLASS_SKIN)
    loss_full = np.zeros(count, np.float32)
    loss_full[hits.on_head] = loss
    return _Labels(mask, loss_full, head_dirs, scalp, loss)


def _shade_scene(hits: SceneHits, labels: _Labels, appearance: Appearance, style: Look,
                 camera: Camera, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """Colour (N, 3) of the bare scene, its shading (N,) and the ambient light.

    Albedo: skin everywhere on the body, scalp skin inside the hairline, clothing on the torso.
    Lighting: ambient + the look's key light + skin specular.
    """
    object_id, on_head, scalp = hits.object_id, hits.on_head, labels.scalp
    albedo = np.zeros((len(object_id), 3), np.float32)
    skin_objects = np.isin(object_id, (HEAD, NOSE, EAR, NECK))
    albedo[skin_objects] = appearance.skin
    albedo[on_head[scalp]] = appearance.scalp
    albedo[object_id == TORSO] = appearance.clothing
    _paint_face(albedo, on_head, labels.head_dirs, scalp, appearance, rng)

    view_dirs = -hits.directions
    key, ambient = style.light(rng, camera)
    lambert = np.clip(hits.normals @ key, 0, 1)
    shade = (ambient + (1 - ambient) * lambert).astype(np.float32)
    halfway = unit(key[None, :] + view_dirs)
    specular = np.clip(np.einsum("ij,ij->i", hits.normals, halfway), 0, 1) ** rng.uniform(15, 50)
    shine = np.where(skin_objects, 0.08, 0.0).astype(np.float32)
    shine[on_head[scalp]] = appearance.scalp_shine
    return albedo * shade[:, None] + (shine * specular)[:, None], shade, ambient


def _hair_coverage(hits: SceneHits, labels: _Labels, loss_2d: np.ndarray, appearance: Appearance,
                   style: Look, camera: Camera, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Hair coverage (H, W) in [0, 1] on the scalp and the strand texture (H, W): coverage from
    density, lock clumping and partings, thinned by the loss; strands along the growth field."""
    height, width = camera.size
    on_head, scalp, head_dirs = hits.on_head, labels.scalp, labels.head_dirs
    coverage = np.zeros(len(hits.object_id), np.float32)
    scalp_rows = on_head[scalp]
    coverage[scalp_rows] = appearance.hair_opacity * style.density * (1.0 - labels.loss[scalp])
    if appearance.parting is not None:
        parting_distance = np.abs(head_dirs[scalp] @ appearance.parting)
        in_front_top = head_dirs[scalp][:, 2] > 0.3
        strip = np.clip(1.0 - (0.035 - parting_distance) / 0.02, 0.15, 1.0)
        coverage[scalp_rows] *= np.where(in_front_top, strip, 1.0)
    coverage = coverage.reshape(height, width)
    locks = lock_noise(rng, (height, width), max(3.0, width / rng.uniform(40, 120)))
    coverage *= np.clip(1.0 - style.clumping / 2 + style.clumping * locks, 0, 1.15)
    angle_full = np.zeros(len(hits.object_id), np.float32)
    angle_full[scalp_rows] = _hair_angles(camera, hits.points[scalp_rows], hits.normals[scalp_rows],
                                          appearance)
    angle_map = angle_full.reshape(height, width)
    strand_length = int(max(5, width / rng.uniform(25, 60))) | 1
    strands, gaps = style.hair(rng, angle_map, strand_length)
    if np.any(loss_2d > 0):
        coverage *= thinning_factor(rng, angle_map, loss_2d, strand_length, gaps)
        coverage = np.minimum(coverage, 1.15)
    return np.clip(coverage * (0.75 + 0.5 * strands), 0, 1), strands


def _hair_beyond_silhouette(coverage: np.ndarray, strands: np.ndarray, mask_2d: np.ndarray,
                            backdrop: np.ndarray, hits: SceneHits, appearance: Appearance,
                            style: Look, camera: Camera) -> np.ndarray:
    """Coverage with the hair standing out beyond the silhouette: strands over the backdrop,
    labelled "ignore" in ``mask_2d`` (changed in place)."""
    height, width = camera.size
    on_head = hits.on_head
    volume_px = int(appearance.hair_volume_cm * style.volume * camera.focal
                    / max(np.median(hits.depth[on_head]), 1.0)) if on_head.size else 0
    if volume_px < 1:
        return coverage
    object_id = hits.object_id.reshape(height, width)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * volume_px + 1,) * 2)
    fringe = cv2.dilate(coverage, kernel) * (object_id != HEAD)
    fringe *= np.clip(strands * 1.6 - 0.3, 0, 1)
    fringe[~backdrop & (object_id != TORSO)] = 0
    mask_2d[(fringe > 0.25) & (mask_2d == CLASS_BACKGROUND)] = CLASS_IGNORE
    return np.maximum(coverage, fringe)


def _paint_hair(image: np.ndarray, coverage: np.ndarray, strands: np.ndarray, shade: np.ndarray,
                ambient: float, backdrop: np.ndarray, appearance: Appearance) -> np.ndarray:
    """The photo (H, W, 3) with the hair laid over it by ``coverage`` (H, W)."""
    hair_shade = np.clip(shade * 1.05, 0.2, 1.2)
    sheen = 1.0 + appearance.strand_contrast * (strands - 0.5) * 1.6
    hair_rgb = appearance.hair[None, None, :] * (hair_shade * sheen)[..., None]
    hair_rgb = np.where(backdrop[..., None], appearance.hair[None, None, :] * sheen[..., None] *
                        (ambient + 0.3), hair_rgb)
    return image * (1 - coverage[..., None]) + hair_rgb * coverage[..., None]


def _hair_angles(camera: Camera, points: np.ndarray, normals: np.ndarray,
                 appearance: Appearance) -> np.ndarray:
    """Image-plane angle (rad) of the hair direction at scalp points (N, 3)."""
    directions = points / np.linalg.norm(points, axis=1, keepdims=True)
    away = directions * (directions @ appearance.whorl)[:, None] - appearance.whorl
    flow = unit(away + 1e-6) + 0.6 * appearance.comb
    flow -= normals * np.einsum("ij,ij->i", flow, normals)[:, None]
    flow = unit(flow + 1e-9)
    start, _ = camera.project(points)
    end, _ = camera.project(points + 0.5 * flow)
    delta = end - start
    return np.arctan2(delta[:, 1], delta[:, 0])


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
