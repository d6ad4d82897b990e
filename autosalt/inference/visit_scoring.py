"""Scoring one visit for ``autosalt infer``: decode its photos, predict, run the quality
checks, score the views and write the visit's images and record (:mod:`.batch` runs the
folder, the tables and the command).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from autosalt import __version__
from autosalt.config import InferConfig, QualityConfig
from autosalt.contract import LOSS_MAP_SCALE, STATUS_ERROR, VIEWS
from autosalt.fileio import (
    InputError,
    UnsafePathError,
    path_inside,
    read_photo,
    safe_name,
    write_jpeg_atomic,
    write_json_atomic,
    write_png_atomic,
)
from autosalt.inference.labelme import labelme_document
from autosalt.inference.overlays import labelled, view_overlay, visit_summary
from autosalt.inference.quality import check_left_right, check_partial_loss, check_view
from autosalt.layout import Visit
from autosalt.postprocess.scoring import missing_views_error, score_row
from autosalt.postprocess.values import Observation, split_observations
from autosalt.postprocess.visit import score_visit

#: The files written per view under OUT: (folder, extension).
VIEW_FILES = (("masks", ".png"), ("loss", ".png"), ("overlays", ".jpg"), ("annotations", ".json"))
#: Overlays are for a human look: their long side is capped (masks stay full size).
OVERLAY_MAX_SIDE = 1024


def safe_text(text: str) -> str:
    """Names from the file system as printable UTF-8: undecodable bytes become ``\\xNN``."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@dataclass
class Settings:
    """How each visit is scored; the defaults are the ``infer:`` section's (:class:`InferConfig`)."""

    method: str = InferConfig.method
    tta: bool = InferConfig.tta  # the scoring switches: autosalt.config.SCORING_SWITCHES
    refine: bool = InferConfig.refine
    upright: bool = InferConfig.upright
    allow_partial: bool = InferConfig.allow_partial
    export_annotations: str | None = None
    max_pixels: int = InferConfig.max_pixels
    quality: QualityConfig = field(default_factory=QualityConfig)


@dataclass
class Decoded:
    photos: dict[str, np.ndarray]
    errors: list[str]


def decode_visit(visit: Visit, max_pixels: int) -> Decoded:
    """Read a visit's photos; a file that cannot be read becomes an error naming it."""
    photos, errors = {}, []
    for view, path in visit.views.items():
        try:
            photos[view] = read_photo(path, max_pixels)
        except InputError as error:
            errors.append(safe_text(str(error)))
    return Decoded(photos, errors)


class Outputs:
    """Where one visit's files go under OUT: the ids as folder and file names when they are plain
    names, else :func:`safe_name`'s cleaned form; a path a symbolic link would take out of OUT
    raises :class:`UnsafePathError`."""

    def __init__(self, out: Path, visit: Visit) -> None:
        self.out = out
        self.patient, self.visit = safe_text(visit.patient), safe_text(visit.visit)
        self._patient, self._visit = safe_name(self.patient), safe_name(self.visit)

    def view_file(self, kind: str, view: str, extension: str) -> Path:
        return path_inside(self.out, kind, self._patient, self._visit, f"{view}{extension}")

    @property
    def summary(self) -> Path:
        return path_inside(self.out, "summaries", f"{safe_name(f'{self.patient}_{self.visit}')}.jpg")

    @property
    def record(self) -> Path:
        return path_inside(self.out, "visits", self._patient, f"{self._visit}.json")

    def check(self, views: Sequence[str]) -> None:
        """Raise :class:`UnsafePathError` now if any of the visit's files could not be written."""
        for view in views:
            for kind, extension in VIEW_FILES:
                self.view_file(kind, view, extension)
        _ = self.summary, self.record


def _downscale(image: np.ndarray, max_side: int, interpolation: int) -> np.ndarray:
    scale = max_side / max(image.shape[:2])
    if scale >= 1:
        return image
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=interpolation)


def visit_uncertainty(confidences: Sequence[float]) -> float | None:
    """100 x (1 - the network's confidence), averaged over a visit's predicted views.

    A view's confidence is its mean top-class probability over the predicted head
    (:class:`autosalt.model.predictor.Prediction`). Not a calibrated error bar: a ranking of
    visits by how sure the network was, which on synthetic looks it was not tuned on ranked
    the SALT error well (docs/scoring.md).
    """
    return round(100.0 * (1.0 - float(np.mean(confidences))), 2) if confidences else None


@dataclass
class CheckedViews:
    """A visit's predictions and what the quality checks and the scoring made of them; the
    defaults are a visit that was not predicted."""
    views: list[str] = field(default_factory=list)  # the predicted views, in VIEWS order
    predictions: list = field(default_factory=list)  # their predictions, in the same order
    values: dict[str, float | None] = field(default_factory=dict)  # view -> percent
    errors: list[str] = field(default_factory=list)  # scoring's
    observations: list[Observation] = field(default_factory=list)  # quality checks', scoring's

    def quality_codes(self, view: str) -> list[str]:
        """The view's codes, each once, in the order they were observed."""
        return list(dict.fromkeys(o.code for o in self.observations if o.view == view))


def score_one_visit(visit: Visit, decoded: Decoded, predictor, settings: Settings,
                    out: Path, scoring: dict | None = None) -> tuple[dict, Callable[[], dict]]:
    """Predict, check and score one visit (``scoring``: what it was scored with, kept in the
    record so that ``--resume`` reuses only records scored the same way).

    Returns its record (row + per-view details) and a function that writes the visit's files
    and then, last, the record, and returns the record: run it on a writer thread so that
    encoding and syncing files overlaps with the next visit's prediction.
    """
    started = time.perf_counter()
    names = {view: safe_text(str(path)) for view, path in visit.views.items()}
    outputs = Outputs(out, visit)
    errors, writable = _visit_errors(visit, decoded, outputs)
    can_score = bool(not errors and decoded.photos
                     and (settings.allow_partial or not visit.missing_views))
    row_errors = list(errors)
    if not errors and visit.missing_views and not settings.allow_partial:
        row_errors.append(missing_views_error(visit.missing_views))
    checked = _predict_and_check(decoded, predictor, settings, names) if can_score else CheckedViews()
    row = _visit_row(visit, checked, row_errors, settings, predictor.model_id)
    record = {"row": row, "views": _view_details(names, checked), "model": predictor.model_id,
              "scoring": scoring, "seconds": round(time.perf_counter() - started, 4)}

    def write() -> dict:
        if can_score:
            _write_images(visit, decoded, checked.views, checked.predictions, row, settings, outputs)
        if writable:  # last: the visit counts as done from here on
            write_json_atomic(outputs.record, record)
        return record

    return record, write


def _visit_errors(visit: Visit, decoded: Decoded, outputs: Outputs) -> tuple[list[str], bool]:
    """What stops a visit before prediction (the folder's problems, photos that could not be
    read, a file a link would take out of OUT), and whether its files can be written."""
    errors = [f"{safe_text(visit.patient)}/{safe_text(visit.visit)}: {problem}"
              for problem in visit.problems] + decoded.errors
    try:
        outputs.check(list(visit.views))
    except UnsafePathError as error:
        return errors + [str(error)], False
    return errors, True


def _predict_and_check(decoded: Decoded, predictor, settings: Settings,
                       names: dict[str, str]) -> CheckedViews:
    """Predict the visit's views in one batch, run the quality checks on each and on the
    left/right pair, and turn the masks into per-view percents."""
    views = [view for view in VIEWS if view in decoded.photos]
    predictions = predictor.predict_batch([decoded.photos[view] for view in views], settings.tta,
                                          settings.refine, settings.upright)
    masks = {view: p.mask for view, p in zip(views, predictions)}
    losses = {view: p.loss for view, p in zip(views, predictions)}
    observations = _quality_observations(decoded, views, predictions, masks, names,
                                         settings.quality)
    result = score_visit(masks, losses, names, settings.method)
    return CheckedViews(views, predictions, result.values, result.errors,
                        observations + result.observations)


def _quality_observations(decoded: Decoded, views: list[str], predictions: list,
                          masks: dict[str, np.ndarray], names: dict[str, str],
                          quality: QualityConfig) -> list[Observation]:
    """The quality checks' findings, each with its view, code and reason (naming its file)."""
    observations = []
    for view, prediction in zip(views, predictions):
        view_flags = check_view(decoded.photos[view], prediction.mask, view, quality)
        partial = check_partial_loss(prediction.mask, prediction.loss, quality)
        observations += [Observation(view, flag.code, f"{names[view]}: {flag.reason}")
                         for flag in view_flags + ([partial] if partial else [])]
    swap = check_left_right(masks, quality)
    if swap is not None:  # one reason, both views' codes
        observations += [Observation("left", swap.code, swap.reason),
                         Observation("right", swap.code, "")]
    return observations


def _name_notes(visit: Visit) -> list[str]:
    """A note when the visit's folder or file names are not valid UTF-8."""
    if safe_text(visit.patient) != visit.patient or safe_text(visit.visit) != visit.visit:
        return ["folder or file name is not valid UTF-8 (shown with \\x escapes)"]
    return []


def _visit_row(visit: Visit, checked: CheckedViews, errors: list[str], settings: Settings,
               model_id: str) -> dict:
    """The visit's row of OUT/scores.csv (:data:`SCORE_COLUMNS`)."""
    flags, notes = split_observations(checked.observations, settings.quality.review_codes)
    row = score_row(safe_text(visit.patient), safe_text(visit.visit), checked.values,
                    errors=errors + checked.errors, flags=flags,
                    notes=_name_notes(visit) + notes,
                    allow_partial=settings.allow_partial, method=settings.method, model=model_id)
    row["uncertainty"] = visit_uncertainty([p.confidence for p in checked.predictions])
    row["version"] = __version__
    for view in VIEWS:
        row[f"quality_{view}"] = ";".join(checked.quality_codes(view))
    return row


def _view_details(names: dict[str, str], checked: CheckedViews) -> dict[str, dict]:
    """Per view in the visit's folder: its file, and where predicted its confidence, percent
    and quality flag codes."""
    details: dict[str, dict] = {view: {"file": name} for view, name in names.items()}
    for view, prediction in zip(checked.views, checked.predictions):
        details[view]["confidence"] = round(prediction.confidence, 4)
    for view in VIEWS:
        if view in details:
            details[view]["percent"] = checked.values.get(view)
            details[view]["quality"] = checked.quality_codes(view)
    return details


def _write_images(visit: Visit, decoded: Decoded, views: list[str], predictions: list, row: dict,
                  settings: Settings, outputs: Outputs) -> None:
    tiles, labels = {}, {}
    for view, prediction in zip(views, predictions):
        write_png_atomic(outputs.view_file("masks", view, ".png"), prediction.mask)
        loss_png = np.clip(prediction.loss * LOSS_MAP_SCALE + 0.5, 0, 255).astype(np.uint8)
        write_png_atomic(outputs.view_file("loss", view, ".png"), loss_png)
        photo = _downscale(decoded.photos[view], OVERLAY_MAX_SIDE, cv2.INTER_AREA)
        mask = _downscale(prediction.mask, OVERLAY_MAX_SIDE, cv2.INTER_NEAREST)
        loss = _downscale(prediction.loss, OVERLAY_MAX_SIDE, cv2.INTER_AREA)
        tiles[view] = view_overlay(photo, mask, loss)
        percent = row.get(view)
        flagged = bool(set(row[f"quality_{view}"].split(";")) & set(settings.quality.review_codes))
        text = (f"{view} {percent:.1f}%" if percent is not None else f"{view} n/a") + \
            (" (!)" if flagged else "")
        labels[view] = (text, flagged)
        write_jpeg_atomic(outputs.view_file("overlays", view, ".jpg"),
                          labelled(tiles[view], text, flagged), quality=90)
        if settings.export_annotations == "labelme":
            json_path = outputs.view_file("annotations", view, ".json")
            write_json_atomic(json_path, labelme_document(prediction.mask, visit.views[view], json_path))
    if row["salt"] is not None:
        title = (f"{row['patient']} / {row['visit']}   SALT {row['salt']:.1f}   "
                 f"{row['severity_s']}   AA-IGA {row['aa_iga']}   {row['status']}   "
                 f"uncertainty {row['uncertainty']:.1f}")
    elif row["salt_min"] is not None:
        title = (f"{row['patient']} / {row['visit']}   partial visit: SALT between "
                 f"{row['salt_min']:.1f} and {row['salt_max']:.1f}   {row['status']}")
    else:
        title = f"{row['patient']} / {row['visit']}   SALT not scored   {row['status']}"
    write_jpeg_atomic(outputs.summary, visit_summary(tiles, labels, title, row["status"]), quality=85)


def load_record(outputs: Outputs, visit: Visit, scoring: dict) -> dict | None:
    """A finished visit's record, if it exists, is readable, matches the visit, was scored with
    these settings and model (:mod:`.provenance`) and is not an error (errors are retried: the
    file may have been fixed)."""
    try:
        record = json.loads(outputs.record.read_text(encoding="utf-8"))
        row = record["row"]
    except (OSError, ValueError, KeyError, TypeError):  # UnsafePathError is a ValueError
        return None
    if (row.get("patient"), row.get("visit")) != (safe_text(visit.patient), safe_text(visit.visit)):
        return None
    if record.get("scoring") != scoring or row.get("status") == STATUS_ERROR:
        return None
    return record
