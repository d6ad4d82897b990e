"""The stability benchmark erodes only the outline and scores every view by every method."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bench_stability import METHODS, changes, eroded  # noqa: E402

from autosalt.fileio import write_png_atomic  # noqa: E402


def head_mask() -> np.ndarray:
    """A round head on background: skin below, haired scalp above with a bald patch."""
    yy, xx = np.mgrid[:200, :200]
    mask = np.zeros((200, 200), np.uint8)
    head = (yy - 100) ** 2 + (xx - 100) ** 2 < 80 ** 2
    mask[head] = 2
    mask[head & (yy > 130)] = 1
    mask[head & ((yy - 70) ** 2 + (xx - 100) ** 2 < 20 ** 2)] = 3
    return mask


def test_eroded_takes_exactly_the_outer_ring_of_the_head():
    mask = head_mask()
    changed = eroded(mask)
    lost = (mask > 0) & (changed == 0)
    assert lost.any() and ((changed == mask) | lost).all()  # nothing else changes
    assert lost[100, 21] and not lost[100, 22] and not lost[100, 100]  # the edge pixel only


def test_changes_scores_each_view_by_each_method(tmp_path):
    mask = head_mask()
    loss = np.where(mask == 3, 255, 0).astype(np.uint8)
    for folder, image in (("masks", mask), ("loss", loss)):
        target = tmp_path / folder / "P1" / "week00" / "left.png"
        target.parent.mkdir(parents=True)
        write_png_atomic(target, image)
    found = changes(tmp_path)
    assert set(found) == set(METHODS) and all(len(values) == 1 for values in found.values())
    assert found["pixel"][0] < 1.0  # a one-pixel ring moves a pixel percent by a fraction of a point
