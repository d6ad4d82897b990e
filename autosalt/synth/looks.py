"""The looks catalogue of the synthetic photos: a patient's appearance (skin, hair colour,
growth field) and the photo's look (room, light, hair texture, colour grading), by name
(``synth --look``) or drawn per visit from a family of parts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np

from autosalt.synth.camera import Camera, rotate_about_z, unit
from autosalt.synth.textures import (
    coiled_hair,
    cropped_hair,
    lock_noise,
    short_hair,
    straight_hair,
    wavy_hair,
)

#: Skin tones from very light to very dark (linear RGB 0..1 anchors, sampled in between).
SKIN_TONES = np.array([(243, 214, 196), (230, 188, 162), (208, 158, 122), (176, 124, 88),
                       (134, 90, 62), (96, 62, 43), (62, 41, 31)], dtype=np.float32) / 255.0
#: Hair colours: black, dark brown, brown, light brown, dark blond, blond, red, grey, white.
HAIR_COLOURS = np.array([(22, 20, 20), (48, 34, 26), (85, 60, 42), (128, 95, 68), (160, 128, 86),
                         (214, 184, 134), (140, 66, 38), (150, 148, 146), (222, 220, 214)],
                        dtype=np.float32) / 255.0


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
        whorl = unit(np.array([rng.normal(0, 0.2), rng.uniform(-0.8, -0.3), 1.0]))
        comb = unit(np.array([rng.normal(0, 0.7), rng.normal(0.2, 0.8), rng.uniform(-1, 0)]))
        parting = None
        if rng.random() < 0.35:  # side or centre parting: a sagittal-ish plane
            parting = unit(np.array([1.0, rng.normal(0, 0.15), 0.0]))
            parting = rotate_about_z(parting, 0) * 1.0
            offset = rng.choice([0.0, rng.uniform(0.2, 0.5) * rng.choice([-1, 1])])
            parting = unit(parting + np.array([0, 0, offset]))
        return Appearance(
            skin=skin.astype(np.float32), scalp=scalp.astype(np.float32),
            hair=hair.astype(np.float32), hair_opacity=rng.uniform(0.7, 1.0),
            hair_volume_cm=rng.uniform(0.1, 1.4), strand_contrast=rng.uniform(0.25, 0.8),
            whorl=whorl, comb=comb, parting=parting,
            clothing=rng.uniform(0.05, 0.95, 3).astype(np.float32),
            scalp_shine=rng.uniform(0.05, 0.35),
        )


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
        image = image * (0.8 + 0.4 * lock_noise(rng, size, rng.uniform(4, 40)))[..., None]
    elif kind == 3:  # clutter: a few boxes
        for _ in range(rng.integers(2, 8)):
            x0, y0 = rng.integers(0, width), rng.integers(0, height)
            x1, y1 = x0 + rng.integers(10, width // 2), y0 + rng.integers(10, height // 2)
            cv2.rectangle(image, (int(x0), int(y0)), (int(x1), int(y1)),
                          rng.uniform(0, 1, 3).tolist(), -1)
    return np.clip(image, 0, 1).astype(np.float32)


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
    return unit(rng.normal(0, 0.6, 3) + 1.5 * (-camera.rotation[2])), rng.uniform(0.3, 0.6)


def _ring_flash(rng: np.random.Generator, camera: Camera) -> tuple[np.ndarray, float]:
    """A flash on the camera's axis, little ambient light."""
    return unit(rng.normal(0, 0.1, 3) + (-camera.rotation[2])), rng.uniform(0.05, 0.15)


def _side_lamp(rng: np.random.Generator, camera: Camera) -> tuple[np.ndarray, float]:
    """A lamp to one side of the camera, little ambient light."""
    side = rng.choice([-1.0, 1.0]) * camera.rotation[0]
    return unit(rng.normal(0, 0.15, 3) + 0.7 * (-camera.rotation[2]) + side), rng.uniform(0.1, 0.2)


def _overhead_light(rng: np.random.Generator, camera: Camera) -> tuple[np.ndarray, float]:
    """A light above the head, tipped a little towards the camera."""
    key = unit(np.array([0.0, 0.0, 1.0]) + rng.normal(0, 0.15, 3) + 0.35 * (-camera.rotation[2]))
    return key, rng.uniform(0.08, 0.18)


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
    image = image * (0.92 + 0.16 * lock_noise(rng, size, width / 3))[..., None]
    return np.clip(image, 0, 1).astype(np.float32)


def _window_backlight(rng: np.random.Generator, camera: Camera) -> tuple[np.ndarray, float]:
    """Daylight from a window behind and to one side of the head: the side facing the camera
    is in the head's own shade, lit by the room's ambient light."""
    side = rng.choice([-1.0, 1.0]) * camera.rotation[0]
    key = unit(rng.normal(0, 0.15, 3) + rng.uniform(0.3, 0.8) * camera.rotation[2] + side)
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
        = straight_hair
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
#: measuring that case alone. Which looks the shipped model was trained on is in its model
#: card; the others are for fine-tuning experiments (docs/retraining.md) and for measuring how
#: a model copes with photos unlike its own.
LOOK_STYLES: dict[str, Look] = {
    "default": Look(),
    "drape": Look(light=_ring_flash, background=_drape_background, grade=_drape_lighting),
    "coily": Look(light=_side_lamp, background=_wallpaper_background, hair=coiled_hair,
                  grade=_lamp_lighting),
    "studio": Look(light=_overhead_light, background=_studio_background, hair=cropped_hair,
                   grade=_studio_lighting, clumping=0.2, volume=0.1),
    "short": Look(hair=short_hair, clumping=0.2, volume=0.1, density=0.72),
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
#: angles). The families never change their draws, so a recipe's training data (its looks
#: and seeds) renders again.
MIXED_LOOK = "mixed"
VARIED_LOOK = "varied"
BROAD_LOOK = "broad"


#: Each drawn look's family: per part of :class:`Look`, the choices and their probabilities,
#: drawn in this order (then lock clumping and hair volume), so a seed gives the same looks.
_MIXED_PARTS = {
    "light": ((_everyday_light, _ring_flash, _side_lamp), (0.5, 0.25, 0.25)),
    "background": ((_background, _drape_background, _wallpaper_background), (0.5, 0.25, 0.25)),
    "hair": ((straight_hair, coiled_hair), (0.7, 0.3)),
    "grade": ((None, _drape_lighting, _lamp_lighting), (0.5, 0.25, 0.25)),
}
_VARIED_PARTS = {
    "light": ((_everyday_light, _ring_flash, _side_lamp, _window_backlight), (0.4, 0.2, 0.2, 0.2)),
    "background": ((_background, _drape_background, _wallpaper_background,
                    _blurred_room_background, _tiled_background), (0.3, 0.15, 0.15, 0.2, 0.2)),
    "hair": ((straight_hair, coiled_hair, wavy_hair), (0.45, 0.25, 0.3)),
    "grade": ((None, _drape_lighting, _lamp_lighting, _phone_hdr_grade, _dim_grade),
              (0.35, 0.15, 0.15, 0.2, 0.15)),
}


_BROAD_PARTS = dict(_VARIED_PARTS, hair=(
    (straight_hair, coiled_hair, wavy_hair, short_hair), (0.3, 0.2, 0.2, 0.3)))


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
    if look.hair is not short_hair:
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
