"""Benchmark: ``score-masks --method surface`` against ``pixel`` on synthetic visits.

Generates (unless present) a main set of 200 visits at 512x512 from seed 9100, which no test
uses, and four robustness sets (perturbed skulls, camera roll up to 15 deg, camera tilt up to
15 deg beyond the default spread, heads cut by the frame); scores each with both methods
through the ``autosalt score-masks`` command; and writes the figures into the
``## Surface post-processing`` section of docs/benchmarks.md.

    .venv/bin/python benchmarks/bench_surface.py --work /tmp/surfbench --workers 2
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402

from autosalt.contract import VIEWS  # noqa: E402
from autosalt.fileio import read_loss_map, read_mask  # noqa: E402
from autosalt.postprocess.surface import surface_method  # noqa: E402

#: name -> (seed, patients, visits, size, extra synth options, what it tests)
SETS = {
    "main": (9100, 100, 2, 512, [], "default generator, 512x512"),
    "irregular": (9101, 20, 2, 256, ["--irregularity", "3"], "perturbed skulls (irregularity 3)"),
    "roll15": (9102, 20, 2, 256, ["--max-roll", "15"], "camera roll up to 15 deg"),
    "tilt15": (9104, 20, 2, 256, ["--extra-tilt", "15"],
               "camera elevation and azimuth each up to 15 deg further off"),
    "framecut": (9103, 20, 2, 256, ["--frame-cut"], "heads cut by the frame"),
}
#: Pattern groups reported separately (truth.csv ``pattern`` values).
GROUPS = {"ophiasis": ("ophiasis",), "near hairline": ("hairline_patch",), "diffuse": ("diffuse",)}


def autosalt(*args: str) -> None:
    subprocess.run([str(Path(sys.executable).parent / "autosalt"), *args], check=True)


def generate(work: Path, name: str, workers: int) -> Path:
    seed, patients, visits, size, extra, _ = SETS[name]
    out = work / name
    if not (out / "truth.csv").exists():
        autosalt("synth", str(out), "--patients", str(patients), "--visits", str(visits),
                 "--seed", str(seed), "--size", str(size), str(size), "--workers", str(workers),
                 "--quiet", *extra)
    return out


def read_rows(path: Path) -> dict[tuple[str, str], dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {(row["patient"], row["visit"]): row for row in csv.DictReader(handle)}


def errors(root: Path, method: str) -> dict:
    """Per-visit SALT and per-view errors of one method (scored by the CLI)."""
    out = root / f"scores_{method}.csv"
    autosalt("score-masks", str(root), "--out", str(out), "--method", method, "--quiet")
    truth, predicted = read_rows(root / "truth.csv"), read_rows(out)
    salt, views, patterns, flagged = [], [], [], 0
    for key, row in truth.items():
        guess = predicted[key]
        flagged += guess["status"] == "flagged"
        salt.append(float(guess["salt"]) - float(row["salt"]))
        views.append([float(guess[v]) - float(row[v]) for v in VIEWS])
        patterns.append(row["pattern"])
    return {"salt": np.array(salt), "views": np.array(views), "patterns": np.array(patterns),
            "flagged": flagged}


def summary(result: dict, keep: np.ndarray | None = None) -> str:
    keep = np.ones(len(result["salt"]), bool) if keep is None else keep
    salt, views = np.abs(result["salt"][keep]), np.abs(result["views"][keep])
    per_view = " / ".join(f"{value:.2f}" for value in views.mean(0))
    return f"{salt.mean():.2f} | {salt.max():.2f} | {views.mean():.2f} | {per_view}"


def time_per_view(root: Path, visits: int = 20) -> tuple[float, float]:
    """Milliseconds per view of ``surface_method`` on 512x512 masks (reading excluded): wall
    time, and this process's CPU time (less inflated when other jobs share the machine)."""
    wall, cpu, count = 0.0, 0.0, 0
    for key in list(read_rows(root / "truth.csv"))[:visits]:
        folder = Path(*key)
        masks = {v: read_mask(root / "masks" / folder / f"{v}.png") for v in VIEWS}
        losses = {v: read_loss_map(root / "loss" / folder / f"{v}.png") for v in VIEWS}
        started, started_cpu = time.perf_counter(), time.process_time()
        surface_method(masks, losses, {})
        wall += time.perf_counter() - started
        cpu += time.process_time() - started_cpu
        count += len(masks)
    return 1000.0 * wall / count, 1000.0 * cpu / count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/surfbench"),
                        help="folder for the generated sets (reused when present)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    lines = ["## Surface post-processing (`benchmarks/bench_surface.py`)", "",
             f"Machine: {machine()}. Masks and loss maps are the generator's true ones; "
             "errors are in SALT points (percent of scalp).", ""]
    table = ["| set | method | visits | flagged | SALT MAE | SALT max | view MAE | "
             "top / left / right / back MAE |", "|---|---|---|---|---|---|---|---|"]
    groups = ["| pattern (main set) | method | visits | SALT MAE | SALT max | view MAE | "
              "top / left / right / back MAE |", "|---|---|---|---|---|---|---|"]
    for name, (seed, _, _, _size, _, what) in SETS.items():
        root = generate(args.work, name, args.workers)
        for method in ("pixel", "surface"):
            result = errors(root, method)
            table.append(f"| {name}: {what}, seed {seed} | {method} | {len(result['salt'])} | "
                         f"{result['flagged']} | {summary(result)} |")
            if name == "main":
                for group, kinds in GROUPS.items():
                    keep = np.isin(result["patterns"], kinds)
                    groups.append(f"| {group} | {method} | {keep.sum()} | {summary(result, keep)} |")
        if name == "main":
            wall_ms, cpu_ms = time_per_view(root)
    lines += table + [""] + groups + ["", f"`surface` time: {wall_ms:.1f} ms per 512x512 view "
                                      f"({cpu_ms:.1f} ms CPU; mean over 20 visits, excluding file "
                                      "reading)."]
    write_section("surface", "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
