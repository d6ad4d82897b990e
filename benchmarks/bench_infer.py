"""Batch scoring speed and memory: seconds per 4-view visit and peak memory per backend.

    python benchmarks/bench_infer.py [--model models/autosalt-default.pt] [--visits 10 100]
                                     [--size 1024 768] [--backends defaults torch-fp32 torch-bf16 onnxruntime]
                                     [--no-tta] [--no-refine] [--work DIR] [--profile]

Each run is a fresh ``autosalt infer`` process on a study of N visits (a few distinct
synthetic visits rendered at ``--size``, copied N times under new ids, so the cost of
rendering does not limit N); its ``run.json`` gives the wall time of the whole batch
(scanning, decoding, prediction, post-processing, quality checks, writing every output)
and the process's peak resident memory. Time per visit that stays constant and peak memory
that stays flat from the smallest to the largest N show that scoring streams visit by visit.
Without a trained model, an untrained network of the default architecture (unet +
efficientnet_lite0, 256 px input) is timed: speed does not depend on the weights, except
that the second pass (``--refine``) runs only where the predicted head is small.
Writes the ``infer_<cpu capability>`` section of docs/benchmarks.md (e.g. ``infer_avx2``;
``infer_avx2_no_tta`` with ``--no-tta``, ``..._no_refine`` with ``--no-refine``, ``..._3024x4032``
with a ``--size`` other than the default); the torch-bf16 row is skipped where bf16 is not
native (autosalt would run fp32 there). Peak memory is the ``autosalt infer`` process's own
(``VmHWM`` on Linux), not that of this script. The ``defaults`` row is ``autosalt infer`` as a
user runs it (torch, ``--precision auto``); ``--profile`` adds where its time goes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import add_test_time_options, machine, second_pass_text, upright_text, write_section  # noqa: E402

from autosalt.contract import VIEWS  # noqa: E402
from autosalt.model.checkpoint import load_checkpoint  # noqa: E402
from autosalt.model.precision import native_bf16  # noqa: E402
from autosalt.synth.generate import SynthOptions, generate  # noqa: E402

DEFAULT_MODEL = Path("models/autosalt-default.pt")
BACKENDS = {"defaults": [],  # as a user runs it: torch, --precision auto
            "torch-fp32": ["--backend", "torch", "--precision", "fp32"],
            "torch-bf16": ["--backend", "torch", "--precision", "bf16"],
            "onnxruntime": ["--backend", "onnxruntime"]}
TARGET_SECONDS = 0.5
#: Profile breakdown (``--profile``): stage -> (file name, function) whose cumulative time it is.
STAGES = {
    "network (forward passes)": ("predictor.py", "_forward"),
    "masks at photo size (resize, argmax, loss map)": ("predictor.py", "_decode"),
    "post-processing (surface fit, percents, SALT)": ("visit.py", "score_visit"),
    "quality checks": ("visit_scoring.py", "_quality_observations"),
    "writing masks, loss maps, overlays, summary": ("visit_scoring.py", "_write_images"),
}
#: Test-time switches of ``autosalt infer``: option name, and, when it is off, the words the
#: section title gains and its name's suffix.
SWITCHES = (("tta", " without mirror TTA", "_no_tta"),
            ("refine", " without the second pass", "_no_refine"),
            ("upright", " without the upright pass", "_no_upright"))
DEFAULT_SIZE = [1024, 768]  # photo height, width
DISTINCT_VISITS = 4


def untrained_default(folder: Path) -> Path:
    from autosalt.model.checkpoint import make_checkpoint, save_checkpoint
    from autosalt.model.factory import create_model

    path = folder / "untrained-unet-efficientnet_lite0.pt"
    model = create_model("unet", "efficientnet_lite0", pretrained=False)
    save_checkpoint(path, make_checkpoint(model, {"arch": "unet", "encoder": "efficientnet_lite0"},
                                          input_size=256, config={}, model_id="untrained-default-arch"))
    return path


def make_study(source: Path, root: Path, visits: int) -> Path:
    """``root/photos`` with ``visits`` visits, copies of the distinct synthetic ones."""
    distinct = sorted(path for path in (source / "photos").glob("*/*") if path.is_dir())
    for index in range(visits):
        target = root / "photos" / f"S{index:04d}" / "week00"
        target.mkdir(parents=True)
        for view in VIEWS:
            shutil.copy(distinct[index % len(distinct)] / f"{view}.jpg", target / f"{view}.jpg")
    return root / "photos"


def run_once(photos: Path, out: Path, model: Path, backend: str, threads: int | None,
             switches: list[str]) -> dict:
    """``switches``: the test-time options as given to ``autosalt infer`` (``--no-tta``, ...)."""
    command = [sys.executable, "-m", "autosalt", "infer", str(photos), "--out", str(out),
               "--model", str(model), "--quiet", *BACKENDS[backend], *switches]
    if threads:
        command += ["--threads", str(threads)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    info = json.loads((out / "run.json").read_text())
    return {"visits": info["counts"]["visits"], **info["timing"]}


def profile_defaults(source: Path, temporary: Path, model: Path,
                     count: int) -> list[tuple[str, float, float]]:
    """(stage, seconds per visit, share) of one ``autosalt infer`` run with its defaults, under
    cProfile; the last row is the rest of the scoring loop."""
    import pstats

    photos = make_study(source, temporary / "study_profile", count)
    profile = temporary / "infer.prof"
    command = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "autosalt", "infer", str(photos),
               "--out", str(temporary / "out-profile"), "--model", str(model), "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    cumulative = {}
    for (filename, _, function), (_, _, _, seconds, _) in pstats.Stats(str(profile)).stats.items():
        key = (Path(filename).name, function)
        cumulative[key] = cumulative.get(key, 0.0) + seconds
    total = cumulative[("batch.py", "_score_in_pipeline")]
    rows = [(stage, cumulative.get(key, 0.0)) for stage, key in STAGES.items()]
    rows.append(("rest of the scoring loop", total - sum(seconds for _, seconds in rows)))
    return [(stage, seconds / count, seconds / total) for stage, seconds in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--visits", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--size", type=int, nargs=2, default=DEFAULT_SIZE, metavar=("H", "W"),
                        help="photo height and width (other than the default: a section of its own)")
    parser.add_argument("--backends", nargs="+", choices=sorted(BACKENDS), default=list(BACKENDS))
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    add_test_time_options(parser)
    parser.add_argument("--work", type=Path, default=None,
                        help="folder that keeps the rendered photos between runs (default: temporary)")
    parser.add_argument("--no-write", action="store_true", help="print only, keep docs unchanged")
    parser.add_argument("--profile", action="store_true",
                        help="also profile one run with the defaults (cProfile) and report where the "
                             "time goes")
    args = parser.parse_args()
    started_on = machine()
    capability = torch.backends.cpu.get_cpu_capability()
    if "torch-bf16" in args.backends and not native_bf16(torch.device("cpu")):
        print(f"skipping torch-bf16: this CPU ({capability}) has no native bf16, so autosalt "
              "would run it in fp32", flush=True)
        args.backends = [backend for backend in args.backends if backend != "torch-bf16"]
    with tempfile.TemporaryDirectory() as temporary:
        temporary = Path(temporary)
        trained = args.model.is_file()
        model = args.model if trained else untrained_default(temporary)
        input_size = load_checkpoint(model)["input_size"]
        source = (args.work or temporary) / f"source_{args.size[0]}x{args.size[1]}"
        if not (source / "truth.csv").exists():  # kept in --work: 12-megapixel renders take minutes
            generate(source, patients=DISTINCT_VISITS, visits=1, seed=6,
                     options=SynthOptions(size=tuple(args.size)), workers=1, progress=False)
        switches = [f"--{'' if getattr(args, name) else 'no-'}{name}" for name, _, _ in SWITCHES]
        results = []
        for count in args.visits:
            photos = make_study(source, temporary / f"study{count}", count)
            for backend in args.backends:
                out = temporary / f"out-{backend}-{count}"
                result = run_once(photos, out, model, backend, args.threads, switches)
                results.append({"backend": backend, **result})
                print(f"{backend:12s} {count:4d} visits: {result['seconds_per_scored_visit']:.3f} s/visit "
                      f"(model+post {result['seconds_scoring_per_visit']:.3f}), peak RSS "
                      f"{result['peak_rss_mb']:.0f} MB", flush=True)
                shutil.rmtree(out)
            shutil.rmtree(photos.parent)
        breakdown = profile_defaults(source, temporary, model, max(args.visits)) if args.profile else []
    photo_size = "" if args.size == DEFAULT_SIZE else f"{args.size[1]}x{args.size[0]}"
    off = [(words, suffix) for name, words, suffix in SWITCHES if not getattr(args, name)]
    lines = [
        f"## Batch scoring on {capability}{''.join(words for words, _ in off)}"
        f"{f', {photo_size} photos' if photo_size else ''} (`autosalt infer`)", "",
        f"Measured by `benchmarks/bench_infer.py` on {started_on}.",
        f"Model: {'`' + str(args.model) + '`' if trained else 'untrained unet + efficientnet_lite0 (the default architecture; `models/autosalt-default.pt` was not there yet; speed does not depend on the weights)'}, "  # noqa: E501
        f"{input_size} px network input; mirror test-time augmentation "
        f"{'on (`--tta`)' if args.tta else 'off (`--no-tta`)'}; second pass on small heads "
        f"{'on (`--refine`: ' + second_pass_text() + ')' if args.refine else 'off (`--no-refine`)'}; "
        f"upright pass "
        f"{'on (`--upright`: ' + upright_text() + ')' if args.upright else 'off (`--no-upright`)'}; "
        f"photos {args.size[1]}x{args.size[0]} JPEG, 4 views per visit; one "
        "fresh process per row; time = whole batch (scan, decode, predict, post-process, quality "
        "checks, write masks, loss maps, overlays, summary, record and tables) / visits; model "
        "loading excluded. Peak memory = the process's peak resident set size.", "",
        "| backend | visits | s / visit | model + post-processing s / visit | peak RSS (MB) |",
        "|---|---:|---:|---:|---:|"]
    for result in results:
        lines.append(f"| {result['backend']} | {result['visits']} | "
                     f"{result['seconds_per_scored_visit']:.3f} | "
                     f"{result['seconds_scoring_per_visit']:.3f} | {result['peak_rss_mb']:.0f} |")
    best = min(results, key=lambda r: r["seconds_per_scored_visit"])
    verdict = ("met" if best["seconds_per_scored_visit"] <= TARGET_SECONDS else
               f"not met: best {best['seconds_per_scored_visit']:.2f} s ({best['backend']}), "
               f"{best['seconds_per_scored_visit'] / TARGET_SECONDS:.1f}x the target")
    lines += ["", f"Target <= {TARGET_SECONDS} s per 4-view visit on this 2-core CPU: {verdict}."]
    if breakdown:
        lines += ["", f"Where the time goes with the defaults ({max(args.visits)} visits, one run under "
                  "`cProfile`, which slows Python-level code more than the network; photo decoding "
                  "runs in threads the profile does not see):", "",
                  "| stage | s / visit | share of scoring |", "|---|---:|---:|"]
        lines += [f"| {stage} | {seconds:.3f} | {share:.0%} |" for stage, seconds, share in breakdown]
    print("\n".join(lines))
    if not args.no_write:
        write_section(f"infer_{capability.lower()}{''.join(suffix for _, suffix in off)}"
                      f"{f'_{photo_size}' if photo_size else ''}",
                      "\n".join(lines))


if __name__ == "__main__":
    main()
