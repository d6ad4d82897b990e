"""Writing one benchmark's section of docs/benchmarks.md between its own markers."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

from autosalt.fileio import write_text_atomic

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = ("# Benchmarks\n\nEvery figure here was measured by the script named in its section "
          "(`benchmarks/`), on the machine and date it states. Synthetic figures are not "
          "clinical accuracy.\n")


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, no GPU; "
            f"{time.strftime('%Y-%m-%d')}; 1-min load average at start {load:.1f}")


def write_section(name: str, body: str) -> None:
    """Replace the text between ``<!-- name:start -->`` and ``<!-- name:end -->`` (or append)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = BENCHMARKS_MD.read_text(encoding="utf-8") if BENCHMARKS_MD.exists() else HEADER
    block = f"{start}\n{body.strip()}\n{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    write_text_atomic(BENCHMARKS_MD, text)
