"""Copy LabelMe files into the repository compactly, pointing at the photos where they live.

    python scripts/pack_labels.py SRC DEST --photos ../shared/real/norwood_dev/photos

Each ``SRC/<id>/<visit>/<view>.json`` is written to ``DEST/<id>/<visit>/<view>.json`` with
``imagePath`` relative to its new place (the photos stay outside the repository), polygon
points rounded to whole pixels and simplified (Douglas-Peucker, ``--epsilon`` pixels), and
no indentation: the labels stay small enough to keep in git. Prints, per file, the share of
pixels whose class changed by the simplification (checked by rasterising both).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import cv2
import numpy as np

from autosalt.annotations.labelme import read_labelme
from autosalt.annotations.labels import load_label_table
from autosalt.annotations.shapes import paint_mask
from autosalt.fileio import write_text_atomic


def simplify(points: list, epsilon: float) -> list[list[int]]:
    ring = np.round(np.asarray(points, np.float32)).reshape(-1, 1, 2)
    simple = cv2.approxPolyDP(ring, epsilon, closed=True).reshape(-1, 2)
    return (simple if len(simple) >= 3 else ring.reshape(-1, 2)).astype(int).tolist()


def pack_one(source: Path, target: Path, photo: Path, epsilon: float) -> dict:
    document = json.loads(source.read_text(encoding="utf-8"))
    for shape in document["shapes"]:
        if shape.get("shape_type", "polygon") == "polygon":
            shape["points"] = simplify(shape["points"], epsilon)
    document["imagePath"] = Path(os.path.relpath(photo.resolve(), target.parent.resolve())).as_posix()
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, json.dumps(document, separators=(",", ":")))
    return document


def changed_share(source: Path, target: Path, source_root: Path, target_root: Path) -> float:
    labels = load_label_table()
    before, after = read_labelme(source, source_root), read_labelme(target, target_root)
    size = after.size
    return float((paint_mask(before, size, labels) != paint_mask(after, size, labels)).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--photos", type=Path, required=True, help="PHOTOS/<id>/<visit>/<view>.jpg")
    parser.add_argument("--epsilon", type=float, default=0.7, help="simplification tolerance (pixels)")
    args = parser.parse_args()
    worst = 0.0
    files = sorted(args.source.glob("*/*/*.json"))
    for source in files:
        relative = source.relative_to(args.source)
        photo = args.photos / relative.parent / f"{source.stem}.jpg"
        if not photo.exists():
            raise SystemExit(f"{source}: its photo {photo} is missing")
        target = args.dest / relative
        pack_one(source, target, photo, args.epsilon)
        worst = max(worst, changed_share(source, target, args.source, args.dest))
    print(f"packed {len(files)} label files into {args.dest}; at most {100 * worst:.2f}% of a photo's "
          "pixels changed class by the simplification")


if __name__ == "__main__":
    main()
