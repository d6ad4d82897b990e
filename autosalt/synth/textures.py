"""Hair textures of the synthetic photos: strands, coils, stubble, locks, and thinning.

A hair style (``straight_hair``, ``coiled_hair``, ...) takes the image-plane hair angle map
and a strand length and returns the strand texture and the texture that decides which hairs
thinning removes (None: a finer strand texture along the same angles).
"""

from __future__ import annotations

import cv2
import numpy as np


def lock_noise(rng: np.random.Generator, size: tuple[int, int], scale: float) -> np.ndarray:
    """Smooth noise in [0, 1] with features about ``scale`` pixels wide."""
    height, width = size
    small = rng.random((max(2, int(height / scale) + 2), max(2, int(width / scale) + 2)))
    noise = cv2.resize(small.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(noise, 0, 1)


def strand_texture(rng: np.random.Generator, angle: np.ndarray, size: tuple[int, int],
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


def curl_texture(rng: np.random.Generator, size: tuple[int, int], scale: float) -> np.ndarray:
    """Tightly coiled hair, in [0, 1]: the contour lines of band-pass noise ``scale`` pixels
    wide make short curled arcs with no common direction (no strands to follow)."""
    noise = rng.random(size).astype(np.float32)
    band = (cv2.GaussianBlur(noise, (0, 0), scale / 4) - cv2.GaussianBlur(noise, (0, 0), scale / 2))
    band /= band.std() + 1e-6
    coils = np.exp(-(band / 0.45) ** 2)  # bright ridges along the zero crossings
    coils = (coils - coils.mean()) / (coils.std() + 1e-6)
    return np.clip(0.5 + 0.25 * coils, 0, 1).astype(np.float32)


def stubble_texture(rng: np.random.Generator, size: tuple[int, int], length: int) -> np.ndarray:
    """Closely cropped hair, in [0, 1]: short dashes ``length`` pixels long, each patch of
    scalp at its own angle, so there are neither long strands nor curls."""
    angle = (lock_noise(rng, size, max(4.0, size[1] / 12)) * 4 * np.pi).astype(np.float32)
    dots = (rng.random(size) > 0.7).astype(np.float32)
    return strand_texture(np.random.default_rng(rng.integers(2**32)), angle, size, length) \
        * 0.5 + 0.5 * cv2.GaussianBlur(dots, (0, 0), 0.6)


def thinning_factor(rng: np.random.Generator, angle: np.ndarray, loss: np.ndarray,
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
        gaps = strand_texture(rng, angle, (height, width), max(3, strand_length // 2) | 1)
    rank = np.empty(gaps.size, np.float32)
    rank[np.argsort(gaps, axis=None, kind="stable")] = np.linspace(0.0, 1.0, gaps.size,
                                                                    dtype=np.float32)
    gap_level = 0.04 + 0.96 * rank.reshape(height, width)
    keep = np.clip((gap_level - loss) / 0.08 + 0.5, 0.0, 1.0)
    patchy = np.clip((loss - 0.7) / 0.2, 0.0, 1.0)
    thinning = keep / np.maximum(1.0 - loss, 0.05)  # replaces the (1 - loss) already applied
    return ((1.0 - patchy) * thinning + patchy).astype(np.float32)


def straight_hair(rng: np.random.Generator, angle: np.ndarray, strand_length: int
                   ) -> tuple[np.ndarray, np.ndarray | None]:
    """Strands along the growth field; thinning removes finer strands along it."""
    return strand_texture(rng, angle, angle.shape, strand_length), None


def coiled_hair(rng: np.random.Generator, angle: np.ndarray, strand_length: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    width = angle.shape[1]
    return (curl_texture(rng, angle.shape, max(4.0, width / rng.uniform(35, 60))),
            curl_texture(rng, angle.shape, max(3.0, width / rng.uniform(60, 90))))


def cropped_hair(rng: np.random.Generator, angle: np.ndarray, strand_length: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    stubble = max(3, int(angle.shape[1] / rng.uniform(70, 110))) | 1
    return (stubble_texture(rng, angle.shape, stubble),
            stubble_texture(rng, angle.shape, max(3, stubble - 2) | 1))


def wavy_hair(rng: np.random.Generator, angle: np.ndarray, strand_length: int
               ) -> tuple[np.ndarray, np.ndarray | None]:
    """Wavy strands: the growth direction swings back and forth across the head in waves a
    few strands long, each lock at its own phase."""
    height, width = angle.shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    wave_dir = rng.uniform(0, np.pi)
    wavelength = width / rng.uniform(8, 20)
    phase = 2 * np.pi * (np.cos(wave_dir) * xs + np.sin(wave_dir) * ys) / wavelength
    phase += 2 * np.pi * lock_noise(rng, (height, width), max(4.0, width / 15))
    swung = (angle + rng.uniform(0.35, 0.8) * np.sin(phase)).astype(np.float32)
    return strand_texture(rng, swung, angle.shape, strand_length), None


def short_hair(rng: np.random.Generator, angle: np.ndarray, strand_length: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """A short haircut: short strands that still follow the growth field, each tuft standing
    at a slightly different angle. Unlike studio's cropped hair (dashes at random angles with
    dots) they keep the head's growth direction."""
    height, width = angle.shape
    length = max(3, int(width / rng.uniform(90, 150))) | 1
    tilt = (lock_noise(rng, (height, width), max(4.0, width / 25)) - 0.5) * rng.uniform(0.4, 1.2)
    jittered = (angle + tilt).astype(np.float32)
    return (strand_texture(rng, jittered, angle.shape, length),
            strand_texture(rng, jittered, angle.shape, max(3, length - 2) | 1))
