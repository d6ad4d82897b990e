"""Reading, checking and joining score tables (data contract section 4).

Tables are CSV as any spreadsheet locale saves it, or ``.xlsx``
(:func:`autosalt.tablefile.read_table_rows`). Every problem a user can fix raises
:class:`TableError` (an ``InputError`` and a ``ValueError``, so the CLI prints it) naming the
file, the line and what to do. Tables are read, never written. Ids stay strings (``007``
stays ``007``).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autosalt.contract import MANUAL_REQUIRED, STATUS_ERROR, VIEWS, VISITS_REQUIRED
from autosalt.fileio import InputError
from autosalt.tablefile import TableRow, read_table_rows

Key = tuple[str, str]  # (patient, visit)


class TableError(InputError, ValueError):
    """A score or visits table cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class ScoreRow:
    patient: str
    visit: str
    salt: float
    views: dict[str, float]  # only the views with a value
    rater: str = ""
    status: str = ""
    line: int = 0
    uncertainty: float | None = None  # batch scoring's ``uncertainty`` column, where present
    flags: str = ""  # batch scoring's reasons for a human look, where present
    model: str = ""  # batch scoring's model id, where present

    @property
    def key(self) -> Key:
        return (self.patient, self.visit)


@dataclass(frozen=True)
class ExcludedRow:
    """A predicted row with no SALT: not scored (``error``) or a partial visit (views missing)."""

    key: Key
    reason: str
    partial: bool = False  # some views scored; SALT only known to lie in salt_range
    salt_range: tuple[float, float] | None = None  # (salt_min, salt_max) of a partial visit
    status: str = ""
    flags: str = ""

    def to_json(self) -> dict:
        """The row as the reports' JSON lists it (``excluded`` in metrics.json / summary.json)."""
        patient, visit = self.key
        return {"patient": patient, "visit": visit, "reason": self.reason, "partial": self.partial,
                "salt_min": self.salt_range[0] if self.salt_range else None,
                "salt_max": self.salt_range[1] if self.salt_range else None}


@dataclass
class ScoreTable:
    path: Path
    rows: list[ScoreRow]
    has_rater: bool = False
    excluded: list[ExcludedRow] = field(default_factory=list)  # rows not scored, with reason

    @property
    def models(self) -> list[str]:
        """The model ids of the ``model`` column (empty for a manual table)."""
        return sorted({row.model for row in self.rows if row.model})


def _read(path: Path, required: tuple[str, ...]) -> list[TableRow]:
    try:
        rows = read_table_rows(path, required)
    except InputError as error:
        raise TableError(str(error)) from None
    if not rows:
        raise TableError(f"{path}: table has a header but no rows")
    return rows


def _number(path: Path, row: TableRow, column: str) -> float | None:
    """The cell as a finite number, None when empty; :class:`TableError` otherwise."""
    try:
        value = row.number(column)
    except ValueError:
        raise TableError(f"{path}: {row.where}: {column} {row[column]!r} is not a number") from None
    if value is not None and not math.isfinite(value):
        raise TableError(f"{path}: {row.where}: {column} {row[column]!r} is not a finite number")
    return value


def _percent(path: Path, row: TableRow, column: str,
             meaning: str = "SALT and view values are percents of scalp") -> float:
    value = _number(path, row, column)
    if value is None or value < 0 or value > 100:
        raise TableError(f"{path}: {row.where}: {column} {row.get(column, '')!r} is outside 0..100 "
                         f"({meaning})")
    return value


def _ids(path: Path, row: TableRow) -> tuple[str, str]:
    patient, visit = row.get("patient", ""), row.get("visit", "")
    if not patient or not visit:
        raise TableError(f"{path}: {row.where}: empty patient or visit id")
    return patient, visit


def load_scores(path: str | Path, predicted: bool = False) -> ScoreTable:
    """Read a manual or predicted scores table (columns patient, visit, salt + optional).

    Predicted rows with an empty SALT (``status`` ``error``, or a partial visit that has only
    its ``salt_min``/``salt_max`` range) are excluded and listed with their reason; in a manual
    table an empty SALT is an error. Keys must be unique: (patient, visit), or (patient,
    visit, rater) when the table has a ``rater`` column.
    """
    path = Path(path)
    raw = _read(path, MANUAL_REQUIRED)
    has_rater = "rater" in raw[0]
    rows, excluded = [], []
    for row in raw:
        patient, visit = _ids(path, row)
        status = row.get("status", "").lower()
        if predicted and (not row["salt"] or status == STATUS_ERROR):
            excluded.append(_excluded_row(path, row, (patient, visit), status))
            continue
        if not row["salt"]:
            raise TableError(f"{path}: {row.where}: empty salt for {patient}/{visit}")
        salt = _percent(path, row, "salt")
        views = {view: _percent(path, row, view) for view in VIEWS if row.get(view)}
        rater = row.get("rater", "")
        if has_rater and not rater:
            raise TableError(f"{path}: {row.where}: empty rater for {patient}/{visit}")
        uncertainty = (_percent(path, row, "uncertainty",
                                "batch scoring writes 100 x (1 - the network's confidence)")
                       if predicted and row.get("uncertainty") else None)
        rows.append(ScoreRow(patient, visit, salt, views, rater, status, row.line, uncertainty,
                             row.get("flags", ""), row.get("model", "")))
    _reject_duplicates(path, [(r.patient, r.visit, r.rater) for r in rows], has_rater)
    if not rows:
        raise TableError(f"{path}: no scored rows ({len(excluded)} excluded, e.g. "
                         f"{[entry.reason for entry in excluded[:3]]})")
    return ScoreTable(path, rows, has_rater, excluded)


def _excluded_row(path: Path, row: TableRow, key: Key, status: str) -> ExcludedRow:
    """Why a predicted row has no SALT; a partial visit keeps the SALT range its views allow."""
    flags = row.get("flags", "")
    if status != STATUS_ERROR and row.get("salt_min") and row.get("salt_max"):
        low, high = _percent(path, row, "salt_min"), _percent(path, row, "salt_max")
        return ExcludedRow(key, f"partial visit, SALT between {low:.2f} and {high:.2f}"
                           + (f"; {flags}" if flags else ""), True, (low, high), status, flags)
    reason = f"{status or 'no SALT'}" + (f" ({flags})" if flags else "")
    return ExcludedRow(key, reason, False, None, status, flags)


def _reject_duplicates(path: Path, keys: list[tuple[str, ...]], has_rater: bool) -> None:
    duplicates = [key for key, count in Counter(keys).items() if count > 1]
    if duplicates:
        shown = ", ".join("/".join(part for part in key if part) for key in duplicates[:5])
        hint = ("each rater may score a visit once" if has_rater else
                "one row per patient visit; add a 'rater' column if several raters scored it")
        raise TableError(f"{path}: {len(duplicates)} duplicate keys ({shown}); {hint}")


@dataclass
class Joined:
    """Predicted and manual SALT paired on (patient, visit)."""

    keys: list[Key]
    predicted: np.ndarray  # (n,) SALT
    manual: np.ndarray  # (n,) SALT; the raters' mean where several raters scored a visit
    raters: list[str]  # [] without a rater column
    manual_by_rater: dict[str, dict[Key, float]]
    view_pairs: dict[str, tuple[np.ndarray, np.ndarray]]  # view -> (predicted, manual)
    only_predicted: list[Key]
    only_manual: list[Key]
    excluded: list[ExcludedRow]  # predicted rows not scored, with reason
    statuses: list[str]  # the predicted row's status per key ('' without a status column)
    flags: list[str]  # the predicted row's flags per key ('' without a flags column)
    uncertainties: list[float | None]  # the predicted row's uncertainty per key, where given


def join_scores(predicted: ScoreTable, manual: ScoreTable) -> Joined:
    """Pair the tables on (patient, visit); rows found in only one table are listed."""
    predicted_by_key = {row.key: row for row in predicted.rows}
    manual_by_key: dict[Key, list[ScoreRow]] = {}
    for row in manual.rows:
        manual_by_key.setdefault(row.key, []).append(row)
    keys = sorted(set(predicted_by_key) & set(manual_by_key))
    excluded_keys = {entry.key for entry in predicted.excluded}
    only_predicted = sorted(set(predicted_by_key) - set(manual_by_key))
    only_manual = sorted(key for key in set(manual_by_key) - set(predicted_by_key)
                         if key not in excluded_keys)
    raters = sorted({row.rater for row in manual.rows}) if manual.has_rater else []
    by_rater: dict[str, dict[Key, float]] = {rater: {} for rater in raters}
    for row in manual.rows:
        if manual.has_rater:
            by_rater[row.rater][row.key] = row.salt
    view_pairs = {}
    for view in VIEWS:
        pairs = []
        for key in keys:
            values = [row.views[view] for row in manual_by_key[key] if view in row.views]
            if values and view in predicted_by_key[key].views:
                pairs.append((predicted_by_key[key].views[view], float(np.mean(values))))
        if pairs:
            view_pairs[view] = (np.array([p for p, _ in pairs]), np.array([m for _, m in pairs]))
    return Joined(
        keys=keys,
        predicted=np.array([predicted_by_key[key].salt for key in keys], dtype=float),
        manual=np.array([np.mean([row.salt for row in manual_by_key[key]]) for key in keys],
                        dtype=float),
        raters=raters, manual_by_rater=by_rater, view_pairs=view_pairs,
        only_predicted=only_predicted, only_manual=only_manual,
        excluded=list(predicted.excluded),
        statuses=[predicted_by_key[key].status for key in keys],
        flags=[predicted_by_key[key].flags for key in keys],
        uncertainties=[predicted_by_key[key].uncertainty for key in keys])


@dataclass(frozen=True)
class VisitRow:
    patient: str
    visit: str
    week: float
    dose_mg: float | None = None
    date: str = ""
    note: str = ""

    @property
    def key(self) -> Key:
        return (self.patient, self.visit)


def load_visits(path: str | Path) -> list[VisitRow]:
    """Read a visits metadata table (patient, visit, week + optional date, dose_mg, note)."""
    path = Path(path)
    raw = _read(path, VISITS_REQUIRED)
    visits = []
    for row in raw:
        patient, visit = _ids(path, row)
        week = _number(path, row, "week")
        if week is None:
            raise TableError(f"{path}: {row.where}: empty week for {patient}/{visit}")
        dose = _number(path, row, "dose_mg")
        if dose is not None and dose < 0:
            raise TableError(f"{path}: {row.where}: dose_mg {dose:g} is negative")
        visits.append(VisitRow(patient, visit, week, dose, row.get("date", ""), row.get("note", "")))
    _reject_duplicates(path, [(v.patient, v.visit) for v in visits], False)
    return visits
