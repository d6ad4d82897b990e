"""The framing benchmark's wider photos keep the head, its labels and its truth unchanged."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from autosalt.fileio import read_loss_map, read_mask, read_photo, write_jpeg_atomic, write_png_atomic

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bench_framing import frame_wider  # noqa: E402


def test_frame_wider_centres_the_photo_and_pads_labels_as_background(tmp_path):
    source = tmp_path / "source"
    photo = np.zeros((40, 60, 3), np.uint8)
    photo[:] = (30, 90, 150)  # the backdrop
    photo[10:30, 20:40] = 220  # the head
    mask = np.zeros((40, 60), np.uint8)
    mask[10:30, 20:40] = 2
    write_jpeg_atomic(source / "photos/P1/v1/top.jpg", photo, quality=100)
    write_png_atomic(source / "masks/P1/v1/top.png", mask)
    write_png_atomic(source / "loss/P1/v1/top.png", (mask > 0).astype(np.uint8) * 128)
    (source / "truth.csv").write_text("patient,visit,salt\nP1,v1,12.5\n")
    target = frame_wider(source, tmp_path / "wide", 2.0)
    wide, wide_mask = read_photo(target / "photos/P1/v1/top.jpg"), read_mask(target / "masks/P1/v1/top.png")
    assert wide.shape == (80, 120, 3) and wide_mask.shape == (80, 120)
    assert np.array_equal(wide_mask[20:60, 30:90], mask) and wide_mask.sum() == mask.sum()
    assert np.abs(wide[32:48, 52:68].astype(int) - 220).max() < 8  # the head, in the middle
    assert np.abs(wide[5, 5].astype(int) - (30, 90, 150)).max() < 20  # the border: the backdrop
    assert np.isclose(read_loss_map(target / "loss/P1/v1/top.png").sum(), 400 * 128 / 255)
    assert (target / "truth.csv").read_text() == (source / "truth.csv").read_text()
