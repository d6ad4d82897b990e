"""Wall-clock time of the retraining tutorial's replay-data command (docs/retraining.md, step 5).

    python benchmarks/bench_replay_data.py [--out DIR] [--patients 300] [--visits 3]

Runs ``autosalt synth DIR --patients 300 --visits 3 --seed 1000 --size 288 288`` as a user
would (a separate process, default workers, progress bar off), or a part of it with fewer
``--patients`` scaled up to the whole, and writes the `replay-data` section of
docs/benchmarks.md with the wall time and the CPU time. DIR (a temporary folder by default)
is deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402

#: The tutorial's replay data: ``--patients 300 --visits 3``.
TUTORIAL_PATIENTS, TUTORIAL_VISITS = 300, 3


def du_megabytes(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=None, help="folder to render into (default: temporary)")
    parser.add_argument("--patients", type=int, default=TUTORIAL_PATIENTS,
                        help="fewer patients measure a part of the command and scale it up")
    parser.add_argument("--visits", type=int, default=TUTORIAL_VISITS)
    parser.add_argument("--keep", action="store_true", help="keep the rendered folder")
    args = parser.parse_args()
    where = machine()
    parent = Path(tempfile.mkdtemp(prefix="autosalt-replay-")) if args.out is None else args.out.parent
    out = args.out or parent / "synthetic_train"
    command = ["autosalt", "synth", str(out), "--patients", str(args.patients), "--visits",
               str(args.visits), "--seed", "1000", "--size", "288", "288", "--quiet"]
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autosalt", *command[1:]], check=True)
    minutes = (time.perf_counter() - started) / 60
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_minutes = (usage.ru_utime + usage.ru_stime) / 60
    size = du_megabytes(out)
    images = sum(1 for _ in (out / "photos").rglob("*.jpg"))
    if not args.keep:
        shutil.rmtree(out)
    visits = args.patients * args.visits
    tutorial_visits = TUTORIAL_PATIENTS * TUTORIAL_VISITS
    scale = tutorial_visits / visits
    shown = (f"autosalt synth data/synthetic_train --patients {TUTORIAL_PATIENTS} --visits "
             f"{TUTORIAL_VISITS} --seed 1000 --size 288 288")
    measured = ("the command itself" if scale == 1 else
                f"the same command with `--patients {args.patients}` ({visits} visits; visits are "
                "rendered independently, so time scales with their number)")
    body = "\n".join([
        "## Replay data for fine-tuning (`benchmarks/bench_replay_data.py`)", "",
        f"Machine: {where}.", "",
        f"`{shown}` (the replay data of docs/retraining.md, step 5; {tutorial_visits} visits, "
        f"default workers). Measured: {measured}: {minutes:.1f} min wall, {cpu_minutes:.1f} "
        f"CPU-minutes, {images} photos with masks and loss maps, {size:.0f} MB. For the tutorial's "
        f"{tutorial_visits} visits: **{cpu_minutes * scale:.0f} CPU-minutes, about "
        f"{cpu_minutes * scale / os.cpu_count():.0f} min on {os.cpu_count()} idle cores** of this "
        f"kind, {size * scale / 1024:.1f} GB; wall time grows with the machine's load (here "
        f"{minutes * scale:.0f} min at the load above).",
    ])
    write_section("replay-data", body)
    print(body)


if __name__ == "__main__":
    main()
