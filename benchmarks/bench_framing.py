"""Framing: the same held-out heads smaller in the photo, scored with and without ``refine``.

    python benchmarks/bench_framing.py [--model models/autosalt-default.pt] [--looks default studio]
                                       [--factors 1 1.5 2] [--patients 30] [--seed 3000]
                                       [--size 384] [--shapes 512x384 384x512] [--work DIR]
                                       [--no-tta] [--section framing]

The generator frames every head tightly, as the training photos are; clinic photos often
do not (a wider lens, the patient further back, shoulders in view). This renders the test
heads (the seed and looks of ``bench_looks.py``) and places each photo in the middle of a
canvas ``factor`` times larger, filled with the photo's own backdrop colour (the median of its
background pixels, lightly noised and blurred), with the masks and loss maps padded as
background. The heads and their exact SALT are unchanged; only how much of the frame they
fill changes (1 / factor of its width). Each framing is scored with one pass of the network on
the whole photo and with ``refine`` (a second pass on a crop around the head found, as
``autosalt infer`` does by default), compared visit by visit: the mean change of the SALT
error with a 95% interval from a bootstrap over patients. ``--shapes`` adds the same heads
rendered as upright and landscape photos (H x W, as phone cameras take them), default look,
as framed by the generator. Writes the ``framing`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import add_test_time_options, machine, second_pass_text, write_section  # noqa: E402
from bench_finetune import paired_change  # noqa: E402
from bench_looks import pipeline_text, render_once  # noqa: E402

from autosalt.fileio import read_photo, write_jpeg_atomic, write_png_atomic  # noqa: E402
from autosalt.model.predictor import Predictor  # noqa: E402
from autosalt.synth.render import LOOKS  # noqa: E402
from autosalt.training.data import list_samples  # noqa: E402
from autosalt.training.engine import evaluate  # noqa: E402


def frame_wider(source: Path, target: Path, factor: float, seed: int = 0) -> Path:
    """Copy labeled folder ``source`` to ``target`` with every photo in a ``factor`` x larger
    canvas of its own backdrop colour (masks and loss maps padded with 0); truth.csv as is."""
    if (target / "truth.csv").exists():
        return target
    rng = np.random.default_rng(seed)
    for photo_path in sorted((source / "photos").rglob("*.jpg")):
        relative = photo_path.relative_to(source / "photos").with_suffix(".png")
        photo = read_photo(photo_path)  # RGB
        mask = cv2.imread(str(source / "masks" / relative), cv2.IMREAD_UNCHANGED)
        height, width = mask.shape
        big_h, big_w = round(height * factor), round(width * factor)
        top, left = (big_h - height) // 2, (big_w - width) // 2
        backdrop = photo[mask == 0]
        colour = np.median(backdrop, axis=0) if len(backdrop) else np.full(3, 128.0)
        canvas = cv2.GaussianBlur(np.clip(colour + rng.normal(0, 4, (big_h, big_w, 3)), 0, 255)
                                  .astype(np.uint8), (0, 0), 2)
        canvas[top:top + height, left:left + width] = photo
        write_jpeg_atomic(target / "photos" / relative.with_suffix(".jpg"), canvas, quality=95)
        for folder in ("masks", "loss"):
            if (source / folder / relative).exists():
                small = cv2.imread(str(source / folder / relative), cv2.IMREAD_UNCHANGED)
                padded = np.zeros((big_h, big_w), small.dtype)
                padded[top:top + height, left:left + width] = small
                write_png_atomic(target / folder / relative, padded)
    (target / "truth.csv").write_bytes((source / "truth.csv").read_bytes())  # last: marks it done
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/autosalt-default.pt"))
    parser.add_argument("--looks", nargs="+", choices=LOOKS, default=["default", "studio"])
    parser.add_argument("--factors", type=float, nargs="+", default=[1.0, 1.5, 2.0],
                        help="canvas size over photo size (1: as rendered)")
    parser.add_argument("--patients", type=int, default=30)
    parser.add_argument("--visits", type=int, default=2)
    parser.add_argument("--seed", type=int, default=3000)
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--shapes", nargs="*", default=["512x384", "384x512"], metavar="HxW",
                        help="also score the default look rendered at these non-square photo sizes")
    parser.add_argument("--work", type=Path, default=Path("/tmp/autosalt-looks"))
    add_test_time_options(parser, refine=False)  # both ways, always
    parser.add_argument("--section", default="framing", help="section name in docs/benchmarks.md")
    args = parser.parse_args()
    if any(factor < 1 for factor in args.factors):
        parser.error("--factors must be >= 1 (1 = the photo as rendered)")
    try:
        shapes = [tuple(int(side) for side in shape.lower().split("x")) for shape in args.shapes]
    except ValueError:
        parser.error(f"--shapes: expected HxW such as 512x384, got {args.shapes}")
    where = machine()
    predictor = Predictor(args.model)
    variants = []  # (look, photo shape, frame width, labeled folder)
    for look in args.looks:
        rendered = render_once(args.work / f"{look}_{args.seed}_{args.patients}x{args.visits}_{args.size}",
                               patients=args.patients, visits=args.visits, seed=args.seed,
                               size=args.size, look=look)
        variants += [(look, f"{args.size}x{args.size}", factor, rendered if factor == 1 else frame_wider(
            rendered, args.work / f"{rendered.name}_framed{factor:g}", factor)) for factor in args.factors]
    for height, width in shapes:
        variants.append(("default", f"{height}x{width}", 1.0, render_once(
            args.work / f"default_{args.seed}_{args.patients}x{args.visits}_{height}x{width}",
            patients=args.patients, visits=args.visits, seed=args.seed, size=height, look="default",
            width=width)))
    rows = []
    for look, shape, factor, root in variants:
        one, two = (evaluate(predictor.model, list_samples([root]), predictor.input_size, "cpu",
                             progress=False, per_visit=True, tta=args.tta, refine=refine)
                    for refine in (False, True))
        mean, low, high, better, worse = paired_change(one["visit_errors"], two["visit_errors"])
        rows.append(f"| {look} | {shape} | {100 / factor:.0f}% | {one['visits']} | {one['salt_mae']:.2f} | "
                    f"{two['salt_mae']:.2f} | {mean:+.2f} [{low:+.2f}, {high:+.2f}] | "
                    f"{better} / {worse} | {one['salt_bias']:+.2f} -> {two['salt_bias']:+.2f} | "
                    f"{one['loss_jaccard']:.3f} -> {two['loss_jaccard']:.3f} | "
                    f"{one['scalp_jaccard']:.3f} -> {two['scalp_jaccard']:.3f} |")
        print(rows[-1], flush=True)
    body = "\n".join([
        "## Framing: heads smaller in the photo, with and without `refine` "
        "(`benchmarks/bench_framing.py`)", "",
        f"Machine: {where}. Model `{args.model}` ({predictor.model_id}). The same "
        f"{args.patients * args.visits} held-out visits (seed {args.seed}) in each look, each "
        f"{args.size}x{args.size} photo placed in the middle of a canvas "
        f"{', '.join(f'{factor:g}' for factor in args.factors)} times its size, filled with its "
        f"own backdrop colour: *frame width* is the share of the new photo's width that the "
        f"original photo, and so the head, spans. *Photo* (H x W): rows other than "
        f"{args.size}x{args.size} are the same heads rendered upright or landscape, as framed by "
        f"the generator. The heads and the exact SALT are the same in every row. "
        f"{pipeline_text(args.tta, refine=False, upright=False)} *One pass*: the "
        f"network once on the whole photo; *refine*: {second_pass_text()} (`autosalt infer "
        f"--refine`, the default). *Change*: "
        f"refine's SALT error minus one pass's, visit by visit, mean with a 95% interval from a "
        f"bootstrap over patients; *better / worse*: visits whose error fell / rose. Synthetic "
        f"accuracy, not clinical accuracy.", "",
        "| look | photo | frame width | visits | SALT MAE, one pass | SALT MAE, refine | "
        "change [95% CI] | better / worse | SALT bias | hair-loss Jaccard | scalp Jaccard |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *rows])
    write_section(args.section, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
