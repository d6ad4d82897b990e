"""Models across photo looks: the same held-out heads photographed in every look.

    python benchmarks/bench_looks.py [--models models/autosalt-default.pt OTHER.pt ...]
                                     [--patients 30] [--seed 3000] [--size 384] [--work DIR]
                                     [--looks default studio ...] [--no-tta] [--no-refine]
                                     [--section looks]

A model that learned hair loss, not one generator's way of drawing it, should keep its
accuracy when the photos change while the heads stay the same. ``autosalt synth --look``
changes only the photos (hair texture, room, lighting), never the truth, so rendering one
seed in each look gives the same visits, with the same exact SALT, in each look. Every model
is scored on every look (photos -> network -> ``surface`` post-processing), and each look is
compared with the default look visit by visit: the mean change of the SALT error with a 95%
interval from a bootstrap over patients. Which looks a model was trained on is in its model
card; a look it never saw is the nearest thing here to photos from another renderer or a
clinic. Writes the ``looks`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import add_test_time_options, machine, second_pass_text, upright_text, write_section  # noqa: E402
from bench_finetune import paired_change  # noqa: E402

from autosalt.model.precision import resolve_bf16  # noqa: E402
from autosalt.model.predictor import Predictor  # noqa: E402
from autosalt.synth.render import LOOKS  # noqa: E402
from autosalt.training.data import list_samples  # noqa: E402
from autosalt.training.engine import evaluate  # noqa: E402


def render_once(root: Path, *, patients: int, visits: int, seed: int, size: int, look: str,
                width: int | None = None) -> Path:
    """``autosalt synth`` into ``root`` unless a finished render (truth.csv) is already there;
    photos ``size`` x ``size``, or ``size`` high and ``width`` wide."""
    if not (root / "truth.csv").exists():
        subprocess.run([str(Path(sys.executable).parent / "autosalt"), "synth", str(root),
                        "--patients", str(patients), "--visits", str(visits), "--seed", str(seed),
                        "--size", str(size), str(width or size), "--look", look, "--quiet"], check=True)
    return root


def score_variants(models: list[Path], roots: dict[str, Path], tta: bool, refine: bool,
                   upright: bool) -> list[str]:
    """Table rows: every model on every variant (the same heads rendered differently), each
    variant's SALT error compared visit by visit with the first variant's."""
    rows = []
    reference = next(iter(roots))
    for model in models:
        predictor = Predictor(model)
        results = {name: evaluate(predictor.model, list_samples([root]), predictor.input_size, "cpu",
                                  progress=False, per_visit=True, tta=tta, refine=refine,
                                  upright=upright)
                   for name, root in roots.items()}
        for name, result in results.items():
            if name == reference:
                change = "-"
            else:
                mean, low, high, _, _ = paired_change(results[reference]["visit_errors"],
                                                      result["visit_errors"])
                change = f"{mean:+.2f} [{low:+.2f}, {high:+.2f}]"
            rows.append(f"| `{model}` ({predictor.model_id}) | {name} | {result['visits']} | "
                        f"{result['salt_mae']:.2f} | {result['salt_bias']:+.2f} | {change} | "
                        f"{result['salt_max_error']:.2f} | "
                        f"{result['scalp_jaccard']:.3f} | {result['loss_jaccard']:.3f} | "
                        f"{result['loss_soft_jaccard']:.3f} | {result['fraction_mae']:.3f} |")
            print(rows[-1], flush=True)
    return rows


def pipeline_text(tta: bool, refine: bool, upright: bool) -> str:
    """How every variant is scored, and what the bias column means (for the section text)."""
    return (f"Photos -> network ({'bf16' if resolve_bf16(True, 'cpu') else 'fp32'}"
            f"{', averaged with the mirrored photo' if tta else ''}"
            f"{'; ' + second_pass_text() if refine else ''}"
            f"{'; ' + upright_text() if upright else ''}) -> `surface` -> SALT. "
            "*SALT bias*: mean signed error (negative = under-call).")


def table_header(variant: str, reference: str) -> list[str]:
    return [f"| model | {variant} | visits | SALT MAE | SALT bias | change vs {reference} [95% CI] | "
            "SALT max | scalp Jaccard | hair-loss Jaccard | hair-loss soft Jaccard | "
            "loss-fraction MAE |", "|---|---|---|---|---|---|---|---|---|---|---|"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, nargs="+", default=[Path("models/autosalt-default.pt")])
    parser.add_argument("--patients", type=int, default=30)
    parser.add_argument("--visits", type=int, default=2)
    parser.add_argument("--seed", type=int, default=3000)
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--work", type=Path, default=Path("/tmp/autosalt-looks"))
    parser.add_argument("--looks", nargs="+", choices=LOOKS, default=list(LOOKS),
                        help="looks to render and score (the default look is always included)")
    add_test_time_options(parser)
    parser.add_argument("--section", default="looks", help="section name in docs/benchmarks.md")
    args = parser.parse_args()
    looks = ["default"] + [look for look in LOOKS if look in args.looks and look != "default"]
    where = machine()
    roots = {look: render_once(args.work / f"{look}_{args.seed}_{args.patients}x{args.visits}_{args.size}",
                               patients=args.patients, visits=args.visits, seed=args.seed,
                               size=args.size, look=look) for look in looks}
    rows = score_variants(args.models, roots, args.tta, args.refine, args.upright)
    body = "\n".join([
        "## Models across photo looks (`benchmarks/bench_looks.py`)", "",
        f"Machine: {where}. The same {args.patients * args.visits} held-out visits (seed "
        f"{args.seed}, {args.patients} patients x {args.visits} visits, {args.size}x{args.size}) "
        f"rendered in each look of `autosalt synth --look` ({', '.join(looks)}): the heads and "
        f"the exact truth are identical, only the photos differ. "
        f"{pipeline_text(args.tta, args.refine, args.upright)} *Change "
        "vs default look*: SALT error in that look minus in the default look, visit by visit, "
        "mean with a 95% interval from a bootstrap over patients. "
        "Which looks each model was trained on: `docs/experiments/model-history.md`. Synthetic accuracy, not "
        "clinical accuracy.", "",
        *table_header("look", "default look"), *rows])
    write_section(args.section, body)
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
