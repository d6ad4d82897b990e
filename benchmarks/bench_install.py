r"""Benchmark: how long `scripts/setup.sh` takes into a fresh virtual environment, and its size.

Each run exports a git revision of the project (--revision, default HEAD) to a temporary
folder, sets it up into a new virtual environment there (removed afterwards), records the wall
time and `du` size of the environment and of its largest packages, and appends the result to
--record (JSON lines), so runs of several revisions or variants are reported side by side.
Writes the ``## Install`` section of docs/benchmarks.md from every recorded run. pip's
download cache is left as it is: say whether it was warm (--note).

    .venv/bin/python benchmarks/bench_install.py --label before --revision main
    .venv/bin/python benchmarks/bench_install.py --label after
    .venv/bin/python benchmarks/bench_install.py --label runtime \
        --pip-args "-c requirements/constraints.txt ."
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RECORD = Path(tempfile.gettempdir()) / "autosalt-bench-install.jsonl"


def folder_size(path: Path) -> int:
    """Bytes on disk under ``path`` (``du -sk``)."""
    return int(subprocess.run(["du", "-sk", str(path)], check=True, capture_output=True,
                              text=True).stdout.split()[0]) * 1024


def largest_packages(venv: Path, count: int = 5) -> list[tuple[str, int]]:
    site = next(venv.glob("lib/python*/site-packages"))
    sizes = [(entry.name, folder_size(entry)) for entry in site.iterdir()
             if entry.is_dir() and not entry.name.endswith((".dist-info", "__pycache__"))]
    return sorted(sizes, key=lambda item: -item[1])[:count]


def export(revision: str, folder: Path) -> Path:
    """The project's files at ``revision`` in ``folder`` / src (setup.sh links .venv there)."""
    source = folder / "src"
    source.mkdir()
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    return source


def install(repo: Path, venv: Path, pip_args: str | None) -> float:
    """Seconds to set up ``venv`` from ``repo``: its setup.sh, or a plain pip install."""
    environment = dict(os.environ, AUTOSALT_VENV=str(venv), PIP_DISABLE_PIP_VERSION_CHECK="1")
    started = time.perf_counter()
    if pip_args:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *pip_args.split()], cwd=repo,
                       check=True, env=environment)
    else:
        subprocess.run(["bash", "scripts/setup.sh"], cwd=repo, check=True, env=environment,
                       stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def report(records: list[dict]) -> str:
    lines = ["## Install (`benchmarks/bench_install.py`)", "",
             "A fresh virtual environment set up from a checkout: wall time and size on disk "
             "(`du`). With `scripts/setup.sh` that is the package with its `train`, `test` and "
             "`onnx` extras and the two weight packages; *runtime* is `pip install -c "
             "requirements/constraints.txt .` alone (what `autosalt infer` needs).", "",
             "| run | what | time | size | largest packages | machine | note |",
             "|---|---|---|---|---|---|---|"]
    for record in records:
        largest = ", ".join(f"{name} {size / 2**30:.2f} GB" if size >= 2**30 else
                            f"{name} {size / 2**20:.0f} MB" for name, size in record["largest"])
        lines.append(f"| {record['label']} | {record['what']} | {record['seconds']:.0f} s | "
                     f"{record['bytes'] / 2**30:.2f} GB | {largest} | {record['machine']} | "
                     f"{record.get('note', '')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--label", required=True, help="name of this run in the table")
    parser.add_argument("--revision", default="HEAD", help="git revision whose setup to run")
    parser.add_argument("--pip-args", help="instead of setup.sh: pip install these arguments")
    parser.add_argument("--note", default="", help="e.g. whether pip's cache was warm")
    parser.add_argument("--record", type=Path, default=RECORD, help="JSON lines of every run")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="autosalt-install-"))
    venv = folder / "venv"
    try:
        seconds = install(export(args.revision, folder), venv, args.pip_args)
        commit = subprocess.run(["git", "rev-parse", "--short", args.revision], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout.strip()
        record = {"label": f"{args.label} ({commit})", "what": f"pip install {args.pip_args}" if args.pip_args
                  else "scripts/setup.sh", "seconds": seconds, "bytes": folder_size(venv),
                  "largest": largest_packages(venv), "machine": machine(), "note": args.note}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    args.record.parent.mkdir(parents=True, exist_ok=True)
    with args.record.open("a", encoding="utf-8") as stream:
        stream.write(json.dumps(record) + "\n")
    records = [json.loads(line) for line in args.record.read_text(encoding="utf-8").splitlines() if line]
    body = report(records)
    print(body)
    write_section("install", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
