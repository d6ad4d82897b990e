"""Two models on the same labeled visits, paired visit by visit: which one to release.

    python benchmarks/bench_compare.py --models BASE.pt CANDIDATE.pt --data ROOT [ROOT ...]
                                       [--tta {none,candidate,both}] [--refine {none,candidate,both}]
                                       [--section compare] [--title TEXT]

For each labeled folder (contract layout with truth.csv, e.g. from ``autosalt synth``), both
models score every visit through the real path (letterbox, network, masks at full size,
``surface`` post-processing, SALT), and the candidate's SALT error minus the base's is
averaged over the visits with a 95% interval from a bootstrap over patients (a patient's
visits are alike). Render the folders from seeds that no training or validation run used:
a choice made on them is a selection, and the figures on the test sets stay a test only if
the test sets were not used to choose. Writes the ``compare`` section (or ``--section``) of
docs/benchmarks.md. ``--tta candidate`` with the same checkpoint twice measures what mirror
test-time augmentation (``autosalt infer --tta``) changes; ``--refine`` likewise for the
second pass on the head (``autosalt infer --refine``). ``--tta both --refine both`` compares
two models as ``autosalt infer`` ships them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, second_pass_text, write_section  # noqa: E402
from bench_finetune import BOOTSTRAP, paired_change  # noqa: E402

from autosalt.model.predictor import Predictor  # noqa: E402
from autosalt.training.data import list_samples  # noqa: E402
from autosalt.training.engine import evaluate  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, nargs=2, required=True, metavar=("BASE", "CANDIDATE"))
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="labeled folders")
    parser.add_argument("--tta", choices=("none", "candidate", "both"), default="none",
                        help="which model's predictions are averaged with the mirrored photo's")
    parser.add_argument("--refine", choices=("none", "candidate", "both"), default="none",
                        help="which model predicts again on the square around the head it found")
    parser.add_argument("--section", default="compare", help="section name in docs/benchmarks.md")
    parser.add_argument("--title", default="Paired comparison of two models",
                        help="the section's heading")
    args = parser.parse_args()
    for root in args.data:
        if not (root / "truth.csv").is_file():
            parser.error(f"{root}: no truth.csv (a labeled folder from `autosalt synth` is needed)")
    where = machine()
    predictors = [Predictor(path) for path in args.models]
    mirrored = (args.tta == "both", args.tta != "none")
    refined = (args.refine == "both", args.refine != "none")
    rows = []
    for root in args.data:
        samples = list_samples([root])
        base, candidate = (evaluate(p.model, samples, p.input_size, "cpu", progress=False,
                                    per_visit=True, tta=tta, refine=refine)
                           for p, tta, refine in zip(predictors, mirrored, refined))
        mean, low, high, better, worse = paired_change(base["visit_errors"], candidate["visit_errors"])
        rows.append(f"| `{root.name}` | {base['visits']} | {base['salt_mae']:.2f} | "
                    f"{candidate['salt_mae']:.2f} | {mean:+.2f} [{low:+.2f}, {high:+.2f}] | "
                    f"{better} / {worse} | {base['loss_jaccard']:.3f} -> {candidate['loss_jaccard']:.3f} |")
        print(rows[-1], flush=True)
    names = [f"`{path}` ({p.model_id}{', mirror TTA' if tta else ''}{', second pass' if refine else ''})"
             for path, p, tta, refine in zip(args.models, predictors, mirrored, refined)]
    second_pass = (f" A model with *second pass* predicts {second_pass_text()}."
                   if any(refined) else "")
    body = "\n".join([
        f"## {args.title} (`benchmarks/bench_compare.py`)", "",
        f"Machine: {where}. Base {names[0]}; candidate {names[1]}. Photos -> network -> `surface` "
        "-> SALT vs the exact truth; *change*: the candidate's SALT error minus the base's on the "
        f"same visit, averaged, with a 95% interval from {BOOTSTRAP} bootstrap resamples of patients; "
        "*better / worse*: visits whose error fell / rose. Synthetic accuracy, not clinical "
        f"accuracy.{second_pass}", "",
        "| labeled folder | visits | base SALT MAE | candidate SALT MAE | change [95% CI] | "
        "better / worse | hair-loss Jaccard |", "|---|---|---|---|---|---|---|", *rows])
    write_section(args.section, body)
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
