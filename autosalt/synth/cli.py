"""``autosalt synth OUT --patients N --visits V --seed S``: a synthetic labeled dataset."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from autosalt.synth.generate import SynthOptions, generate
from autosalt.synth.looks import LOOKS
from autosalt.synth.patterns import PATTERN_WEIGHTS, VISIT_WEEKS


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, help="folder to write photos/, masks/, loss/, truth.csv")
    parser.add_argument("--patients", type=int, default=4, help="number of patients (default 4)")
    parser.add_argument("--visits", type=int, default=2,
                        help=f"visits per patient, at weeks {list(VISIT_WEEKS)} (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--size", type=int, nargs=2, default=(512, 512), metavar=("H", "W"),
                        help="photo height and width in pixels (default 512 512)")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes (default: one per CPU core)")
    parser.add_argument("--pattern", choices=sorted(PATTERN_WEIGHTS), default=None,
                        help="make every patient this pattern (default: a mix)")
    parser.add_argument("--stratify", action="store_true",
                        help="deal patterns to patients in proportion to their weights instead of "
                        "drawing each at random (small sets keep the usual mix)")
    parser.add_argument("--irregularity", type=float, default=1.0,
                        help="head shape departure from an ellipsoid (default 1; 3 = odd skulls)")
    parser.add_argument("--max-roll", type=float, default=6.0,
                        help="largest camera roll in degrees (default 6)")
    parser.add_argument("--extra-tilt", type=float, default=0.0,
                        help="add up to +- this many degrees to each camera's elevation and "
                             "azimuth (default 0)")
    parser.add_argument("--frame-cut", action="store_true",
                        help="frame the head so tightly that it runs out of the photo")
    parser.add_argument("--no-occluders", action="store_true", help="no hair clips or fingers")
    parser.add_argument("--look", choices=LOOKS, default="default",
                        help="photo look: default (the training distribution); drape (teal drape, "
                             "ring flash, green cast), coily (tightly coiled hair, patterned "
                             "wallpaper, a warm side lamp), studio (closely cropped hair, dark "
                             "backdrop, cool light from above) or short (the default look with a "
                             "short haircut): other looks, see docs/retraining.md; "
                             "mixed: each visit draws light, room, hair texture and grading from "
                             "default, drape and coily; varied: the same from a wider family "
                             "(also wavy hair, window backlight, rooms out of focus, tiled walls, "
                             "phone HDR, dim rooms); broad: varied plus short haircuts; none "
                             "ever draws studio's parts")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    options = SynthOptions(size=tuple(args.size), irregularity=args.irregularity,
                           max_roll_deg=args.max_roll, extra_tilt_deg=args.extra_tilt,
                           frame_cut=args.frame_cut,
                           occluders=not args.no_occluders, pattern=args.pattern,
                           stratify=args.stratify,
                           look=args.look)
    if min(options.size) < 64:
        raise ValueError(f"--size {options.size} is too small; use at least 64 64")
    started = time.perf_counter()
    rows = generate(args.out, args.patients, args.visits, args.seed, options, args.workers,
                    progress=not args.quiet)
    elapsed = time.perf_counter() - started
    print(f"wrote {len(rows)} visits to {args.out} in {elapsed:.1f} s "
          f"({len(rows) / elapsed:.2f} visits/s); truth in {args.out / 'truth.csv'}")
    return 0
