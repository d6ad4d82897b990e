"""Do the quality flags catch the large errors? Batch scoring, then agreement by status.

    python benchmarks/bench_flags.py --data ROOT [ROOT ...] [--model models/autosalt-default.pt]
                                     [--section flags]

Each ROOT is a labeled folder with ``photos/`` and ``truth.csv`` (e.g. rendered by
``autosalt synth`` from a seed no training run used, in any ``--look``). Its photos are scored
by ``autosalt infer`` exactly as a user would run it (default settings: quality checks,
mirror TTA, ``surface``), and the score table is compared with ``truth.csv`` by
``autosalt evaluate``; the table gives its split by status: visits left ``ok`` against
visits ``flagged`` for review, and how well the ``uncertainty`` column ranks the errors.
Writes the ``flags`` section of docs/benchmarks.md.
Synthetic truth, not clinical accuracy.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402

from autosalt.cli import main as autosalt  # noqa: E402
from autosalt.contract import VIEWS  # noqa: E402
from autosalt.evaluation.evaluate_stats import THIRDS  # noqa: E402
from autosalt.model.predictor import Predictor  # noqa: E402
from autosalt.tablefile import read_table_rows  # noqa: E402
from autosalt.training.data import read_truth  # noqa: E402


def score_and_compare(root: Path, model: Path, work: Path) -> dict:
    """``autosalt infer`` on ROOT's photos, then ``autosalt evaluate`` against its truth; adds
    ``partial``: n, MAE and largest error of the visits flagged ``partial_loss``."""
    out, report = work / "scores", work / "report"
    with contextlib.redirect_stdout(io.StringIO()):
        if autosalt(["infer", str(root / "photos"), "--out", str(out), "--model", str(model)]) != 0:
            raise SystemExit(f"autosalt infer failed on {root}")
        if autosalt(["evaluate", "--pred", str(out / "scores.csv"), "--manual",
                     str(root / "truth.csv"), "--out", str(report)]) != 0:
            raise SystemExit(f"autosalt evaluate failed on {root}")
    metrics = json.loads((report / "metrics.json").read_text())
    metrics["partial"] = partial_loss_errors(out / "scores.csv", root)
    return metrics


def partial_loss_errors(scores: Path, root: Path) -> dict:
    """Absolute SALT errors of the visits with a ``partial_loss`` flag on any view."""
    true = read_truth(root)
    errors = []
    for row in read_table_rows(scores):
        codes = ";".join(row[f"quality_{view}"] for view in VIEWS)
        if "partial_loss" in codes and row["salt"]:
            errors.append(abs(float(row["salt"]) - true[(row["patient"], row["visit"])]))
    return {"n": len(errors), "mae": sum(errors) / len(errors) if errors else None,
            "max": max(errors, default=None)}


def _ci(values: list) -> str:
    return "" if values[0] is None else f" [{values[0]:.2f}, {values[1]:.2f}]"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+", required=True,
                        help="labeled folders with photos/ and truth.csv")
    parser.add_argument("--model", type=Path, default=Path("models/autosalt-default.pt"))
    parser.add_argument("--section", default="flags", help="section name in docs/benchmarks.md")
    args = parser.parse_args()
    where = machine()
    model_id = Predictor(args.model).model_id
    rows = []
    for root in args.data:
        with tempfile.TemporaryDirectory() as temporary:
            metrics = score_and_compare(root, args.model, Path(temporary))
        by_status = metrics["by_status"]
        cells = [f"`{root.name}`", str(metrics["n"]), f"{metrics['mae']:.2f}"]
        for status in ("ok", "flagged"):
            entry = by_status.get(status)
            cells += (["0", "-", "-"] if entry is None else
                      [f"{entry['n']} ({100 * entry['share']:.0f}%)",
                       f"{entry['mae']:.2f}{_ci(entry['mae_ci95'])}", f"{entry['max_abs_error']:.2f}"])
        partial = metrics["partial"]
        cells += (["0", "-"] if not partial["n"] else
                  [f"{partial['n']} ({100 * partial['n'] / metrics['n']:.0f}%)",
                   f"{partial['mae']:.2f} (largest {partial['max']:.2f})"])
        uncertainty = metrics["by_uncertainty"]
        cells += (["-", "-"] if not uncertainty else
                  [f"{uncertainty['spearman_abs_error']:.2f}{_ci(uncertainty['spearman_ci95'])}",
                   " / ".join(f"{uncertainty['thirds'][name]['mae']:.2f}" for name in THIRDS)])
        rows.append("| " + " | ".join(cells) + " |")
        print(rows[-1], flush=True)
    lines = ["## Quality flags against SALT error (`benchmarks/bench_flags.py`)", "",
             f"Machine: {where}. Model `{args.model}` ({model_id}). Each labeled folder's photos "
             "scored by `autosalt infer` with its defaults, the table compared with the exact "
             "truth by `autosalt evaluate` (`by_status`): visits left *ok* against visits "
             "*flagged* for review (blur, exposure, a poor surface fit, views that do not match "
             "their names, most of a view's scalp read as partial loss). *Partial loss*: the "
             "flagged visits with a `partial_loss` flag on any view (diffuse thinning, or short, "
             "fine or light hair read as thinning; `docs/scoring.md`). MAE in SALT points with "
             "a 95% bootstrap interval. *Uncertainty*: the `uncertainty` column (100 x (1 - the "
             "network's mean top-class probability over the head), averaged over the views) against "
             "the absolute SALT error, by `autosalt evaluate` (`by_uncertainty`): Spearman rho with "
             "its 95% interval, and the MAE of the visits in each third from least to most "
             "uncertain. Synthetic truth, not clinical accuracy.", "",
             "| labeled folder | visits | SALT MAE, all | ok visits | MAE, ok | largest error, ok "
             "| flagged visits | MAE, flagged | largest error, flagged | partial loss visits "
             "| MAE, partial loss | uncertainty vs error, Spearman | MAE by uncertainty third |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|", *rows]
    write_section(args.section, "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
