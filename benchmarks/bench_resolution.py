"""Models across photo resolutions: the same held-out heads rendered at several sizes.

    python benchmarks/bench_resolution.py [--models models/autosalt-default.pt OTHER.pt ...]
                                          [--sizes 288 384 768] [--patients 30] [--visits 1]
                                          [--seed 3000] [--look default] [--work DIR]
                                          [--no-tta] [--no-refine] [--section resolution]

The network always sees the photo letterboxed to its input size (288 px for the default
model), so a larger photo reaches it downscaled. The generator draws hair strands about one
pixel wide at any size, so the larger the render, the finer its strands are next to the head,
and after downscaling the more they blend into a tint, as the strands of a clinic's
12-megapixel photo do. A model that reads density from what hair looks like at one
resolution will drift as the resolution changes; this measures that drift. ``autosalt synth
--size`` changes only the pixel count, never the heads or the truth, so rendering one seed at
each size gives the same visits with the same exact SALT. Each size is compared with the
first, visit by visit (95% interval from a bootstrap over patients). Writes the
``resolution`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import add_test_time_options, machine, write_section  # noqa: E402
from bench_looks import pipeline_text, render_once, score_variants, table_header  # noqa: E402

from autosalt.synth.render import LOOKS  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, nargs="+", default=[Path("models/autosalt-default.pt")])
    parser.add_argument("--sizes", type=int, nargs="+", default=[288, 384, 768],
                        help="photo sizes (square, px); the first is the reference")
    parser.add_argument("--patients", type=int, default=30)
    parser.add_argument("--visits", type=int, default=1)
    parser.add_argument("--seed", type=int, default=3000)
    parser.add_argument("--look", choices=LOOKS, default="default")
    parser.add_argument("--work", type=Path, default=Path("/tmp/autosalt-resolution"))
    add_test_time_options(parser)
    parser.add_argument("--section", default="resolution", help="section name in docs/benchmarks.md")
    args = parser.parse_args()
    where = machine()
    roots = {f"{size} px": render_once(
        args.work / f"{args.look}_{args.seed}_{args.patients}x{args.visits}_{size}",
        patients=args.patients, visits=args.visits, seed=args.seed, size=size, look=args.look)
        for size in args.sizes}
    rows = score_variants(args.models, roots, args.tta, args.refine, args.upright)
    body = "\n".join([
        "## Models across photo resolutions (`benchmarks/bench_resolution.py`)", "",
        f"Machine: {where}. The same {args.patients * args.visits} held-out visits (seed "
        f"{args.seed}, {args.patients} patients x {args.visits} visits, look {args.look}) "
        f"rendered at {', '.join(str(s) for s in args.sizes)} px square: the heads and the exact "
        "truth are identical, only the pixel count differs; strands are drawn about a pixel wide "
        "at any size, so larger renders have finer hair that blends into a tint once the photo "
        "is downscaled to the network's input, as real high-resolution photos do. "
        f"{pipeline_text(args.tta, args.refine, args.upright)} *Change*: SALT error at that "
        f"size minus at {args.sizes[0]} px, visit by visit, mean with a 95% interval from a "
        "bootstrap over patients. Synthetic accuracy, not clinical accuracy.", "",
        *table_header("photo size", f"{args.sizes[0]} px"), *rows])
    write_section(args.section, body)
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
