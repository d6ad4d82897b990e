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


def cpu_model() -> str:
    """The CPU's name and the vector instructions PyTorch uses on it (e.g. "AMD EPYC, AVX2")."""
    import torch

    from autosalt.model.precision import native_bf16

    name = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip() + ", "
                break
    except OSError:
        pass
    bf16 = "native bf16" if native_bf16("cpu") else "no native bf16"
    return f"{name}{torch.backends.cpu.get_cpu_capability()}, {bf16}"


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{platform.processor() or platform.machine()} ({cpu_model()}), {os.cpu_count()} CPU "
            f"cores, no GPU; {time.strftime('%Y-%m-%d')}; 1-min load average at start {load:.1f}")


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


def add_test_time_options(parser, refine: bool = True) -> None:
    """``--tta`` / ``--no-tta`` and, with ``refine``, ``--refine`` / ``--no-refine`` and
    ``--upright`` / ``--no-upright`` (:data:`autosalt.config.SCORING_SWITCHES`), defaulting to
    what ``autosalt infer`` does, so a benchmark measures the scoring path as shipped."""
    import argparse

    from autosalt.config import SCORING_SWITCHES
    from autosalt.inference.batch import Settings

    for switch in SCORING_SWITCHES:
        if refine or switch.name == "tta":
            parser.add_argument(f"--{switch.name}", action=argparse.BooleanOptionalAction,
                                default=getattr(Settings, switch.name),
                                help=f"{switch.does}, as `autosalt infer` by default "
                                     f"(--no-{switch.name}: {switch.without})")


def upright_text() -> str:
    """What ``upright`` does (for section texts)."""
    return ("again on the photo turned upright where the prediction put the face or neck beside or "
            "above the scalp")


def second_pass_text() -> str:
    """What ``refine`` does, with the shipped crop constants (for section texts)."""
    from autosalt.model.predictor import CROP_MARGIN, CROP_MAX_SHARE

    return (f"again on a square crop around the head found ({CROP_MARGIN:.0%} margin on each "
            f"side), where that crop spans less than {CROP_MAX_SHARE:.0%} of the photo's long side")
