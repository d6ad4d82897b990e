"""Accuracy of a model end to end on held-out synthetic visits: photos -> network -> SALT.

    python benchmarks/bench_model.py [--model models/autosalt-default.pt] [--data ROOT] [--no-tta]
                                     [--no-refine]
                                     [--section model] [--title TEXT]
                                     [--patients 60] [--seed 3000] [--size 384]

Renders (unless ``--data`` is given) a test set from a seed that no training or validation
run uses, then scores every visit through the same path as batch scoring (letterbox,
network, masks back at full size, post-processing) with both post-processing methods, and
compares with the generator's exact truth: SALT MAE, bias (mean signed error) and max error,
scalp and hair-loss Jaccard, loss-fraction MAE; overall and by pattern (diffuse separately).
These are synthetic figures: they say how well the network learned the generator, not
clinical accuracy.
Writes the ``model`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import add_test_time_options, machine, second_pass_text, upright_text, write_section  # noqa: E402

from autosalt.model.predictor import Predictor  # noqa: E402
from autosalt.synth.generate import SynthOptions, generate  # noqa: E402
from autosalt.tablefile import read_table_rows  # noqa: E402
from autosalt.training.data import list_samples  # noqa: E402
from autosalt.training.engine import evaluate_visits, summarise  # noqa: E402

METHODS = ("pixel", "surface")


def row(name: str, visits: int, metrics: dict) -> str:
    return (f"| {name} | {visits} | {metrics['salt_mae']:.2f} | {metrics['salt_bias']:+.2f} | "
            f"{metrics['salt_max_error']:.2f} | "
            f"{metrics['scalp_jaccard']:.3f} | {metrics['loss_jaccard']:.3f} | "
            f"{metrics['loss_soft_jaccard']:.3f} | {metrics['fraction_mae']:.3f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/autosalt-default.pt"))
    parser.add_argument("--data", type=Path, default=None, help="labeled test folder with truth.csv")
    parser.add_argument("--patients", type=int, default=60)
    parser.add_argument("--visits", type=int, default=2)
    parser.add_argument("--seed", type=int, default=3000)
    parser.add_argument("--size", type=int, default=384, help="photo size of the rendered test set")
    add_test_time_options(parser)
    parser.add_argument("--section", default="model", help="section name in docs/benchmarks.md")
    parser.add_argument("--title", default="Default model on held-out synthetic visits",
                        help="the section's heading")
    args = parser.parse_args()
    where = machine()
    predictor = Predictor(args.model, bf16=True, channels_last=True)
    with tempfile.TemporaryDirectory() as temporary:
        data = args.data
        if data is None:
            data = Path(temporary) / "test"
            generate(data, patients=args.patients, visits=args.visits, seed=args.seed,
                     options=SynthOptions(size=(args.size, args.size)), workers=2, progress=True)
        truth = {(r["patient"], r["visit"]): r["pattern"] for r in read_table_rows(data / "truth.csv")}
        visits = evaluate_visits(predictor.model, list_samples([data]), predictor.input_size, "cpu",
                                 methods=METHODS, tta=args.tta, refine=args.refine,
                                 upright=args.upright)  # once each
    groups = {"all": visits}
    for pattern in sorted(set(truth.values())):
        groups[pattern] = [v for v in visits if truth[(v.patient, v.visit)] == pattern]
    results = {method: {name: summarise(group, method) for name, group in groups.items()}
               for method in METHODS}
    lines = [f"## {args.title} (`benchmarks/bench_model.py`)", "",
             f"Machine: {where}. Model `{args.model}` ({predictor.model_id}); test set "
             + (f"`{args.data}`" if args.data else
                f"rendered with seed {args.seed} ({args.patients} patients x {args.visits} visits, "
                f"{args.size}x{args.size}), a seed no training or validation run uses")
             + f". Photos -> network ({'bf16' if predictor.bf16 else 'fp32'}"
             + (", averaged with the mirrored photo's prediction" if args.tta else "")
             + (f"; {second_pass_text()}" if args.refine else "")
             + (f"; {upright_text()}" if args.upright else "")
             + ") -> post-processing -> "
             "SALT vs the exact truth. *SALT bias*: mean signed error, predicted minus true "
             "(negative = under-call). *Hair-loss Jaccard* compares the class masks, which split "
             "a pixel's loss at 50%; *soft Jaccard* compares the per-pixel loss fractions (sum of "
             "minima / sum of maxima), the measure that fits diffuse thinning. Synthetic "
             "accuracy, not clinical accuracy.", ""]
    for method in METHODS:
        lines += [f"Post-processing `{method}`:", "",
                  "| pattern | visits | SALT MAE | SALT bias | SALT max | scalp Jaccard | "
                  "hair-loss Jaccard | hair-loss soft Jaccard | loss-fraction MAE |",
                  "|---|---|---|---|---|---|---|---|---|"]
        lines += [row(name, metrics["visits"], metrics) for name, metrics in results[method].items()]
        lines.append("")
    write_section(args.section, "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
