"""Quality checks on synthetic photos degraded on purpose, with ground-truth masks."""

import json

import cv2
import numpy as np
import pytest

from autosalt.config import QualityConfig, load_config
from autosalt.contract import CLASS_HAIR, CLASS_LOSS, CLASS_SKIN, VIEWS
from autosalt.fileio import read_loss_map, read_mask, read_photo
from autosalt.inference.quality import (
    ViewShape,
    blur_score,
    check_left_right,
    check_partial_loss,
    check_view,
    colour_saturation,
    partial_share,
)
from autosalt.synth.generate import SynthOptions, generate


@pytest.fixture(scope="module")
def views(tmp_path_factory):
    """view -> (photo, mask) of one synthetic visit at 256 px, profiles unmirrored."""
    root = tmp_path_factory.mktemp("quality")
    generate(root, patients=1, visits=1, seed=4, options=SynthOptions(size=(256, 256)), workers=1,
             progress=False)
    meta = json.loads((root / "meta/P001/week00.json").read_text())
    result = {}
    for view in VIEWS:
        photo = read_photo(root / f"photos/P001/week00/{view}.jpg")
        mask = read_mask(root / f"masks/P001/week00/{view}.png")
        if meta["cameras"][view]["mirrored"]:  # the swap check needs the clinic convention
            photo, mask = photo[:, ::-1].copy(), mask[:, ::-1].copy()
        result[view] = (photo, mask)
    return result


def codes(flags):
    return sorted(flag.code for flag in flags)


def test_clean_views_pass(views):
    config = QualityConfig()
    for view, (photo, mask) in views.items():
        assert check_view(photo, mask, view, config) == [], view
    assert check_left_right({v: m for v, (_, m) in views.items()}, config) is None


def test_blur_flagged(views):
    photo, mask = views["top"]
    blurred = cv2.GaussianBlur(photo, (0, 0), 3.0)
    assert blur_score(blurred) < QualityConfig().blur_min < blur_score(photo)
    assert codes(check_view(blurred, mask, "top", QualityConfig())) == ["blur"]


def test_under_and_over_exposure_flagged(views):
    photo, mask = views["back"]
    dark = (photo * 0.05).astype(np.uint8)
    bright = np.clip(photo.astype(np.float32) * 4.0, 0, 255).astype(np.uint8)
    assert "dark" in codes(check_view(dark, mask, "back", QualityConfig()))
    assert "bright" in codes(check_view(bright, mask, "back", QualityConfig()))
    assert "bright" not in codes(check_view(photo, mask, "back", QualityConfig()))


def test_white_backdrop_is_not_overexposure(views):
    photo, mask = views["back"]
    backdrop = photo.copy()
    backdrop[mask == 0] = 255  # a white studio wall: the head is still well exposed
    assert "bright" not in codes(check_view(backdrop, mask, "back", QualityConfig()))


def test_greyscale_photo_flagged_not_a_colour_one(views):
    photo, mask = views["top"]
    grey = cv2.cvtColor(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    _, encoded = cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, 80])  # saved as colour JPEG
    reread = cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    config = QualityConfig()
    assert colour_saturation(reread, mask > 0) < 1.0 < config.min_colour_saturation
    assert colour_saturation(photo, mask > 0) > 3 * config.min_colour_saturation
    assert codes(check_view(reread, mask, "top", config)) == ["no_colour"]
    # A clipped-white head has no colour left to measure: overexposed, not greyscale.
    white = np.full_like(photo, 255)
    assert colour_saturation(white, mask > 0) is None
    assert "no_colour" not in codes(check_view(white, mask, "top", config))


def test_low_resolution_and_small_scalp(views):
    photo, mask = views["left"]
    small = cv2.resize(photo, (120, 120), interpolation=cv2.INTER_AREA)
    small_mask = cv2.resize(mask, (120, 120), interpolation=cv2.INTER_NEAREST)
    assert "low_resolution" in codes(check_view(small, small_mask, "left", QualityConfig()))
    # The same head far away: a large canvas with the photo in a corner.
    canvas = np.full((1024, 1024, 3), 128, np.uint8)
    canvas_mask = np.zeros((1024, 1024), np.uint8)
    canvas[:120, :120], canvas_mask[:120, :120] = small, small_mask
    assert "small_scalp" in codes(check_view(canvas, canvas_mask, "left", QualityConfig()))


def test_side_photo_saved_as_top_and_top_as_side(views):
    config = QualityConfig()
    for side in ("left", "right"):
        photo, mask = views[side]
        assert codes(check_view(photo, mask, "top", config)) == ["view_mismatch"]
        assert codes(check_view(photo, mask, "back", config)) == ["view_mismatch"]
    for named in ("left", "right"):
        photo, mask = views["top"]
        assert codes(check_view(photo, mask, named, config)) == ["view_mismatch"]


def test_profile_facing_and_left_right_swap(views):
    config = QualityConfig()
    left, right = views["left"][1], views["right"][1]
    # Unmirrored, the left profile shows the face on the image's right.
    assert ViewShape.from_mask(left).face_offset > config.profile_min_face_offset
    assert ViewShape.from_mask(right).face_offset < -config.profile_min_face_offset
    swapped = check_left_right({"left": right, "right": left}, config)
    assert swapped is not None and swapped.code == "left_right_swapped"
    # One mirrored profile (selfie camera) is common and not flagged.
    assert check_left_right({"left": left[:, ::-1], "right": right}, config) is None


def test_thresholds_come_from_the_config(views, tmp_path):
    photo, mask = views["top"]
    strict = load_config(None, ["quality.blur_min=1e9"]).quality
    assert codes(check_view(photo, mask, "top", strict)) == ["blur"]
    (tmp_path / "q.yaml").write_text("quality:\n  min_side_px: 1000\n")
    assert codes(check_view(photo, mask, "top", load_config(tmp_path / "q.yaml").quality)) \
        == ["low_resolution"]


def test_partial_loss_share_counts_scalp_only():
    mask = np.full((10, 10), CLASS_HAIR, np.uint8)
    mask[:, 6:] = CLASS_SKIN  # 60 scalp pixels, 40 skin
    loss = np.zeros((10, 10), np.float32)
    loss[:3, :6] = 0.5  # 18 partial scalp pixels
    loss[:, 6:] = 0.5  # partial values on skin do not count
    loss[5:, :6] = 1.0  # bald, not partial
    mask[5:, :6] = CLASS_LOSS
    assert partial_share(mask, loss) == pytest.approx(18 / 60)
    assert partial_share(np.zeros((4, 4), np.uint8), np.full((4, 4), 0.5, np.float32)) == 0.0
    config = QualityConfig()
    assert check_partial_loss(mask, loss, config) is None
    flag = check_partial_loss(mask, loss, load_config(None, ["quality.partial_max_share=0.25"]).quality)
    assert flag.code == "partial_loss" and "30% of the scalp" in flag.reason


@pytest.mark.parametrize("pattern, flagged", [("diffuse", True), ("mixed", True),
                                              ("multi_patch", False), ("ophiasis", False)])
def test_partial_loss_flags_thinning_not_patches(tmp_path, pattern, flagged):
    """On the generator's exact truth: thinning is partial loss on most of the scalp; patches
    are haired or bald, partial only along their soft edges."""
    generate(tmp_path, patients=1, visits=1, seed=4, options=SynthOptions(size=(192, 192), pattern=pattern),
             workers=1, progress=False)
    for view in VIEWS:
        mask = read_mask(tmp_path / f"masks/P001/week00/{view}.png")
        loss = read_loss_map(tmp_path / f"loss/P001/week00/{view}.png")
        flag = check_partial_loss(mask, loss, QualityConfig())
        assert (flag is not None) == flagged, (pattern, view, partial_share(mask, loss))
