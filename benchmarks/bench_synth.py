"""Generator speed, and the `pixel` method on the true masks of 200 synthetic visits.

    python benchmarks/bench_synth.py [--visits 200] [--seed 9100] [--data DIR]

Writes the `synth` section of docs/benchmarks.md. The pixel error is not zero even on true
masks: a photo sees the head in perspective and shows parts of neighbouring areas. That is
what the `surface` method removes (see its section).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402

from autosalt.contract import VIEWS  # noqa: E402
from autosalt.postprocess.score_masks import score_masks  # noqa: E402
from autosalt.synth.generate import SynthOptions, generate  # noqa: E402
from autosalt.tablefile import read_table_rows  # noqa: E402


def speed(visits: int, size: int, workers: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        generate(folder, patients=visits, visits=1, seed=123, options=SynthOptions(size=(size, size)),
                 workers=workers, progress=False)
        return visits / (time.perf_counter() - started)


def accuracy(data: Path, method: str = "pixel") -> tuple[dict, dict]:
    truth = {(r["patient"], r["visit"]): r for r in read_table_rows(data / "truth.csv")}
    rows = score_masks(data, method=method, progress=False)
    errors, by_pattern = defaultdict(list), defaultdict(list)
    for row in rows:
        reference = truth[(row["patient"], row["visit"])]
        if row["salt"] is None:
            continue
        errors["salt"].append(abs(row["salt"] - float(reference["salt"])))
        by_pattern[reference["pattern"]].append(errors["salt"][-1])
        for view in VIEWS:
            errors[view].append(abs(row[view] - float(reference[view])))
    return errors, by_pattern


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--visits", type=int, default=200)
    parser.add_argument("--seed", type=int, default=9100)
    parser.add_argument("--data", type=Path, default=None,
                        help="reuse a dataset made by 'autosalt synth ... --seed 9100' (default: make one)")
    parser.add_argument("--speed-visits", type=int, default=16)
    args = parser.parse_args()
    where = machine()
    rates = {workers: speed(args.speed_visits, 512, workers) for workers in (1, 2)}
    print("visits/s at 512x512:", rates)
    with tempfile.TemporaryDirectory() as folder:
        data = args.data
        if data is None:
            data = Path(folder)
            generate(data, patients=args.visits // 2, visits=2, seed=args.seed,
                     options=SynthOptions(size=(512, 512)), workers=2, progress=True)
        errors, by_pattern = accuracy(data)
    n = len(errors["salt"])
    lines = [
        "## Synthetic generator (`benchmarks/bench_synth.py`)", "", f"Machine: {where}.", "",
        f"Speed at 512x512 (4 views per visit, JPEG + PNG writing included), {args.speed_visits} visits: "
        f"**{rates[1]:.2f} visits/s with 1 process, {rates[2]:.2f} visits/s with 2**.", "",
        f"`score-masks --method pixel` on the true masks and loss maps of {n} visits "
        f"(seed {args.seed}, 512x512) vs `truth.csv` (integrated on the head surface):", "",
        "| | MAE | max error |", "|---|---|---|",
        f"| SALT | {np.mean(errors['salt']):.2f} | {np.max(errors['salt']):.2f} |",
        *[f"| {view} | {np.mean(errors[view]):.2f} | {np.max(errors[view]):.2f} |" for view in VIEWS],
        "", "By pattern (SALT MAE, visits):", "",
        "| pattern | visits | SALT MAE | max |", "|---|---|---|---|",
        *[f"| {pattern} | {len(v)} | {np.mean(v):.2f} | {np.max(v):.2f} |"
          for pattern, v in sorted(by_pattern.items())],
    ]
    write_section("synth", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
