"""Pictures of synthetic data for the docs: a montage of varied visits, the photo looks, and
one README visit.

    python scripts/make_montage.py --data data/sample --out docs/images
Generates its own montage set (seed 4242) and looks set (seed 4243), and draws one visit of
--data with its scores.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch
from torchvision.utils import make_grid

from autosalt.contract import VIEWS
from autosalt.fileio import read_mask, read_photo, write_png_atomic
from autosalt.synth.generate import SynthOptions, generate
from autosalt.synth.looks import LOOKS
from autosalt.tablefile import read_table_rows

#: Mask colours (RGB): background black, skin beige, haired scalp green, loss red, ignore blue.
MASK_COLOURS = np.zeros((256, 3), np.uint8)
MASK_COLOURS[1], MASK_COLOURS[2], MASK_COLOURS[3], MASK_COLOURS[255] = \
    (230, 190, 150), (60, 160, 70), (225, 45, 45), (110, 110, 255)


def tile(root: Path, patient: str, visit: str, view: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    photo = read_photo(next((root / "photos" / patient / visit).glob(f"{view}.*")))
    mask = MASK_COLOURS[read_mask(root / "masks" / patient / visit / f"{view}.png")]
    return (cv2.resize(photo, (size, size), interpolation=cv2.INTER_AREA),
            cv2.resize(mask, (size, size), interpolation=cv2.INTER_NEAREST))


def grid(tiles: list[np.ndarray], columns: int, gap: int = 2) -> np.ndarray:
    """Tiles (each (H, W, 3) uint8, all one size) in rows of ``columns``, ``gap`` white pixels
    around each (torchvision's ``make_grid``)."""
    batch = torch.from_numpy(np.stack(tiles)).permute(0, 3, 1, 2)
    return make_grid(batch, nrow=columns, padding=gap, pad_value=255).permute(1, 2, 0).numpy()


def label(image: np.ndarray, text: str) -> np.ndarray:
    band = np.full((26, image.shape[1], 3), 255, np.uint8)
    cv2.putText(band, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (20, 20, 20), 1, cv2.LINE_AA)
    return np.concatenate([band, image], axis=0)


def montage(out: Path, visits: int = 8, size: int = 160) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        rows = generate(root, patients=visits, visits=1, seed=4242,
                        options=SynthOptions(size=(320, 320)), workers=2, progress=False)
        lines = []
        for row in rows:
            photos, masks = zip(*(tile(root, row["patient"], row["visit"], view, size) for view in VIEWS))
            line = grid([*photos, *masks], columns=2 * len(VIEWS))
            lines.append(label(line, f"{row['pattern']}: SALT {row['salt']:.1f}  (top {row['top']:.1f}, "
                                     f"left {row['left']:.1f}, right {row['right']:.1f}, "
                                     f"back {row['back']:.1f})"
                                     "   photos: top, left, right, back | masks"))
        write_png_atomic(out / "synth_montage.png", np.concatenate(lines, 0))


def looks(out: Path, patients: int = 3, size: int = 160) -> None:
    """The same heads in every ``synth --look``: the truth is the same, the photos are not."""
    with tempfile.TemporaryDirectory() as folder:
        lines = []
        for look in LOOKS:
            root = Path(folder) / look
            rows = generate(root, patients=patients, visits=1, seed=4243,
                            options=SynthOptions(size=(320, 320), look=look), workers=2,
                            progress=False)
            photos = [tile(root, row["patient"], row["visit"], view, size)[0]
                      for row in rows for view in ("top", "left")]
            lines.append(label(grid(photos, columns=len(photos)), f"--look {look}"))
        write_png_atomic(out / "synth_looks.png", np.concatenate(lines, 0))


def readme_visit(data: Path, out: Path, size: int = 200) -> None:
    truth = read_table_rows(data / "truth.csv")
    row = max(truth, key=lambda r: float(r["salt"]))  # the most affected sample visit
    photos, masks = zip(*(tile(data, row["patient"], row["visit"], view, size) for view in VIEWS))
    photos = [label(p, f"{v}: {float(row[v]):.1f}% loss") for p, v in zip(photos, VIEWS)]
    picture = np.concatenate([np.concatenate(photos, 1),
                              np.concatenate(masks, 1)], 0)
    picture = label(picture, f"{row['patient']} {row['visit']} ({row['pattern']}): true SALT "
                             f"{float(row['salt']):.1f}. Masks: skin, scalp with hair, hair loss")
    write_png_atomic(out / "sample_visit.png", picture)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("data/sample"))
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    args = parser.parse_args()
    montage(args.out)
    looks(args.out)
    readme_visit(args.data, args.out)
    print(f"wrote {args.out / 'synth_montage.png'}, {args.out / 'synth_looks.png'} and "
          f"{args.out / 'sample_visit.png'}")
