"""Per-view quality checks of batch scoring: each returns reasons a human should look.

Checks are pure functions of the photo (RGB uint8, (H, W, 3)), the predicted class mask
((H, W) uint8, contract class ids) and, for :func:`check_partial_loss`, the predicted loss
fraction, so they are tested on photos degraded on purpose with ground-truth masks,
independently of any trained model. Thresholds live in
:class:`autosalt.config.QualityConfig` and are documented in ``docs/scoring.md``.

Every flag is a :class:`Flag`: a short ``code`` (for the ``quality_<view>`` columns and for
filtering) and a ``reason`` sentence with the measured value and the threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from autosalt.config import QualityConfig
from autosalt.contract import CLASS_SKIN, scalp_pixels

#: Photos are measured for blur at this long side (downscaled only), so the threshold does
#: not depend on the camera's resolution.
BLUR_MEASURE_SIDE = 512
DARK_LEVEL, BRIGHT_LEVEL = 16, 245  # grey levels counted as crushed shadows / clipped highlights
#: Loss fractions counted as partial loss (neither haired nor bald) by :func:`check_partial_loss`.
PARTIAL_BAND = (0.2, 0.8)


@dataclass(frozen=True)
class Flag:
    code: str  # e.g. blur, dark, no_colour, small_scalp, view_mismatch, partial_loss (docs/scoring.md)
    reason: str


@dataclass(frozen=True)
class ViewShape:
    """What a predicted mask says about the camera's direction.

    ``scalp_share``: scalp pixels / head pixels (scalp + skin); high for top and back views,
    about half for profiles, where the face and neck fill the rest.
    ``face_offset``: horizontal distance from the scalp's centre to the centre of the skin
    beside it (skin within the scalp's rows), in scalp widths; + = skin on the image's right.
    A profile shows the face on one side (|offset| about 0.3); a back view's ears and neck
    are symmetric (about 0).
    """

    scalp_fraction: float  # scalp pixels / photo pixels
    scalp_share: float
    face_offset: float

    @staticmethod
    def from_mask(mask: np.ndarray) -> ViewShape:
        # from row and column counts (projections), not pixel coordinates: the same figures,
        # without listing every pixel of a photo-sized mask
        scalp = scalp_pixels(mask)
        skin = mask == CLASS_SKIN
        per_column = np.count_nonzero(scalp, axis=0)
        pixels = int(per_column.sum())
        if pixels == 0:
            return ViewShape(0.0, 0.0, 0.0)
        columns = np.arange(mask.shape[1])
        used_columns = np.flatnonzero(per_column)
        used_rows = np.flatnonzero(np.any(scalp, axis=1))
        width = used_columns[-1] - used_columns[0] + 1
        beside = np.count_nonzero(skin[used_rows[0]: used_rows[-1] + 1], axis=0)
        offset = 0.0
        if beside.sum():
            skin_mean = (beside * columns).sum() / beside.sum()
            offset = (skin_mean - (per_column * columns).sum() / pixels) / width
        head_pixels = pixels + int(np.count_nonzero(skin))
        return ViewShape(pixels / mask.size, pixels / head_pixels, float(offset))

    def looks_like_profile(self, config: QualityConfig) -> bool:
        return (self.scalp_share < config.profile_max_scalp_share
                and abs(self.face_offset) >= config.profile_min_face_offset)


def blur_score(photo: np.ndarray) -> float:
    """Variance of the Laplacian of the grey photo (downscaled to 512 px long side at most)."""
    grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    scale = BLUR_MEASURE_SIDE / max(grey.shape)
    if scale < 1:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def exposure_fractions(photo: np.ndarray, region: np.ndarray | None = None) -> tuple[float, float]:
    """Shares of crushed-dark and clipped-bright pixels, over ``region`` (bool (H, W)) if given.

    Measured on the head where it is known: a white or black studio backdrop is not a badly
    exposed photo.
    """
    grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    values = grey[region] if region is not None and region.any() else grey.reshape(-1)
    return float((values < DARK_LEVEL).mean()), float((values > BRIGHT_LEVEL).mean())


def colour_saturation(photo: np.ndarray, region: np.ndarray | None = None) -> float | None:
    """Mean HSV saturation (0-255) over ``region``'s well-exposed pixels (grey levels between the
    crushed and clipped ones, whose saturation means nothing); None where there are none.

    0 for a greyscale photo (also once saved as a colour JPEG); the synthetic heads measure 22
    or more, skin and hair in colour photos far more.
    """
    grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    exposed = (grey > DARK_LEVEL) & (grey < BRIGHT_LEVEL)
    if region is not None and region.any():
        exposed &= region
    if not exposed.any():
        return None
    return float(cv2.cvtColor(photo, cv2.COLOR_RGB2HSV)[..., 1][exposed].mean())


def check_view(photo: np.ndarray, mask: np.ndarray, view: str, config: QualityConfig) -> list[Flag]:
    """Quality flags of one view: resolution, blur, exposure, colour, scalp size, view identity."""
    flags = []
    short_side = min(photo.shape[:2])
    if short_side < config.min_side_px:
        flags.append(Flag("low_resolution", f"resolution too low ({photo.shape[1]}x{photo.shape[0]} "
                                            f"px, short side < {config.min_side_px})"))
    blur = blur_score(photo)
    if blur < config.blur_min:
        flags.append(Flag("blur", f"blurred (sharpness {blur:.1f} < {config.blur_min:g})"))
    dark, bright = exposure_fractions(photo, mask > 0)
    if dark > config.dark_max_fraction:
        flags.append(Flag("dark", f"underexposed ({dark:.0%} of the head is near black, "
                                  f"> {config.dark_max_fraction:.0%})"))
    if bright > config.bright_max_fraction:
        flags.append(Flag("bright", f"overexposed ({bright:.0%} of the head is clipped white, "
                                    f"> {config.bright_max_fraction:.0%})"))
    saturation = colour_saturation(photo, mask > 0)
    if saturation is not None and saturation < config.min_colour_saturation:
        flags.append(Flag("no_colour", f"greyscale or nearly colourless (head saturation "
                                       f"{saturation:.1f} < {config.min_colour_saturation:g}): the "
                                       "model tells hair from skin partly by colour"))
    shape = ViewShape.from_mask(mask)
    if shape.scalp_fraction < config.min_scalp_fraction:
        flags.append(Flag("small_scalp", f"scalp too small in frame ({shape.scalp_fraction:.1%} of "
                                         f"the photo, < {config.min_scalp_fraction:.0%})"))
    elif view in ("left", "right") and not shape.looks_like_profile(config):
        flags.append(Flag("view_mismatch", f"named {view} but does not look like a profile (scalp "
                                           f"{shape.scalp_share:.0%} of the head, no face beside "
                                           "it): a top or back photo?"))
    elif view in ("top", "back") and shape.looks_like_profile(config):
        side = "right" if shape.face_offset > 0 else "left"
        flags.append(Flag("view_mismatch", f"named {view} but looks like a profile (face on the "
                                           f"image's {side}, scalp {shape.scalp_share:.0%} of the "
                                           "head): a side photo?"))
    return flags


def partial_share(mask: np.ndarray, loss: np.ndarray) -> float:
    """Share of the predicted scalp whose loss fraction lies within :data:`PARTIAL_BAND`."""
    scalp = scalp_pixels(mask)
    if not scalp.any():
        return 0.0
    low, high = PARTIAL_BAND
    values = loss[scalp]
    return float(((values > low) & (values < high)).mean())


def check_partial_loss(mask: np.ndarray, loss: np.ndarray, config: QualityConfig) -> Flag | None:
    """Flag a view whose scalp is mostly read as partial loss.

    That is how the network reads diffuse thinning, and also how it misreads short, fine or
    light hair, which shows skin between the hairs: the photo alone does not tell them apart
    (dermatologists use a dermatoscope). Measured: docs/benchmarks.md, *Quality flags against
    SALT error*.
    """
    share = partial_share(mask, loss)
    if share <= config.partial_max_share:
        return None
    low, high = PARTIAL_BAND
    return Flag("partial_loss", f"{share:.0%} of the scalp read as partial hair loss (loss fraction "
                                f"{low:g}-{high:g}, > {config.partial_max_share:.0%}): diffuse "
                                "thinning, or short, fine or light hair read as thinning; check "
                                "by eye")


def check_left_right(masks: Mapping[str, np.ndarray], config: QualityConfig) -> Flag | None:
    """Flag a visit whose two profiles both face the wrong way for their names.

    Photographed unmirrored, the left profile shows the face on the image's right and the
    right profile on the image's left. One profile facing the other way is most often a
    mirrored (selfie) photo and is not flagged; both facing the wrong way means the files
    were most likely swapped (or both mirrored; either way a human should look).
    """
    if "left" not in masks or "right" not in masks:
        return None
    left, right = ViewShape.from_mask(masks["left"]), ViewShape.from_mask(masks["right"])
    if not (left.looks_like_profile(config) and right.looks_like_profile(config)):
        return None
    if left.face_offset < 0 and right.face_offset > 0:
        return Flag("left_right_swapped", "left and right views look swapped (the left photo shows "
                                          "the face on the image's left, the right photo on its "
                                          "right)")
    return None
