"""The by-eye labelling helpers (autosalt.annotations.assist, scripts/label_assist.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from autosalt.annotations.assist import (
    cut_out_head,
    labelling_view,
    paint_polygon,
    split_scalp_by_colour,
)
from autosalt.annotations.importer import import_annotations
from autosalt.contract import CLASS_BACKGROUND, CLASS_HAIR, CLASS_LOSS, CLASS_SKIN
from autosalt.fileio import read_mask, write_jpeg_atomic, write_png_atomic

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "label_assist.py"


def scalp_photo(size: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Left half bare skin (smooth, pink), right half dark hair (noisy); all scalp in the mask,
    plus a skin-coloured face strip along the bottom."""
    rng = np.random.default_rng(seed)
    photo = np.zeros((size, size, 3), np.uint8)
    photo[:, : size // 2] = (225, 170, 150)
    hair = rng.integers(0, 70, (size, size - size // 2, 1)).repeat(3, axis=2)
    photo[:, size // 2:] = hair.astype(np.uint8)
    mask = np.full((size, size), CLASS_HAIR, np.uint8)
    mask[-20:] = CLASS_SKIN
    photo[-20:] = (220, 165, 145)
    return photo, mask


def test_paint_polygon_only_touches_listed_classes_and_copies():
    mask = np.zeros((10, 10), np.uint8)
    mask[:, 5:] = CLASS_HAIR
    painted = paint_polygon(mask, [(0, 0), (9, 0), (9, 9), (0, 9)], CLASS_LOSS, only=[CLASS_HAIR])
    assert (painted[:, 5:] == CLASS_LOSS).all() and (painted[:, :5] == CLASS_BACKGROUND).all()
    assert (mask[:, 5:] == CLASS_HAIR).all()  # input untouched
    with pytest.raises(ValueError, match="at least 3 points"):
        paint_polygon(mask, [(0, 0), (3, 3)], CLASS_LOSS)


def test_split_with_seeds_finds_skin_and_hair():
    photo, mask = scalp_photo()
    split = split_scalp_by_colour(photo, mask, skin_seeds=[(20, 30), (30, 60)],
                                  hair_seeds=[(90, 30), (100, 60)])
    assert (split[:80, 10:50] == CLASS_LOSS).mean() > 0.95
    assert (split[:80, 70:110] == CLASS_HAIR).mean() > 0.95
    assert (split[-20:] == CLASS_SKIN).all()  # only the scalp is re-split


def test_split_inside_region_leaves_the_rest():
    photo, mask = scalp_photo()
    split = split_scalp_by_colour(photo, mask, region=[(0, 0), (59, 0), (59, 49), (0, 49)],
                                  skin_seeds=[(20, 30)], hair_seeds=[(90, 30)])
    assert (split[5:45, 5:55] == CLASS_LOSS).mean() > 0.9
    assert (split[60:95] == CLASS_HAIR).all()


def test_cut_out_head_drops_backdrop_only():
    size = 120
    photo = np.full((size, size, 3), (30, 120, 220), np.uint8)  # blue backdrop
    cv2.circle(photo, (60, 60), 35, (200, 150, 130), -1)  # the head
    mask = np.zeros((size, size), np.uint8)
    cv2.circle(mask, (60, 60), 50, CLASS_HAIR, -1)  # too large: spills on the backdrop
    cut = cut_out_head(photo, mask)
    assert cut[60, 60] == CLASS_HAIR and cut[60, 105] == CLASS_BACKGROUND
    assert not ((cut != CLASS_BACKGROUND) & (mask == CLASS_BACKGROUND)).any()


def test_labelling_view_is_side_by_side():
    photo, mask = scalp_photo()
    view = labelling_view(photo, mask, grid=40)
    assert view.shape == (120, 240, 3) and view.dtype == np.uint8


def test_script_save_imports_back_exactly(tmp_path):
    spec = importlib.util.spec_from_file_location("label_assist", SCRIPT)
    label_assist = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(label_assist)
    photo, mask = scalp_photo()
    mask[:50, :40] = CLASS_LOSS
    mask[:, 110:] = CLASS_BACKGROUND
    write_jpeg_atomic(tmp_path / "photos" / "N1" / "week00" / "top.jpg", photo)
    write_png_atomic(tmp_path / "pre" / "masks" / "N1" / "week00" / "top.png", mask)
    common = ["--work", str(tmp_path / "work"), "--photos", str(tmp_path / "photos")]
    assert label_assist.main(common + ["start", "N1", "--pre", str(tmp_path / "pre")]) == 0
    assert label_assist.main(common + ["paint", "N1", "loss", "60,60 100,60 100,90 60,90",
                                       "--only", "hair"]) == 0
    assert label_assist.main(common + ["undo", "N1"]) == 0
    assert label_assist.main(common + ["paint", "N1", "ignore", "0,0 5,0 5,5"]) == 0
    assert label_assist.main(common + ["save", "N1", "--labels", str(tmp_path / "labels")]) == 0
    document = json.loads((tmp_path / "labels" / "N1" / "week00" / "top.json").read_text())
    assert (tmp_path / "labels" / "N1" / "week00" / document["imagePath"]).resolve() == \
        (tmp_path / "photos" / "N1" / "week00" / "top.jpg").resolve()
    result = import_annotations(tmp_path / "labels", tmp_path / "dataset", "labelme")
    assert not result.errors
    imported = read_mask(tmp_path / "dataset" / "masks" / "N1" / "week00" / "top.png")
    expected = read_mask(tmp_path / "work" / "N1.png")
    assert (imported == expected).mean() > 0.995
    assert (expected[60:90, 60:100] == CLASS_HAIR).all()  # the undone paint is gone
