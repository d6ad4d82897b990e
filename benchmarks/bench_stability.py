"""How much a view percent moves when its mask barely changes, per post-processing method.

    python benchmarks/bench_stability.py --scored OUT [--scored OUT2 ...]
        [--section NAME --title TITLE --note TEXT]

``--scored``: ``autosalt infer`` outputs (their ``masks/`` and ``loss/``; ``bench_real.py
--work`` keeps them as ``infer_<name>``). Each view's mask is scored as it is and again with its
head outline eroded by one pixel (3 x 3: the outermost ring of head pixels becomes background),
the loss map unchanged, by every method of ``autosalt.postprocess.visit.score_visit``. A
one-pixel change of the outline is far below what two runs, two machines or two labelers differ
by, so a trustworthy percent hardly moves. Reports per folder and method the median, 90th
percentile and largest absolute change in points, and how many views moved by over 3 points.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402

from autosalt.fileio import read_loss_map, read_mask  # noqa: E402
from autosalt.postprocess import visit  # noqa: E402

#: Every method of ``score_visit``, the default first.
METHODS = tuple(sorted(visit.METHODS, key=lambda method: method != visit.DEFAULT_METHOD))
#: A change (points) counted as a jump.
JUMP = 3.0


def eroded(mask: np.ndarray) -> np.ndarray:
    """``mask`` with the outermost ring of head pixels (classes > 0) set to background."""
    head = (mask > 0).astype(np.uint8)
    inner = cv2.erode(head, np.ones((3, 3), np.uint8))
    changed = mask.copy()
    changed[(head == 1) & (inner == 0)] = 0
    return changed


def changes(scored: Path) -> dict[str, list[float]]:
    """Method -> the absolute change of each view's percent under :func:`eroded`."""
    found: dict[str, list[float]] = {method: [] for method in METHODS}
    for mask_path in sorted((scored / "masks").glob("*/*/*.png")):
        view = mask_path.stem
        loss_path = scored / "loss" / mask_path.relative_to(scored / "masks")
        mask, loss = read_mask(mask_path), read_loss_map(loss_path)
        for method in METHODS:
            before = visit.score_visit({view: mask}, {view: loss}, method=method).values.get(view)
            after = visit.score_visit({view: eroded(mask)}, {view: loss}, method=method).values.get(view)
            if before is not None and after is not None:
                found[method].append(abs(after - before))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scored", type=Path, action="append", required=True,
                        help="an `autosalt infer` output folder (may be given more than once)")
    parser.add_argument("--section", default=None, help="write this section of docs/benchmarks.md")
    parser.add_argument("--title", default="View percents under a one-pixel change of the outline")
    parser.add_argument("--note", default="", help="a paragraph saying what was scored")
    args = parser.parse_args()
    lines = [f"## {args.title} (`benchmarks/bench_stability.py`)", "",
             f"{machine()}. Each view's mask scored as written by `autosalt infer` and again with "
             "its head outline eroded by one pixel (3 x 3), its loss map unchanged; absolute "
             f"change of the view percent in points; *jumps*: views that moved by over {JUMP:g}.",
             ""]
    if args.note:
        lines += [args.note, ""]
    lines += ["| scored folder | method | views | median change | 90th percentile | largest | jumps |",
              "|---|---|---|---|---|---|---|"]
    for scored in args.scored:
        for method, values in changes(scored).items():
            found = np.array(values)
            if not found.size:
                continue
            lines.append(f"| `{scored}` | `{method}` | {found.size} | {np.median(found):.2f} | "
                         f"{np.percentile(found, 90):.2f} | {found.max():.2f} | "
                         f"{int((found > JUMP).sum())} |")
    text = "\n".join(lines)
    print(text)
    if args.section:
        write_section(args.section, text)


if __name__ == "__main__":
    main()
