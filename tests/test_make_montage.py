"""The docs' montage script lays tiles out in a grid with white gaps (torchvision's make_grid)."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from make_montage import grid  # noqa: E402


def test_grid_puts_tiles_in_rows_with_white_gaps():
    tiles = [np.full((3, 4, 3), value, np.uint8) for value in (10, 20, 30)]
    picture = grid(tiles, columns=2, gap=1)
    assert picture.shape == (2 * (3 + 1) + 1, 2 * (4 + 1) + 1, 3) and picture.dtype == np.uint8
    assert (picture[1:4, 1:5] == 10).all() and (picture[1:4, 6:10] == 20).all()
    assert (picture[5:8, 1:5] == 30).all()
    assert (picture[5:8, 6:10] == 255).all()  # no fourth tile: background
    assert (picture[0] == 255).all() and (picture[:, 5] == 255).all()  # the gaps
