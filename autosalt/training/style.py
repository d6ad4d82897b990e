"""Real photos' appearance on synthetic renders: Fourier amplitude swap and colour matching.

A render's labels stay exact while its look moves towards real photographs: its lowest
spatial frequencies (overall light, colour cast, vignetting) take the amplitude of a real
photo's (FDA, Yang & Soatto 2020), or its colour histograms are matched to a real photo's.
Both leave edges and texture, and so the masks, where they were. The real photos need no
labels; they must not include photos held out for testing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import albumentations as A
import cv2
import numpy as np

from autosalt.contract import IMAGE_EXTENSIONS
from autosalt.fileio import read_photo

#: Side (pixels) the reference photos are kept at: their low frequencies and colours are
#: all that is used, so a small copy does.
REFERENCE_SIDE = 256


def find_style_photos(sources: Sequence[str | os.PathLike]) -> list[Path]:
    """Image files in the given folders (searched recursively) or listed directly, sorted."""
    found = []
    for source in map(Path, sources):
        if source.is_file():
            found.append(source)
        elif source.is_dir():
            found += [path for path in source.rglob("*") if path.suffix.lower() in IMAGE_EXTENSIONS
                      and not path.name.startswith(".")]
        else:
            raise FileNotFoundError(f"data.style_photos: {source} is neither a folder nor a photo")
    if not found:
        raise FileNotFoundError(f"data.style_photos: no photos found in {', '.join(map(str, sources))}")
    return sorted(found)


class RealStyle:
    """Restyles an RGB uint8 photo after a randomly drawn real photo (one of FDA or histogram
    matching, with probability ``probability``); deterministic given ``seed``."""

    def __init__(self, photos: Sequence[str | os.PathLike], probability: float = 0.5,
                 beta: tuple[float, float] = (0.001, 0.01)) -> None:
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"data.style_p must be in [0, 1], got {probability}")
        self.references = [_small(read_photo(path)) for path in find_style_photos(photos)]
        self.probability = probability
        self.amplitude_swap = A.Compose([A.FDA(beta_limit=beta, metadata_key="fda_metadata", p=1.0)],
                                        strict=True)
        self.colour_match = A.Compose([A.HistogramMatching(blend_ratio=(0.3, 0.8),
                                                           metadata_key="hm_metadata", p=1.0)], strict=True)

    def __call__(self, photo: np.ndarray, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        if rng.random() >= self.probability:
            return photo
        reference = self.references[int(rng.integers(len(self.references)))]
        reference = cv2.resize(reference, (photo.shape[1], photo.shape[0]), interpolation=cv2.INTER_LINEAR)
        if rng.random() < 0.5:
            self.amplitude_swap.set_random_seed(int(rng.integers(2**31)))
            return self.amplitude_swap(image=photo, fda_metadata=[reference])["image"]
        self.colour_match.set_random_seed(int(rng.integers(2**31)))
        return self.colour_match(image=photo, hm_metadata=[reference])["image"]


def _small(photo: np.ndarray) -> np.ndarray:
    scale = REFERENCE_SIDE / max(photo.shape[:2])
    size = (max(1, round(photo.shape[1] * scale)), max(1, round(photo.shape[0] * scale)))
    return cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
