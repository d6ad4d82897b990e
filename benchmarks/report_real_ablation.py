"""Table of a real_ablation.sh run: each part of configs/real.yaml switched off in turn.

    python benchmarks/report_real_ablation.py RUNS [--machine TEXT] [--note TEXT]

RUNS holds one run folder per ablation (``full``, ``no_selftrain``, ...; as written by
``benchmarks/real_ablation.sh``, or unpacked from its ``logs.tar.gz``). For each run: the
epochs it finished, and at its best epoch by ``view_mae`` the validation view-percent MAE,
hair-loss Jaccard and scalp Jaccard on the labeled real validation photos, next to the
starting model's (``init_metrics.json``). Writes the ``real_ablation`` section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section  # noqa: E402

from autosalt.tablefile import read_table_rows  # noqa: E402

RUNS = {"full": "all parts on (configs/real.yaml)",
        "no_selftrain": "without self-training",
        "no_style": "without restyled renders",
        "no_turns": "quarter turns as in the default (0.15 instead of 0.5)",
        "no_synthetic": "without synthetic replay (real photos only)",
        "no_real": "without real labels (synthetic + style + self-training)"}


def best_row(run: Path) -> tuple[int, dict]:
    rows = read_table_rows(run / "metrics.csv")
    return len(rows), min(rows, key=lambda row: float(row["view_mae"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path)
    parser.add_argument("--machine", default="", help="where the runs trained")
    parser.add_argument("--note", default="", help="a sentence added under the table")
    args = parser.parse_args()
    lines = ["| run | epochs finished | best epoch | view-percent MAE | hair-loss Jaccard | scalp Jaccard |",
             "|---|---|---|---|---|---|"]
    start = None
    for name, what in RUNS.items():
        run = args.runs / name
        if not (run / "metrics.csv").exists():
            continue
        if start is None and (run / "init_metrics.json").exists():
            start = json.loads((run / "init_metrics.json").read_text())
            lines.append(f"| starting model (no training) | - | - | {start['view_mae']:.2f} | "
                         f"{start['loss_jaccard']:.3f} | {start['scalp_jaccard']:.3f} |")
        epochs, row = best_row(run)
        lines.append(f"| {what} | {epochs} | {row['epoch']} | {float(row['view_mae']):.2f} | "
                     f"{float(row['loss_jaccard']):.3f} | {float(row['scalp_jaccard']):.3f} |")
    body = ("## Real-photo training parts: ablation (`benchmarks/real_ablation.sh`, "
            "`benchmarks/report_real_ablation.py`)\n\n"
            f"{args.machine}\n\nEvery run fine-tunes the bundled model of the time from the same start, on "
            "the same data and schedule, with one part of `configs/real.yaml` switched off. Measured on the "
            "labeled real validation photos (photos of norwood_dev's training part kept out of training; "
            "not the held-out check set), at each run's best epoch by view-percent MAE.\n\n"
            + "\n".join(lines) + (f"\n\n{args.note}" if args.note else ""))
    print(body)
    write_section("real_ablation", body)


if __name__ == "__main__":
    main()
