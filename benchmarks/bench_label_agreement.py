"""How well two people's labels of the same real photos agree (label quality).

    python benchmarks/bench_label_agreement.py [--first data/real/labels/check]
                                               [--second data/real/labels/second]

``--second`` holds photos labelled again, independently, by another labeler; each is
compared with the same photo in ``--first``: IoU per class over the pixels neither marked
ignore (pooled over photos, and the median photo), and the difference of the hair-loss
percent of the scalp. The figures bound what a model can be shown to reach on these labels.
Writes the ``label_agreement`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402

from autosalt.annotations.importer import import_annotations  # noqa: E402
from autosalt.contract import CLASS_HAIR, CLASS_IGNORE, CLASS_LOSS, CLASS_SKIN  # noqa: E402
from autosalt.evaluation.masks import loss_fraction  # noqa: E402
from autosalt.fileio import read_mask  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
REGIONS = {"background": (0,), "skin": (CLASS_SKIN,), "scalp with hair": (CLASS_HAIR,),
           "hair loss": (CLASS_LOSS,), "scalp (hair + loss)": (CLASS_HAIR, CLASS_LOSS)}


def masks_of(labels: Path, work: Path) -> dict[str, np.ndarray]:
    result = import_annotations(labels, work, "labelme")
    if result.errors:
        sys.exit("\n".join(result.errors))
    return {path.parts[-3]: read_mask(path) for path in sorted((work / "masks").glob("*/*/*.png"))}


def agreement(first: dict, second: dict) -> tuple[list[str], int]:
    shared = sorted(set(first) & set(second))
    pooled = {name: [0, 0] for name in REGIONS}
    per_photo: dict[str, list[float]] = {name: [] for name in REGIONS}
    percent_gaps = []
    for photo_id in shared:
        a, b = first[photo_id], second[photo_id]
        valid = (a != CLASS_IGNORE) & (b != CLASS_IGNORE)
        for name, classes in REGIONS.items():
            in_a, in_b = np.isin(a, classes) & valid, np.isin(b, classes) & valid
            inter, union = int((in_a & in_b).sum()), int((in_a | in_b).sum())
            pooled[name][0] += inter
            pooled[name][1] += union
            if union:
                per_photo[name].append(inter / union)
        pa, pb = loss_fraction(a), loss_fraction(b)
        if pa is not None and pb is not None:
            percent_gaps.append(abs(pa - pb))
    lines = ["| region | IoU pooled | IoU median photo [min] |", "|---|---|---|"]
    for name in REGIONS:
        values = per_photo[name]
        lines.append(f"| {name} | {pooled[name][0] / max(pooled[name][1], 1):.3f} | "
                     f"{np.median(values):.3f} [{min(values):.3f}] |" if values else f"| {name} | - | - |")
    lines += ["", f"Hair-loss percent of the scalp (pixels), labeler 1 vs 2: mean absolute difference "
              f"{np.mean(percent_gaps):.1f} points, largest {max(percent_gaps):.1f} (n={len(percent_gaps)})."]
    return lines, len(shared)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--first", type=Path, default=REPO / "data" / "real" / "labels" / "check")
    parser.add_argument("--second", type=Path, default=REPO / "data" / "real" / "labels" / "second")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="label_agreement_"))
    lines, shared = agreement(masks_of(args.first, work / "first"), masks_of(args.second, work / "second"))
    body = (f"{shared} real photos (norwood_dev, held-out part) labelled twice, independently, by two "
            "labelers with `scripts/label_assist.py` (docs/retraining.md, 'A worked real example'); "
            f"{machine()}.\n\n" + "\n".join(lines))
    print(body)
    write_section("label_agreement", "## Real labels: agreement of two labelers "
                  "(`benchmarks/bench_label_agreement.py`)\n\n" + body)


if __name__ == "__main__":
    main()
