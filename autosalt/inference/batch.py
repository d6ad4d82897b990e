"""``autosalt infer`` (= ``python infer.py``): score folders of scalp photos with a model.

    autosalt infer photos/ --out results/ [--model models/autosalt-default.pt]

Reads a photo folder (contract section 2), lists what it found, then scores visit by visit:
decode the photos (``--workers`` threads, a few visits ahead), predict masks, run the quality
checks, turn masks into per-view percents and SALT, and write the visit's outputs::

    OUT/masks/<patient>/<visit>/<view>.png      predicted class ids (contract section 3)
    OUT/loss/<patient>/<visit>/<view>.png       predicted loss fraction x 255
    OUT/overlays/<patient>/<visit>/<view>.jpg   photo + scalp outline + loss heat map + %
    OUT/summaries/<patient>_<visit>.jpg         the four overlays with SALT
    OUT/annotations/<patient>/<visit>/<view>.json   LabelMe polygons (--export-annotations)
    OUT/visits/<patient>/<visit>.json           the visit's row; written last = visit done

``OUT/scores.csv`` and ``OUT/scores.json`` are rebuilt from the rows every few visits and at
the end, and ``OUT/run.json`` records inputs, model, settings, versions, counts and timing.
Every file is written atomically, so a killed run leaves complete files only and
``--resume`` continues with the visits that have no record yet, if the run was scored with the
same model and settings (:mod:`.provenance`). One run at a time writes to an OUT (:mod:`.lock`).
Only one visit's images are
in memory at a time (plus the prefetched ones), so memory stays flat with study size.
One visit's scoring (decode, predict, check, score, write) is :mod:`.visit_scoring`.
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import resource
import sys
import time
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from autosalt import __version__
from autosalt.config import (
    INFER_CHOICES,
    SCORING_SWITCHES,
    InferConfig,
    check_infer,
    check_quality,
    load_config,
)
from autosalt.contract import STATUS_ERROR, STATUS_FLAGGED, STATUS_OK, VIEWS
from autosalt.fileio import (
    format_cell,
    is_within,
    write_csv_atomic,
    write_json_atomic,
)
from autosalt.inference.lock import output_lock
from autosalt.inference.provenance import check_resumable, scoring_settings
from autosalt.inference.visit_scoring import (
    Outputs,
    Settings,
    decode_visit,
    load_record,
    safe_text,
    score_one_visit,
)
from autosalt.layout import Visit, scan_photo_folder
from autosalt.postprocess.scoring import PREDICTED_COLUMNS

DEFAULT_MODEL = Path("models/autosalt-default.pt")
#: The same file in this checkout, so the default works from any working directory.
BUNDLED_MODEL = Path(__file__).resolve().parents[2] / DEFAULT_MODEL
#: Columns of OUT/scores.csv: the predicted-scores table, the network's uncertainty
#: (:func:`visit_uncertainty`), the autosalt version, and each view's quality flag codes (the
#: reasons are in ``flags``).
SCORE_COLUMNS: tuple[str, ...] = PREDICTED_COLUMNS + ("uncertainty", "version") + tuple(
    f"quality_{view}" for view in VIEWS)
TABLE_REFRESH_VISITS = 25  # rewrite scores.csv/json after this many newly scored visits
LIST_LIMIT = 15  # lines of each list shown before the run


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"K/N"`` (K counts from 1) -> (K, N)."""
    if text is None:
        return None
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected K/N, e.g. 3/10") from None
    if not 1 <= index <= count:
        raise ValueError(f"--shard {text!r}: K must be between 1 and N")
    return index, count


def shard_of(visit: Visit, count: int) -> int:
    """The shard (1..count) a visit belongs to: a hash of its ids, so every job agrees without
    talking to the others and adding photos never moves an existing visit to another shard."""
    key = f"{visit.patient}\0{visit.visit}".encode("utf-8", "surrogateescape")
    return zlib.crc32(key) % count + 1


def write_tables(out: Path, records: list[dict], model_id: str, method: str) -> None:
    rows = [record["row"] for record in records]
    write_csv_atomic(out / "scores.csv", rows, SCORE_COLUMNS)
    json_rows = []
    for record in records:
        row = {column: record["row"].get(column) for column in SCORE_COLUMNS}
        for column in ("salt", *VIEWS, "salt_min", "salt_max"):
            if row[column] is not None:
                row[column] = round(float(row[column]), 2)
        json_rows.append({**row, "views": record.get("views", {})})
    write_json_atomic(out / "scores.json", {
        "autosalt_version": __version__, "model": model_id, "method": method,
        "columns": list(SCORE_COLUMNS), "rows": json_rows})


def _versions(backend: str) -> dict:
    import PIL
    import torch

    versions = {"autosalt": __version__, "python": platform.python_version(), "numpy": np.__version__,
                "torch": torch.__version__, "opencv": cv2.__version__, "pillow": PIL.__version__}
    if backend == "onnxruntime":
        import onnxruntime

        versions["onnxruntime"] = onnxruntime.__version__
    return versions


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB.

    On Linux from ``VmHWM`` in ``/proc/self/status``: ``getrusage``'s ``ru_maxrss`` there keeps
    the peak of the process that started this one (it survives fork and exec), so a run started
    from a large process, such as a benchmark that rendered its photos first, would report that
    process's memory. Elsewhere ``ru_maxrss`` (bytes on macOS, KiB on other systems).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def load_predictor(model: Path, backend: str, precision: str, out: Path):
    """The predictor for ``--backend``; a checkpoint given to onnxruntime is exported first."""
    from autosalt.model.checkpoint import CheckpointError

    if model == DEFAULT_MODEL and not model.exists() and BUNDLED_MODEL.exists():
        model = BUNDLED_MODEL
    if not model.exists():
        hint = (" The default model is missing from this checkout: restore models/ (git "
                "checkout models), train one with 'autosalt train' (see docs/retraining.md) and "
                "copy its best.pt there, or pass --model PATH." if model == DEFAULT_MODEL else "")
        raise FileNotFoundError(f"{model}: model not found.{hint}")
    try:
        if backend == "onnxruntime":
            from autosalt.inference.onnx_backend import OnnxPredictor, export_onnx

            if model.suffix != ".onnx":
                model = export_onnx(model, out / "model.onnx")
            return OnnxPredictor(model), model
        from autosalt.model.precision import native_bf16
        from autosalt.model.predictor import Predictor

        bf16 = precision == "bf16" or (precision == "auto" and native_bf16("cpu"))
        return Predictor(model, bf16=bf16, channels_last=True), model
    except CheckpointError as error:
        raise ValueError(str(error)) from None


def _print_list(title: str, items: list[str]) -> None:
    if not items:
        return
    print(f"{title} ({len(items)}):")
    for item in items[:LIST_LIMIT]:
        print(f"  {safe_text(item)}")
    if len(items) > LIST_LIMIT:
        print(f"  ... and {len(items) - LIST_LIMIT} more")


def infer(photos: Path, out: Path, predictor, settings: Settings, *, resume: bool = False,
          workers: int = 1, shard: tuple[int, int] | None = None, progress: bool = True,
          run_info: dict | None = None) -> list[dict]:
    """Score every visit of ``photos`` (this shard's share) into ``out``; returns the records.

    Holds ``out``'s lock (:mod:`.lock`) while it writes; with ``resume``, ``out`` must have been
    scored with the same settings and model (:func:`.provenance.check_resumable`).
    """
    started = time.perf_counter()
    if is_within(out, photos):
        raise ValueError(f"{out}: output folder is inside the input folder {photos}; the input "
                         "is never written, choose another --out")
    scan = scan_photo_folder(photos)
    visits = scan.visits
    print(f"found {safe_text(str(photos))}: {scan.summary()}")
    _print_list("visits with missing views", [
        f"{v.patient}/{v.visit}: missing {', '.join(v.missing_views)}" for v in visits if v.missing_views])
    _print_list("visits with duplicate or ambiguous files", [
        f"{v.patient}/{v.visit}: {'; '.join(v.problems)}" for v in visits if v.problems])
    _print_list("skipped", scan.skipped)
    if shard is not None:
        visits = [visit for visit in visits if shard_of(visit, shard[1]) == shard[0]]
        print(f"shard {shard[0]}/{shard[1]}: {len(visits)} of {len(scan.visits)} visits")
    run_info = dict(run_info or {})
    scoring = scoring_settings(asdict(settings), predictor.model_id, run_info)
    run_info.update({
        "scoring": scoring,
        "inputs": {"photos": safe_text(str(photos.resolve())), "visits_found": len(scan.visits),
                   "visits_in_shard": len(visits), "skipped": [safe_text(s) for s in scan.skipped]},
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "status": "running"})
    out.mkdir(parents=True, exist_ok=True)
    with output_lock(out, "autosalt infer"):
        if resume:
            check_resumable(out, scoring)
        for leftover in out.rglob(".*.tmp"):  # temporary files of a killed run's atomic writes
            leftover.unlink(missing_ok=True)
        write_json_atomic(out / "run.json", run_info)
        return _score_visits(visits, out, predictor, settings, scoring, resume=resume,
                             workers=workers, progress=progress, run_info=run_info,
                             files_skipped=len(scan.skipped), started=started)


def _score_visits(visits: list[Visit], out: Path, predictor, settings: Settings, scoring: dict, *,
                  resume: bool, workers: int, progress: bool, run_info: dict, files_skipped: int,
                  started: float) -> list[dict]:
    """Score the visits that have no record yet (all of them without ``resume``), write the
    tables and the finished ``run.json``; returns every visit's record."""
    records, todo = _resumed_records(visits, out, scoring, resume)
    resumed = len(visits) - len(todo)
    if resume:
        print(f"resume: {resumed} visits already done, {len(todo)} to score")
    seconds_scoring = _score_in_pipeline(visits, todo, records, out, predictor, settings, scoring,
                                         workers=workers, progress=progress)
    done = _finished(records)
    write_tables(out, done, predictor.model_id, settings.method)
    run_info.update(_run_summary(done, scored_now=len(todo), resumed=resumed,
                                 files_skipped=files_skipped, started=started,
                                 seconds_scoring=seconds_scoring))
    write_json_atomic(out / "run.json", run_info)
    return done


def _resumed_records(visits: list[Visit], out: Path, scoring: dict,
                     resume: bool) -> tuple[list[dict | None], list[int]]:
    """Each visit's finished record where ``resume`` finds one (:func:`load_record`), else
    None; and the indexes of the visits left to score."""
    records: list[dict | None] = [None] * len(visits)
    todo = []
    for index, visit in enumerate(visits):
        record = load_record(Outputs(out, visit), visit, scoring) if resume else None
        if record is None:
            todo.append(index)
        else:
            records[index] = record
    return records, todo


def _finished(records: list[dict | None]) -> list[dict]:
    return [record for record in records if record is not None]


def _score_in_pipeline(visits: list[Visit], todo: list[int], records: list[dict | None], out: Path,
                       predictor, settings: Settings, scoring: dict, *, workers: int,
                       progress: bool) -> float:
    """Score the visits ``todo`` indexes, in order, into ``records``: photos decoded a few visits
    ahead on ``workers`` threads, prediction here, files written on a writer thread, the tables
    refreshed every :data:`TABLE_REFRESH_VISITS` visits. Returns the seconds spent scoring."""
    from tqdm import tqdm

    seconds_scoring = 0.0
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool, \
            ThreadPoolExecutor(max_workers=1) as writer, \
            tqdm(total=len(todo), desc="infer", unit="visit", disable=not progress) as bar:
        decoding: deque = deque()  # (index, future of Decoded), in visit order
        writing: deque = deque()  # (index, future of the record), in visit order
        queue = iter(todo)
        prefetch = max(1, workers) + 1  # visits decoded ahead; bounds memory

        def submit_next() -> None:
            index = next(queue, None)
            if index is not None:
                decoding.append((index, pool.submit(decode_visit, visits[index], settings.max_pixels)))

        def finish_oldest() -> None:
            index, future = writing.popleft()
            records[index] = future.result()
            bar.update(1)

        for _ in range(prefetch):
            submit_next()
        since_refresh = 0
        while decoding:
            index, future = decoding.popleft()
            decoded = future.result()
            submit_next()
            start = time.perf_counter()
            _, write = score_one_visit(visits[index], decoded, predictor, settings, out, scoring)
            seconds_scoring += time.perf_counter() - start
            del decoded
            writing.append((index, writer.submit(write)))
            while len(writing) > 1:  # at most one visit's images wait for the disk
                finish_oldest()
            since_refresh += 1
            if since_refresh >= TABLE_REFRESH_VISITS:
                write_tables(out, _finished(records), predictor.model_id, settings.method)
                since_refresh = 0
        while writing:
            finish_oldest()
    return seconds_scoring


def _run_summary(done: list[dict], *, scored_now: int, resumed: int, files_skipped: int,
                 started: float, seconds_scoring: float) -> dict:
    """What a finished run adds to ``run.json``: status, finish time, counts and timing."""
    statuses = [record["row"]["status"] for record in done]
    elapsed = time.perf_counter() - started
    return {
        "status": "complete", "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "counts": {"visits": len(done), "scored_now": scored_now, "resumed": resumed,
                   **{status: statuses.count(status)
                      for status in (STATUS_OK, STATUS_FLAGGED, STATUS_ERROR)},
                   "files_skipped": files_skipped},
        "timing": {"seconds_total": round(elapsed, 3),
                   "seconds_per_scored_visit": round(elapsed / scored_now, 4) if scored_now else None,
                   "seconds_scoring_per_visit":
                       round(seconds_scoring / scored_now, 4) if scored_now else None,
                   "peak_rss_mb": round(peak_rss_mb(), 1)}}


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("photos", type=Path, help="photo folder: PHOTOS/<patient>/<visit>/<view>.jpg "
                                                  "or PHOTOS/<patient>_<visit>_<view>.jpg")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help=f"checkpoint (.pt) or exported .onnx (default: {DEFAULT_MODEL})")
    parser.add_argument("--method", choices=INFER_CHOICES["method"], default=None,
                        help=f"masks -> per-view percent (default: {InferConfig.method})")
    parser.add_argument("--backend", choices=INFER_CHOICES["backend"], default=None,
                        help="torch (default) or onnxruntime (a .pt model is exported to OUT/model.onnx)")
    parser.add_argument("--precision", choices=INFER_CHOICES["precision"], default=None,
                        help="torch backend: auto (default: bf16 autocast where the CPU or GPU runs "
                             "bf16 natively, else fp32), fp32, or bf16 (where native; else fp32 "
                             "with a notice)")
    for switch in SCORING_SWITCHES:
        parser.add_argument(f"--{switch.name}", action=argparse.BooleanOptionalAction, default=None,
                            help=f"{switch.does} (default: "
                                 f"{'on' if getattr(InferConfig, switch.name) else 'off'}; "
                                 f"--no-{switch.name}: {switch.without})")
    parser.add_argument("--allow-partial", action=argparse.BooleanOptionalAction, default=None,
                        help="report visits with missing views: the views present and the SALT "
                             "range they allow (salt_min, salt_max; no SALT), flagged")
    parser.add_argument("--resume", action="store_true",
                        help="skip visits already written in OUT; OUT must have been scored with "
                             "the same model and settings")
    parser.add_argument("--workers", type=int, default=None, help="photo-decoding threads (default 1)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--shard", metavar="K/N",
                        help="score only shard K of N (K from 1, e.g. $((SLURM_ARRAY_TASK_ID+1))/N); "
                             "join the shards' tables with 'autosalt merge'")
    parser.add_argument("--export-annotations", choices=("labelme",),
                        help="also write predictions as LabelMe polygons under OUT/annotations/")
    parser.add_argument("--max-pixels", type=int, default=None,
                        help=f"refuse photos above this many pixels (default {InferConfig.max_pixels:,})")
    parser.add_argument("--config", type=Path,
                        help="YAML config: its infer: section sets these options' defaults, its "
                             "quality: section the thresholds (the options above override it)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set quality.blur_min=20 (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import torch

    config = load_config(args.config, args.overrides)
    options = command_line_settings(config.infer, args)
    check_quality(config.quality)
    shard = parse_shard(args.shard)
    if not args.photos.is_dir():
        raise FileNotFoundError(f"{args.photos}: photo folder not found")
    if args.threads:
        torch.set_num_threads(args.threads)
    predictor, model_path = load_predictor(args.model, options.backend, options.precision, args.out)
    settings = Settings(method=options.method, tta=options.tta, refine=options.refine,
                        upright=options.upright, allow_partial=options.allow_partial,
                        export_annotations=args.export_annotations, max_pixels=options.max_pixels,
                        quality=config.quality)
    run_info = {
        "command": "autosalt infer", "model": {
            "path": safe_text(str(model_path)), "id": predictor.model_id, "sha256": _sha256(model_path),
            "input_size": predictor.input_size, "metrics": predictor.metrics,
            "validated_on": predictor.validated_on},
        "settings": {**asdict(options),
                     "precision": "bf16" if predictor.bf16 else "fp32",  # as run, not as asked
                     "resume": args.resume, "torch_threads": torch.get_num_threads(),
                     "shard": args.shard, "export_annotations": args.export_annotations,
                     "quality": vars(config.quality)},
        "versions": _versions(options.backend)}
    records = infer(args.photos, args.out, predictor, settings, resume=args.resume,
                    workers=options.workers, shard=shard, progress=not args.quiet, run_info=run_info)
    return print_summary(args.out, records)


def command_line_settings(defaults: InferConfig, args: argparse.Namespace) -> InferConfig:
    """The config's ``infer:`` section with every option given on the command line put in."""
    given = {key: getattr(args, key) for key in defaults.__dataclass_fields__
             if getattr(args, key, None) is not None}
    options = replace(defaults, **given)
    check_infer(options)
    return options


def print_summary(out: Path, records: list[dict]) -> int:
    """The end-of-run summary; exit code 0 when every row is ok or flagged."""
    rows = [record["row"] for record in records]
    counts = {status: sum(row["status"] == status for row in rows)
              for status in (STATUS_OK, STATUS_FLAGGED, STATUS_ERROR)}
    print(f"wrote {out / 'scores.csv'}: {len(rows)} visits, {counts[STATUS_OK]} ok, "
          f"{counts[STATUS_FLAGGED]} flagged, {counts[STATUS_ERROR]} error")
    for row in rows:
        if row["status"] == STATUS_ERROR:
            print(f"  error {row['patient']}/{row['visit']}: {format_cell(row['flags'])}", file=sys.stderr)
    if not rows:
        print("no visits to score", file=sys.stderr)
    return 0 if rows and not counts[STATUS_ERROR] else 1
