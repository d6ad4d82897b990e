"""Augmentation presets (albumentations, ``strict=True`` so a misspelt argument fails).

Both presets letterbox exactly as ``autosalt.model.predictor.letterbox`` does (long side to
the input size, zero padding bottom/right), so training and inference see the same framing.
The training preset is deliberately strong on photometry and geometry: the default model
learns mostly from synthetic renders and must carry over to real clinic photos.
"""

from __future__ import annotations

import albumentations as A
import cv2

from autosalt.model.factory import IMAGE_MEAN, IMAGE_STD


def _letterbox(size: int) -> list:
    return [A.LongestMaxSize(max_size=size, interpolation=cv2.INTER_AREA, p=1.0),
            A.PadIfNeeded(min_height=size, min_width=size, position="top_left",
                          border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=0, p=1.0)]


class EvalPreset:
    def __init__(self, size: int) -> None:
        self.transform = A.Compose(_letterbox(size) + [A.Normalize(mean=IMAGE_MEAN, std=IMAGE_STD)],
                                   strict=True)

    def set_random_seed(self, seed: int) -> None:
        self.transform.set_random_seed(seed)

    def __call__(self, **data):
        return self.transform(**data)


class TrainPreset(EvalPreset):
    """Letterbox to ``size``, augment, then (with ``crop``) cut a random ``crop`` x ``crop`` square.
    ``rotate90_p``: chance of a quarter turn (photos taken with a phone held sideways)."""

    def __init__(self, size: int, crop: int | None = None, rotate90_p: float = 0.15) -> None:
        geometric = [
            A.Affine(scale=(0.7, 1.25), translate_percent=(-0.12, 0.12), rotate=(-25, 25),
                     shear=(-6, 6), border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=0, p=0.8),
            A.HorizontalFlip(p=0.5),
            A.RandomRotate90(p=rotate90_p),
        ]
        photometric = [
            A.ColorJitter(brightness=0.35, contrast=0.35, saturation=0.4, hue=0.06, p=0.9),
            A.RandomGamma(gamma_limit=(70, 140), p=0.4),
            A.OneOf([A.GaussianBlur(blur_limit=(3, 7)), A.MotionBlur(blur_limit=(3, 9)),
                     A.Defocus(radius=(1, 3))], p=0.35),
            A.GaussNoise(std_range=(0.01, 0.06), p=0.35),
            A.ISONoise(p=0.15),
            A.RandomShadow(p=0.15),
            A.CLAHE(p=0.1),
            A.ToGray(p=0.05),
            A.ImageCompression(quality_range=(35, 95), p=0.5),
        ]
        self.transform = A.Compose(
            _letterbox(size) + geometric
            + ([A.RandomCrop(height=crop, width=crop, p=1.0)] if crop and crop < size else [])
            + photometric
            + [A.Normalize(mean=IMAGE_MEAN, std=IMAGE_STD)], strict=True)
