"""Where the hair-loss Jaccard is lost, and how high it can be for a given loss-fraction error.

    python benchmarks/bench_loss_jaccard.py --data ROOT [--model models/autosalt-default.pt]
                                            [--edge 3] [--band 0.15]
                                            [--sigmas 0.02 0.04 0.06 0.08] [--no-tta] [--no-refine]
                                            [--section loss_jaccard]

The hair-loss class (contract class 3) splits each scalp pixel's loss fraction at 0.5, so on
diffuse thinning, where the fraction varies smoothly around that split, a small error in the
fraction moves the class boundary a long way. Two parts, on a labeled folder with truth.csv
(its ``pattern`` column groups the rows):

1. **The model's errors.** Every view is predicted as ``autosalt infer`` does; each pixel the
   class masks disagree on (hair loss predicted or true, not both) is put in one of three
   parts: within ``--edge`` px of the true hair-loss boundary; further away, on the true scalp,
   where the true fraction is within ``--band`` of 0.5 (near the split); anything else. Also
   the per-view loss-fraction error: the mean predicted minus the mean true fraction over the
   view's true scalp.
2. **The ceiling.** No network: the exact truth's fraction plus an error of known size, with
   hair loss called on the true scalp where the result is at least 0.5, so boundaries and
   scalp are perfect and only the fraction is off. The error is one constant per view
   (normal, SD sigma) or a smooth random field (SD sigma, correlated over ~1/10 of the photo).

Writes the ``loss_jaccard`` section of docs/benchmarks.md. Synthetic figures, not clinical
accuracy.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import add_test_time_options, machine, second_pass_text, write_section  # noqa: E402

from autosalt.contract import CLASS_IGNORE, CLASS_LOSS, scalp_pixels  # noqa: E402
from autosalt.model.predictor import Predictor  # noqa: E402
from autosalt.tablefile import read_table_rows  # noqa: E402
from autosalt.training.data import list_samples, load_targets  # noqa: E402

PARTS = ("hit", "edge", "near", "other")  # hit: true positives; the rest: disagreeing pixels


def error_parts(true_mask: np.ndarray, true_fraction: np.ndarray, predicted_mask: np.ndarray,
                edge: float, band: float) -> dict[str, int]:
    """Hair-loss true positives and the disagreeing pixels split into edge / near / other."""
    valid = true_mask != CLASS_IGNORE
    truth, predicted = (true_mask == CLASS_LOSS) & valid, (predicted_mask == CLASS_LOSS) & valid
    inside = cv2.distanceTransform(truth.astype(np.uint8), cv2.DIST_L2, 3)
    outside = cv2.distanceTransform((~truth).astype(np.uint8), cv2.DIST_L2, 3)
    at_edge = np.where(truth, inside, outside) <= edge
    near = scalp_pixels(true_mask) & (np.abs(true_fraction - 0.5) < band) & ~at_edge
    wrong = truth ^ predicted
    return {"hit": int((truth & predicted).sum()), "edge": int((wrong & at_edge).sum()),
            "near": int((wrong & near).sum()), "other": int((wrong & ~at_edge & ~near).sum())}


def smooth_field(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A random field with SD 1, correlated over about a tenth of the photo."""
    coarse = rng.normal(0.0, 1.0, (12, 12)).astype(np.float32)
    field = cv2.resize(cv2.GaussianBlur(coarse, (0, 0), 1.0), shape[::-1], interpolation=cv2.INTER_CUBIC)
    return (field - field.mean()) / max(float(field.std()), 1e-6)


def ceiling_counts(true_mask: np.ndarray, true_fraction: np.ndarray, error: np.ndarray | float
                   ) -> tuple[int, int]:
    """(intersection, union) of the true hair-loss class and the one read off the true scalp
    from ``true_fraction + error`` at 0.5."""
    valid = true_mask != CLASS_IGNORE
    truth = (true_mask == CLASS_LOSS) & valid
    called = scalp_pixels(true_mask) & valid & (true_fraction + error >= 0.5)
    return int((truth & called).sum()), int((truth | called).sum())


def jaccard(counts: dict[str, int], forgive: tuple[str, ...] = ()) -> float:
    union = counts["hit"] + sum(counts[part] for part in PARTS[1:] if part not in forgive)
    return counts["hit"] / union if union else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="labeled test folder with truth.csv")
    parser.add_argument("--model", type=Path, default=Path("models/autosalt-default.pt"))
    parser.add_argument("--edge", type=float, default=3.0, help="px from the true boundary counted as edge")
    parser.add_argument("--band", type=float, default=0.15, help="|fraction - 0.5| counted as near the split")
    parser.add_argument("--sigmas", type=float, nargs="+", default=[0.02, 0.04, 0.06, 0.08])
    parser.add_argument("--seed", type=int, default=0, help="seed of the ceiling's random errors")
    add_test_time_options(parser)
    parser.add_argument("--section", default="loss_jaccard")
    args = parser.parse_args()
    where = machine()
    predictor = Predictor(args.model, bf16=True, channels_last=True)
    pattern = {(r["patient"], r["visit"]): r["pattern"] for r in read_table_rows(args.data / "truth.csv")}
    rng = np.random.default_rng(args.seed)
    counts = defaultdict(lambda: dict.fromkeys(PARTS, 0))
    view_errors = defaultdict(list)
    kinds = [("0", 0.0)] + [(f"{kind} {s:g}", s) for kind in ("view", "field") for s in args.sigmas]
    ceiling = defaultdict(lambda: np.zeros(2))  # (group, kind) -> (intersection, union)
    for sample in tqdm(list_samples([args.data]), desc="views", unit="view"):
        photo, true_mask, loss = load_targets(sample)
        true_fraction = loss.astype(np.float32) / 255.0
        prediction = predictor.predict_batch([photo], args.tta, args.refine)[0]
        parts = error_parts(true_mask, true_fraction, prediction.mask, args.edge, args.band)
        scalp = scalp_pixels(true_mask)
        field = smooth_field(true_mask.shape, rng)
        for group in ("all", pattern[(sample.patient, sample.visit)]):
            for part in PARTS:
                counts[group][part] += parts[part]
            if scalp.any():
                view_errors[group].append(float(prediction.loss[scalp].mean() - true_fraction[scalp].mean()))
        for name, sigma in kinds:
            error = sigma * (field if name.startswith("field") else rng.normal())
            result = ceiling_counts(true_mask, true_fraction, error)
            for group in ("all", pattern[(sample.patient, sample.visit)]):
                ceiling[(group, name)] += result
    groups = ["all"] + sorted(g for g in counts if g != "all")
    lines = [
        "## Where the hair-loss Jaccard is lost (`benchmarks/bench_loss_jaccard.py`)", "",
        f"Machine: {where}. Model `{args.model}` ({predictor.model_id}); test set `{args.data}`. "
        f"Photos -> network ({'bf16' if predictor.bf16 else 'fp32'}"
        + (", averaged with the mirrored photo's prediction" if args.tta else "")
        + (f"; {second_pass_text()}" if args.refine else "")
        + f"). Each pixel where the predicted and true hair-loss classes disagree is counted once: "
        f"*edge*, within {args.edge:g} px of the true hair-loss boundary; *near 0.5*, further away on "
        f"the true scalp where the true loss fraction is within {args.band:g} of the 0.5 split; "
        f"*other*, the rest (loss called on haired scalp or off the scalp, bald skin missed). "
        "*View fraction error*: per view, the mean predicted minus the mean true loss fraction over "
        "the true scalp (SD and mean absolute value). Synthetic accuracy, not clinical accuracy.", "",
        "| pattern | views | hair-loss Jaccard | errors: edge | near 0.5 | other | Jaccard, edge forgiven "
        "| edge and near 0.5 forgiven | view fraction error SD | mean abs |",
        "|---|---|---|---|---|---|---|---|---|---|"]
    for group in groups:
        c, errors = counts[group], np.array(view_errors[group])
        wrong = max(sum(c[p] for p in PARTS[1:]), 1)
        lines.append(f"| {group} | {len(errors)} | {jaccard(c):.3f} | "
                     + " | ".join(f"{c[p] / wrong:.0%}" for p in PARTS[1:])
                     + f" | {jaccard(c, ('edge',)):.3f} | {jaccard(c, ('edge', 'near')):.3f} | "
                     f"{errors.std():.3f} | {np.abs(errors).mean():.3f} |")
    lines += ["", "**Ceiling** (no network): hair loss read off the exact truth's loss fraction plus an "
              "error of SD sigma, constant over each view (*view*) or a smooth random field "
              f"(*field*), on the true scalp; seed {args.seed}. Hair-loss Jaccard:", "",
              "| pattern | " + " | ".join(name.replace(" ", " sigma ") if name != "0" else "no error"
                                          for name, _ in kinds) + " |",
              "|---|" + "---|" * len(kinds)]
    for group in groups:
        cells = [ceiling[(group, name)] for name, _ in kinds]
        lines.append(f"| {group} | " + " | ".join(f"{hit / union:.3f}" if union else "n/a (no loss)"
                                                  for hit, union in cells) + " |")
    write_section(args.section, "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
