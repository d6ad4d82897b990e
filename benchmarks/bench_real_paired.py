"""Two ways of scoring the same real photos, compared photo by photo.

    python benchmarks/bench_real_paired.py --a WORK/infer_release --b WORK/infer_candidate
        [--check DATASET ...] [--real ../shared/real/norwood_dev]
        [--section NAME --title TITLE --note TEXT]

``--a`` and ``--b`` are ``autosalt infer`` outputs of the same photos (``bench_real.py --work``
keeps them as ``infer_<name>``): two models, or one model with two sets of options. Reports

- per view and over all views, Spearman rho of the view percent against the Norwood level for
  each, and the difference B - A with a 95% interval from a paired bootstrap over photos
  (``autosalt.evaluation.agreement.bootstrap_interval``, the one ``evaluate`` uses);
- with ``--check`` (labeled-data folders of photos both scored; several are pooled): the
  change in each photo's absolute view-percent error and hair-loss IoU, B - A, mean with a 95%
  bootstrap interval over photos, and how many photos got better or worse by over a point.

A paired comparison sees differences that two separate intervals hide: the photos and their
levels are the same, only the scoring differs. Norwood levels are pattern baldness, not
alopecia areata; see bench_real.py for what the measures mean.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402
from bench_real import DEFAULT_REAL, check_metrics, label_rows, photo_rows, read_levels  # noqa: E402

from autosalt.evaluation.agreement import BOOTSTRAP_SEED, bootstrap_interval  # noqa: E402

VIEWS_AND_ALL = ("top", "left", "right", "back", "all")
#: A change in a photo's view-percent error (points) counted as better or worse.
CHANGE = 1.0


def interval(statistic, n: int, seed: int) -> str:
    """`` [low, high]``: the package's seeded percentile bootstrap over photos."""
    low, high = bootstrap_interval(statistic, n, seed)
    return " [-]" if low is None else f" [{low:+.2f}, {high:+.2f}]"


def mean_with_interval(values: np.ndarray, seed: int) -> str:
    return f"{values.mean():+.2f}" + interval(lambda pick: float(values[pick].mean()), len(values), seed)


def rho_change(level: np.ndarray, x_a: np.ndarray, x_b: np.ndarray):
    """The bootstrap statistic: rho(level, B) - rho(level, A) on the photos picked."""
    return lambda pick: float(spearmanr(level[pick], x_b[pick])[0] - spearmanr(level[pick], x_a[pick])[0])


def rho_lines(a: Path, b: Path, real: Path, seed: int) -> list[str]:
    levels = read_levels(real)
    rows_a = {r["id"]: r for r in photo_rows(a, levels) if r["percent"] is not None}
    rows_b = {r["id"]: r for r in photo_rows(b, levels) if r["percent"] is not None}
    lines = ["| view | photos | rho A | rho B | B - A [95% CI] |", "|---|---|---|---|---|"]
    for view in VIEWS_AND_ALL:
        ids = sorted(i for i in rows_a if i in rows_b and view in ("all", rows_a[i]["view"]))
        level = np.array([rows_a[i]["level"] for i in ids], float)
        x_a = np.array([rows_a[i]["percent"] for i in ids])
        x_b = np.array([rows_b[i]["percent"] for i in ids])
        rho_a, rho_b = spearmanr(level, x_a)[0], spearmanr(level, x_b)[0]
        lines.append(f"| {view} | {len(ids)} | {rho_a:.2f} | {rho_b:.2f} | {rho_b - rho_a:+.2f}"
                     f"{interval(rho_change(level, x_a, x_b), len(ids), seed)} |")
    return lines


def check_lines(a: Path, b: Path, checks: list[Path], seed: int) -> list[str]:
    errors, ious = [], []
    for check in checks:
        labels = label_rows(check)  # scored once for both sides
        per_a = {p["id"]: p for p in check_metrics(a, check, labels)[1]}
        per_b = {p["id"]: p for p in check_metrics(b, check, labels)[1]}
        for photo in sorted(set(per_a) & set(per_b)):
            pa, pb = per_a[photo], per_b[photo]
            if pa["percent_error"] is not None and pb["percent_error"] is not None:
                errors.append(abs(pb["percent_error"]) - abs(pa["percent_error"]))
            if pa["loss_iou"] is not None and pb["loss_iou"] is not None:
                ious.append(pb["loss_iou"] - pa["loss_iou"])
    errors, ious = np.array(errors), np.array(ious)
    return ["| measure | photos | B - A, mean [95% CI] | better / worse by over a point |",
            "|---|---|---|---|",
            f"| absolute view-percent error | {len(errors)} | {mean_with_interval(errors, seed)} | "
            f"{int((errors < -CHANGE).sum())} / {int((errors > CHANGE).sum())} |",
            f"| hair-loss IoU | {len(ious)} | {mean_with_interval(ious, seed)} | |"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", type=Path, required=True, help="infer output A (the reference)")
    parser.add_argument("--b", type=Path, required=True, help="infer output B")
    parser.add_argument("--check", type=Path, nargs="*", default=[], help="labeled-data folders")
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL)
    parser.add_argument("--seed", type=int, default=BOOTSTRAP_SEED, help="bootstrap seed")
    parser.add_argument("--section", help="write this section of docs/benchmarks.md")
    parser.add_argument("--title", default="Real photos, paired")
    parser.add_argument("--note", default="", help="what A and B are, written above the tables")
    args = parser.parse_args()
    for out in (args.a, args.b):
        if not (out / "scores.csv").is_file():
            sys.exit(f"{out}: no scores.csv; give an `autosalt infer` output folder")
    lines = [*([args.note, ""] if args.note else []),
             f"A: `{args.a}`, B: `{args.b}`; {machine()}.", "",
             "Spearman rho of the view percent against the Norwood level (paired bootstrap over "
             "photos):", "", *rho_lines(args.a, args.b, args.real, args.seed)]
    if args.check:
        lines += ["", "Against the labels of " + ", ".join(f"`{c.name}`" for c in args.check)
                  + " (B - A per photo; negative error changes are better):", "",
                  *check_lines(args.a, args.b, args.check, args.seed)]
    body = "\n".join(lines)
    print(body)
    if args.section:
        write_section(args.section, f"## {args.title} (`benchmarks/bench_real_paired.py`)\n\n{body}")


if __name__ == "__main__":
    main()
