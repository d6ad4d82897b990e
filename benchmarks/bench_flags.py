"""Do the quality flags catch the large errors? Batch scoring, then agreement by status.

    python benchmarks/bench_flags.py --data ROOT [ROOT ...] [--model models/autosalt-default.pt]
                                     [--section flags]

Each ROOT is a labeled folder with ``photos/`` and ``truth.csv`` (e.g. rendered by
``autosalt synth`` from a seed no training run used, in any ``--look``). Its photos are scored
by ``autosalt infer`` exactly as a user would run it (default settings: quality checks,
mirror TTA, ``surface``), and the score table is compared with ``truth.csv`` by
``autosalt evaluate``; the table gives its split by status: visits left ``ok`` against
visits ``flagged`` for review, and how well the ``uncertainty`` column ranks the errors; a
second table takes each quality code on its own: its share of visits, the error with and
without it, and its AUROC for an error over 5 points. Writes the ``flags`` section of
docs/benchmarks.md.
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
from autosalt.config import QualityConfig  # noqa: E402
from autosalt.contract import VIEWS  # noqa: E402
from autosalt.evaluation.evaluate_stats import THIRDS  # noqa: E402
from autosalt.model.predictor import Predictor  # noqa: E402
from autosalt.tablefile import read_table_rows  # noqa: E402
from autosalt.training.data import read_truth  # noqa: E402

#: An error (SALT points) a flag should catch: the AUROC column asks how well it does.
LARGE_ERROR = 5.0


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
    metrics["visits"] = visit_errors(out / "scores.csv", root)
    metrics["partial"] = partial_loss_errors(metrics["visits"])
    return metrics


def visit_errors(scores: Path, root: Path) -> list[tuple[float, set[str], bool]]:
    """Each scored visit's absolute SALT error, its quality codes (any view) and whether it
    was flagged."""
    true = read_truth(root)
    visits = []
    for row in read_table_rows(scores):
        if row["salt"]:
            codes = {code for view in VIEWS for code in row[f"quality_{view}"].split(";") if code}
            visits.append((abs(float(row["salt"]) - true[(row["patient"], row["visit"])]), codes,
                           row["status"] == "flagged"))
    return visits


def partial_loss_errors(visits: list[tuple[float, set[str], bool]]) -> dict:
    """Absolute SALT errors of the visits with a ``partial_loss`` flag on any view."""
    errors = [error for error, codes, _ in visits if "partial_loss" in codes]
    return {"n": len(errors), "mae": sum(errors) / len(errors) if errors else None,
            "max": max(errors, default=None)}


def auroc(scores: list[float], positive: list[bool]) -> float | None:
    """Area under the ROC curve of ``scores`` for ``positive`` (Mann-Whitney, ties count half);
    None without both classes."""
    pos = [s for s, p in zip(scores, positive) if p]
    neg = [s for s, p in zip(scores, positive) if not p]
    if not pos or not neg:
        return None
    wins = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


def code_rows(name: str, visits: list[tuple[float, set[str], bool]]) -> list[str]:
    """Table rows: for *any flag* and each quality code, its share of visits, the SALT MAE of
    the visits with and without it, their ratio, and its AUROC for an error over
    LARGE_ERROR points."""
    rows = []
    large = [error > LARGE_ERROR for error, _, _ in visits]
    codes = sorted({code for _, found, _ in visits for code in found})
    review = set(QualityConfig().review_codes)
    for label, has in [("status `flagged`", [flagged for _, _, flagged in visits])] + [
            (f"`{code}`" + (" (review)" if code in review else " (note)"),
             [code in found for _, found, _ in visits]) for code in codes]:
        with_it = [error for (error, _, _), h in zip(visits, has) if h]
        without = [error for (error, _, _), h in zip(visits, has) if not h]
        mae_with = sum(with_it) / len(with_it) if with_it else None
        mae_without = sum(without) / len(without) if without else None
        ratio = mae_with / mae_without if mae_with is not None and mae_without else None
        area = auroc([float(h) for h in has], large)
        rows.append(f"| `{name}` | {sum(large)} ({100 * sum(large) / len(visits):.0f}%) | {label} | "
                    f"{len(with_it)} ({100 * len(with_it) / len(visits):.0f}%) | "
                    f"{_fmt(mae_with)} | {_fmt(mae_without)} | {_fmt(ratio)} | {_fmt(area)} |")
    return rows


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _ci(values: list) -> str:
    return "" if values[0] is None else f" [{values[0]:.2f}, {values[1]:.2f}]"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+", required=True,
                        help="labeled folders with photos/ and truth.csv")
    parser.add_argument("--model", type=Path, default=Path("models/autosalt-default.pt"))
    parser.add_argument("--section", default="flags", help="section name in docs/benchmarks.md")
    parser.add_argument("--title", default="", help="words after the section's heading, e.g. the model")
    args = parser.parse_args()
    where = machine()
    model_id = Predictor(args.model).model_id
    rows, per_code = [], []
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
        per_code += code_rows(root.name, metrics["visits"])
    title = f": {args.title}" if args.title else ""
    review = ", ".join(f"`{code}`" for code in QualityConfig().review_codes)
    lines = [f"## Quality flags against SALT error{title} (`benchmarks/bench_flags.py`)", "",
             f"Machine: {where}. Model `{args.model}` ({model_id}). Each labeled folder's photos "
             "scored by `autosalt infer` with its defaults, the table compared with the exact "
             "truth by `autosalt evaluate` (`by_status`): visits left *ok* against visits "
             f"*flagged* for review (a view with a review code: {review}; the other codes are "
             "notes that do not flag the visit). *Partial loss*: the "
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
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|", *rows, "",
             f"Each quality code (on any view of the visit) and the status `flagged`: the share of visits "
             f"that carry it, the SALT MAE of the visits with and without it, their ratio, and the "
             f"AUROC of carrying it for an absolute SALT error over {LARGE_ERROR:.0f} points "
             "(0.5 = no better than chance); *(review)* codes flag the visit, *(note)* codes do "
             "not. A flag on at most a quarter of the visits reaches an AUROC of at most (1 + "
             "0.25 / p) / 2 where a share p > 0.25 of the visits has a large error.", "",
             f"| labeled folder | visits with error > {LARGE_ERROR:.0f} | flag | visits with it | "
             f"MAE with | MAE without | ratio | AUROC for error > {LARGE_ERROR:.0f} |",
             "|---|---|---|---|---|---|---|---|", *per_code]
    write_section(args.section, "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
