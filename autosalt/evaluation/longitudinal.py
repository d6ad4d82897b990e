"""Patients over time: per-patient course (best response, SALT <= 20, relapse) and cohort table.

Pure functions on the rows of a scores table joined with the visits table. Bands, endpoints
and relapse come from :mod:`autosalt.salt`; nothing here re-defines them.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from autosalt.evaluation.tables import ExcludedRow, Key, ScoreTable, VisitRow
from autosalt.salt import DEFAULT_RELAPSE_MARGIN, detect_relapse, endpoints, improvement_percent

COHORT_COLUMNS = ("week", "n", "mean", "sd", "min", "max", "median", "n_salt_le_20", "n_salt_le_10",
                  "n_salt50", "n_salt75", "n_salt90", "n_salt100")
#: Headers of the cohort table on a page (the CSV keeps the column names).
COHORT_LABELS: dict[str, str] = {
    "week": "Week", "n": "Patients", "mean": "Mean SALT", "sd": "SD", "min": "Lowest",
    "max": "Highest", "median": "Median", "n_salt_le_20": "SALT ≤ 20", "n_salt_le_10": "SALT ≤ 10",
    "n_salt50": "SALT50", "n_salt75": "SALT75", "n_salt90": "SALT90", "n_salt100": "SALT100"}


@dataclass(frozen=True)
class PatientVisit:
    visit: str
    week: float
    salt: float
    views: dict[str, float]
    dose_mg: float | None = None
    note: str = ""
    status: str = ""  # batch scoring's status ('' for a manual table)
    flags: str = ""  # batch scoring's reasons for a human look


@dataclass
class PatientCourse:
    """One patient's visits in time order and what they show."""

    patient: str
    visits: list[PatientVisit]
    best: PatientVisit = field(init=False)
    week_salt_le_20: float | None = field(init=False)  # first visit at SALT <= 20
    relapsed: bool = field(init=False)
    relapse_visit: PatientVisit | None = field(init=False)
    relapse_best: PatientVisit | None = field(init=False)  # the best visit the relapse rose from
    margin: float = DEFAULT_RELAPSE_MARGIN

    def __post_init__(self) -> None:
        salts = [visit.salt for visit in self.visits]
        self.best = self.visits[min(range(len(salts)), key=lambda i: (salts[i], i))]
        self.week_salt_le_20 = next((v.week for v in self.visits if endpoints(v.salt).salt_le_20), None)
        relapse = detect_relapse(salts, self.margin)
        self.relapsed = relapse.relapsed
        self.relapse_visit = self.visits[relapse.relapse_index] if relapse.relapsed else None
        self.relapse_best = self.visits[relapse.best_index] if relapse.relapsed else None

    @property
    def baseline(self) -> PatientVisit:
        return self.visits[0]

    @property
    def best_improvement_percent(self) -> float | None:
        return improvement_percent(self.baseline.salt, self.best.salt)

    @property
    def weeks_to_salt_le_20(self) -> float | None:
        return None if self.week_salt_le_20 is None else self.week_salt_le_20 - self.baseline.week

    def summary_row(self) -> dict:
        return {
            "patient": self.patient, "n_visits": len(self.visits),
            "baseline_week": format_week(self.baseline.week), "baseline_salt": self.baseline.salt,
            "best_week": format_week(self.best.week), "best_salt": self.best.salt,
            "best_improvement_percent": self.best_improvement_percent,
            "weeks_to_salt_le_20": format_week(self.weeks_to_salt_le_20),
            "relapse": self.relapsed,
            "relapse_week": format_week(self.relapse_visit.week) if self.relapse_visit else None,
            "relapse_salt": self.relapse_visit.salt if self.relapse_visit else None,
            "relapse_from_week": format_week(self.relapse_best.week) if self.relapse_best else None,
            "relapse_from_salt": self.relapse_best.salt if self.relapse_best else None,
        }


PATIENT_COLUMNS = ("patient", "n_visits", "baseline_week", "baseline_salt", "best_week", "best_salt",
                   "best_improvement_percent", "weeks_to_salt_le_20", "relapse", "relapse_week",
                   "relapse_salt", "relapse_from_week", "relapse_from_salt")
#: Headers of the patients table on a page (the CSV keeps the column names).
PATIENT_LABELS: dict[str, str] = {
    "patient": "Patient", "n_visits": "Visits", "baseline_week": "Baseline week",
    "baseline_salt": "Baseline SALT", "best_week": "Best week", "best_salt": "Best SALT",
    "best_improvement_percent": "Best improvement (%)",
    "weeks_to_salt_le_20": "Weeks to SALT ≤ 20", "relapse": "Relapse", "relapse_week": "Relapse week",
    "relapse_salt": "Relapse SALT", "relapse_from_week": "Rose from week",
    "relapse_from_salt": "Rose from SALT"}


def format_week(week: float | None) -> str | None:
    """Weeks are labels in tables: ``8``, not ``8.00``; fractional weeks keep 2 decimals."""
    if week is None:
        return None
    return str(int(week)) if float(week).is_integer() else f"{week:.2f}"


@dataclass
class Courses:
    patients: list[PatientCourse]
    scores_without_visit: list[Key]  # scored visits missing from the visits table
    visits_without_score: list[Key]  # visits with no (usable) score
    excluded: list[ExcludedRow]  # predicted rows with no SALT: errors and partial visits
    weeks: dict[Key, float] = field(default_factory=dict)  # every visit of the visits table

    @property
    def n_partial(self) -> int:
        return sum(entry.partial for entry in self.excluded)


def build_courses(scores: ScoreTable, visits: list[VisitRow],
                  margin: float = DEFAULT_RELAPSE_MARGIN) -> Courses:
    """Join scores with visit weeks per patient; several raters' scores are averaged."""
    by_key: dict[Key, list] = defaultdict(list)
    for row in scores.rows:
        by_key[row.key].append(row)
    visit_by_key = {visit.key: visit for visit in visits}
    per_patient: dict[str, list[PatientVisit]] = defaultdict(list)
    for key in sorted(set(by_key) & set(visit_by_key)):
        rows, meta = by_key[key], visit_by_key[key]
        views = {view: statistics.fmean(r.views[view] for r in rows if view in r.views)
                 for view in rows[0].views if all(view in r.views for r in rows)}
        flags = "; ".join(dict.fromkeys(r.flags for r in rows if r.flags))
        per_patient[key[0]].append(PatientVisit(
            key[1], meta.week, statistics.fmean(r.salt for r in rows), views, meta.dose_mg, meta.note,
            rows[0].status, flags))
    patients = []
    for patient in sorted(per_patient):
        ordered = sorted(per_patient[patient], key=lambda v: v.week)
        weeks = [v.week for v in ordered]
        if len(set(weeks)) != len(weeks):
            repeated = sorted({w for w in weeks if weeks.count(w) > 1})
            raise ValueError(f"patient {patient} has several visits at week(s) "
                             f"{[format_week(w) for w in repeated]}; each visit needs its own week")
        patients.append(PatientCourse(patient, ordered, margin=margin))
    return Courses(
        patients=patients,
        scores_without_visit=sorted(set(by_key) - set(visit_by_key)),
        visits_without_score=sorted(set(visit_by_key) - set(by_key)
                                    - {entry.key for entry in scores.excluded}),
        excluded=list(scores.excluded),
        weeks={key: visit.week for key, visit in visit_by_key.items()})


def cohort_table(patients: list[PatientCourse]) -> list[dict]:
    """One row per week: SALT summary (sample SD) and counts reaching each endpoint.

    Relative endpoints (SALT50...) compare with each patient's first visit; a patient with
    baseline SALT 0 has none and is not counted for them.
    """
    by_week: dict[float, list[tuple[float, float]]] = defaultdict(list)
    for course in patients:
        for visit in course.visits:
            by_week[visit.week].append((visit.salt, course.baseline.salt))
    rows = []
    for week in sorted(by_week):
        salts = [salt for salt, _ in by_week[week]]
        reached = [endpoints(salt, baseline) for salt, baseline in by_week[week]]
        rows.append({
            "week": format_week(week), "n": len(salts), "mean": statistics.fmean(salts),
            "sd": statistics.stdev(salts) if len(salts) > 1 else None,
            "min": min(salts), "max": max(salts), "median": statistics.median(salts),
            "n_salt_le_20": sum(e.salt_le_20 for e in reached),
            "n_salt_le_10": sum(e.salt_le_10 for e in reached),
            **{f"n_salt{p}": sum(bool(getattr(e, f"salt{p}")) for e in reached)
               for p in (50, 75, 90, 100)},
        })
    return rows
