"""``autosalt report SCORES --visits VISITS --out REPORT``: patients over time and the cohort.

Per patient: SALT over weeks with the SALT 20 and 10 lines, per-view trajectories, the
dose when ``dose_mg`` is given, best response, time to SALT <= 20, relapse (a rise of at
least ``--relapse-margin`` points above the best visit so far, :func:`autosalt.salt.detect_relapse`)
and, with ``--overlays``, a strip of the visit overlay images. Cohort: a Table-1-like summary
per week (``cohort.csv``) and a spaghetti plot. Everything goes into a self-contained
``report.html``; the inputs are only read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from autosalt.contract import IMAGE_EXTENSIONS, VIEWS
from autosalt.evaluation.html import HtmlReport, plt, save_figure
from autosalt.evaluation.longitudinal import (
    COHORT_COLUMNS,
    COHORT_LABELS,
    PATIENT_COLUMNS,
    PATIENT_LABELS,
    Courses,
    PatientCourse,
    build_courses,
    cohort_table,
    format_week,
)
from autosalt.evaluation.provenance import Provenance, caveat_box, read_provenance
from autosalt.evaluation.tables import load_scores, load_visits
from autosalt.fileio import (
    InputError,
    path_inside,
    read_photo,
    safe_name,
    write_csv_atomic,
    write_json_atomic,
)
from autosalt.salt import DEFAULT_RELAPSE_MARGIN

VIEW_COLORS = {"top": "tab:orange", "left": "tab:green", "right": "tab:purple", "back": "tab:brown"}
#: View names as a reader knows them (legends, table headers).
VIEW_LABELS = {"top": "Top", "left": "Left side", "right": "Right side", "back": "Back"}
SALT_AXIS = "SALT (% of scalp with hair loss)"


def patient_figure(course: PatientCourse, partial: list[tuple[float, float, float]] = ()) -> plt.Figure:
    """SALT over weeks (bold), per-view values (thin), SALT 20/10 lines, dose as a step.

    ``partial``: (week, salt_min, salt_max) of partial visits, drawn as a range, not a point.
    """
    figure, axis = plt.subplots(figsize=(7, 3.6))
    weeks = [v.week for v in course.visits]
    for view in VIEWS:
        points = [(v.week, v.views[view]) for v in course.visits if view in v.views]
        if points:
            axis.plot(*zip(*points, strict=True), lw=0.9, alpha=0.7, color=VIEW_COLORS[view],
                      label=VIEW_LABELS[view])
    axis.plot(weeks, [v.salt for v in course.visits], "o-", lw=2.2, color="tab:blue", label="SALT")
    flagged = [(v.week, v.salt) for v in course.visits if v.status == "flagged"]
    if flagged:
        axis.plot(*zip(*flagged, strict=True), "o", ms=11, mfc="none", mec="tab:red", mew=1.5,
                  ls="none", label="flagged for review")
    axis.axhline(20, color="tab:red", ls="--", lw=0.9)
    axis.axhline(10, color="tab:red", ls=":", lw=0.9)
    for level in (20, 10):  # labelled outside the plot, where no visit can hide them
        axis.annotate(f"SALT {level}", (1.01, level), xycoords=("axes fraction", "data"), fontsize=7,
                      color="tab:red", va="center", ha="left")
    if partial:
        weeks_, lows, highs = zip(*partial, strict=True)
        axis.vlines(weeks_, lows, highs, color="tab:blue", lw=5, alpha=0.35,
                    label="partial visit: SALT range")
    axis.plot([course.best.week], [course.best.salt], marker="*", ms=13, color="gold",
              markeredgecolor="k", ls="none", label="best visit")
    if course.relapse_visit is not None:
        axis.plot([course.relapse_visit.week], [course.relapse_visit.salt], marker="v", ms=10,
                  color="tab:red", ls="none", label="relapse")
    axis.set(ylim=(-2, 102), xlabel="Week", ylabel="Hair loss (% of scalp or of view area)",
             title=f"Patient {course.patient}")
    doses = [(v.week, v.dose_mg) for v in course.visits if v.dose_mg is not None]
    if doses:
        dose_axis = axis.twinx()
        dose_axis.step(*zip(*doses, strict=True), where="post", color="0.4", lw=1.2, ls="-.")
        dose_axis.set_ylabel("Dose (mg)", color="0.4")
        dose_axis.set_ylim(0, max(d for _, d in doses) * 1.3 or 1)
    axis.legend(fontsize=7, loc="upper right", ncol=3)
    return figure


def spaghetti_figure(courses: list[PatientCourse]) -> plt.Figure:
    figure, axis = plt.subplots(figsize=(7, 4))
    for course in courses:
        axis.plot([v.week for v in course.visits], [v.salt for v in course.visits], "o-", ms=3,
                  lw=1.2, alpha=0.8, label=course.patient)
    axis.axhline(20, color="tab:red", ls="--", lw=0.9)
    axis.axhline(10, color="tab:red", ls=":", lw=0.9)
    axis.set(ylim=(-2, 102), xlabel="Week", ylabel=SALT_AXIS, title=f"All patients (n = {len(courses)})")
    if len(courses) <= 12:
        axis.legend(fontsize=7, ncol=2, loc="upper right")
    return figure


def find_overlays(folder: Path, patient: str, visit: str) -> dict[str, Path]:
    """Overlay images of one visit in a scoring output folder, by view.

    Looks in ``<folder>/overlays/<patient>/<visit>/`` and ``<folder>/<patient>/<visit>/``; a
    file counts for a view when its name contains the view name (``top_overlay.png``).
    """
    found: dict[str, Path] = {}
    patient, visit = safe_name(patient), safe_name(visit)  # as 'autosalt infer' names folders
    for candidate in (folder / "overlays" / patient / visit, folder / patient / visit):
        if not candidate.is_dir():
            continue
        files = sorted(p for p in candidate.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        for view in VIEWS:
            matches = [p for p in files if view in p.stem.lower()]
            matches.sort(key=lambda p: "overlay" not in p.stem.lower())
            if matches and view not in found:
                found[view] = matches[0]
    return found


def overlay_strip(course: PatientCourse, folder: Path) -> plt.Figure | None:
    """A grid of overlays: one column per visit, one row per view that has images."""
    per_visit = [find_overlays(folder, course.patient, v.visit) for v in course.visits]
    views = [view for view in VIEWS if any(view in found for found in per_visit)]
    if not views:
        return None
    figure, axes = plt.subplots(len(views), len(course.visits), squeeze=False,
                                figsize=(1.6 * len(course.visits), 1.6 * len(views)))
    for column, (visit, found) in enumerate(zip(course.visits, per_visit, strict=True)):
        for row, view in enumerate(views):
            axis = axes[row][column]
            axis.set_xticks([])
            axis.set_yticks([])
            if view in found:
                try:
                    image = read_photo(found[view])
                    step = max(1, max(image.shape[:2]) // 240)  # thumbnails keep the page small
                    axis.imshow(image[::step, ::step])
                except InputError:
                    axis.text(0.5, 0.5, "unreadable", ha="center", va="center", fontsize=7)
            if row == 0:
                axis.set_title(f"Week {format_week(visit.week)}\nSALT {visit.salt:.0f}", fontsize=7)
            if column == 0:
                axis.set_ylabel(VIEW_LABELS[view], fontsize=7)
    figure.tight_layout()
    return figure


def write_report(courses: Courses, out: Path, margin: float, overlays: Path | None,
                 scores_path: Path, visits_path: Path, provenance: Provenance) -> list[dict]:
    cohort = cohort_table(courses.patients)
    write_csv_atomic(out / "cohort.csv", cohort, COHORT_COLUMNS)
    summaries = [course.summary_row() for course in courses.patients]
    write_csv_atomic(out / "patients.csv", summaries, PATIENT_COLUMNS)
    relapsed = [course.patient for course in courses.patients if course.relapsed]
    write_json_atomic(out / "summary.json", {
        "n_patients": len(courses.patients), "relapse_margin": margin, "relapsed_patients": relapsed,
        "models": provenance.models, "validated_on": provenance.validated_on,
        "n_partial_skipped": courses.n_partial,
        "scores_without_visit": ["/".join(k) for k in courses.scores_without_visit],
        "visits_without_score": ["/".join(k) for k in courses.visits_without_score],
        "excluded": [entry.to_json() for entry in courses.excluded],
        "inputs": {"scores": str(scores_path), "visits": str(visits_path)}})

    report = HtmlReport("Longitudinal SALT report")
    report.paragraph(f"Scores: {scores_path}. Visits: {visits_path}.", "small")
    caveat_box(report, provenance)
    report.heading("Methods")
    report.paragraph(_methods_text(courses, margin))
    report.heading("Cohort")
    report.paragraph("Table 1. SALT by week; the SALT and SALT50-100 columns count patients "
                     "at or below that SALT, or with at least that percent improvement from baseline.")
    report.table([COHORT_LABELS[c] for c in COHORT_COLUMNS], [[row[c] for c in COHORT_COLUMNS]
                                                              for row in cohort])
    report.image(save_figure(spaghetti_figure(courses.patients), out / "spaghetti.png"),
                 "Figure 1. SALT of every patient over time; dashed SALT 20, dotted SALT 10.", width=640)
    report.paragraph("Table 2. Patients.")
    report.table([PATIENT_LABELS[c] for c in PATIENT_COLUMNS],
                 [[_patient_cell(row, c) for c in PATIENT_COLUMNS] for row in summaries])
    report.paragraph(f"Relapse ({len(relapsed)} of {len(courses.patients)} patients): "
                     f"{', '.join(relapsed) if relapsed else 'none'}.")
    report.heading("Patients")
    for course, summary in zip(courses.patients, summaries, strict=True):
        _patient_section(report, course, summary, courses, out, overlays)
    problems = ([f"{p}/{v}: scored but not in the visits table" for p, v in courses.scores_without_visit]
                + [f"{p}/{v}: in the visits table but not scored" for p, v in courses.visits_without_score]
                + [f"{entry.key[0]}/{entry.key[1]}: left out, {entry.reason}" for entry in courses.excluded])
    if problems:
        report.heading("Visits left out")
        report.bullets(problems)
    report.write(out / "report.html")
    return cohort


def _methods_text(courses: Courses, margin: float) -> str:
    skipped = len(courses.excluded)
    return (
        f"{len(courses.patients)} patients with {sum(len(c.visits) for c in courses.patients)} "
        "scored visits. Each patient's first scored visit is the baseline. Best response is the "
        "lowest SALT; weeks to SALT ≤ 20 count from baseline to the first visit at or below SALT 20. "
        f"Relapse is a rise of at least {margin:g} SALT points above the best visit so far. "
        "SALT50/75/90/100 count visits with at least that percent improvement from the "
        "patient's baseline (not defined for a baseline of SALT 0). SD is the sample SD. "
        + (f"{skipped} visit(s) without a SALT were left out of the courses: {courses.n_partial} "
           "partial visit(s), whose missing views leave only a SALT range, and "
           f"{skipped - courses.n_partial} not scored (listed at the end)." if skipped else ""))


def _patient_cell(row: dict, column: str) -> object:
    if column == "weeks_to_salt_le_20" and row[column] == "0":
        return "at baseline"
    if column == "relapse":
        return "yes" if row[column] else "no"
    return row[column]


def _patient_section(report: HtmlReport, course: PatientCourse, summary: dict, courses: Courses,
                     out: Path, overlays: Path | None) -> None:
    report.heading(f"Patient {course.patient}", 3)
    report.paragraph(_course_text(course, summary))
    partial = [(courses.weeks[e.key], *e.salt_range) for e in courses.excluded
               if e.key[0] == course.patient and e.partial and e.key in courses.weeks]
    name = safe_name(course.patient)  # ids such as ../x or a/b stay inside out/patients
    png = save_figure(patient_figure(course, partial), path_inside(out, "patients", f"{name}.png"))
    report.image(png, f"Patient {course.patient}: SALT (blue) and per-view values over weeks"
                 + ("; dose on the right axis." if any(v.dose_mg is not None for v in course.visits)
                    else "."), width=620)
    _visits_table(report, course, courses)
    if overlays is not None:
        strip = overlay_strip(course, overlays)
        if strip is not None:
            report.image(save_figure(strip, path_inside(out, "patients", f"{name}_overlays.png"),
                                     dpi=80), f"Patient {course.patient}: overlays of each visit.")


def _visits_table(report: HtmlReport, course: PatientCourse, courses: Courses) -> None:
    """Every visit of the patient with its status and flags, partial and failed ones included."""
    dose = any(v.dose_mg is not None for v in course.visits)
    rows = [(v.week, [format_week(v.week), v.visit, v.salt, *[v.views.get(view) for view in VIEWS],
                      *([v.dose_mg] if dose else []), v.status or "manual", v.flags])
            for v in course.visits]
    for entry in courses.excluded:
        if entry.key[0] == course.patient and entry.key in courses.weeks:
            week = courses.weeks[entry.key]
            salt = (f"{entry.salt_range[0]:.2f}-{entry.salt_range[1]:.2f}" if entry.salt_range
                    else "not scored")
            status = f"{entry.status or 'error'}, partial" if entry.partial else entry.status or "no SALT"
            rows.append((week, [format_week(week), entry.key[1], salt, *[None] * len(VIEWS),
                                *([None] if dose else []), status, entry.flags]))
    columns = ["Week", "Visit", "SALT", *[VIEW_LABELS[view] for view in VIEWS],
               *(["Dose (mg)"] if dose else []), "Status", "Flags"]
    report.table(columns, [cells for _, cells in sorted(rows, key=lambda item: item[0])],
                 text_columns=(1, len(columns) - 2, len(columns) - 1))


def _course_text(course: PatientCourse, summary: dict) -> str:
    best = course.best_improvement_percent
    text = (f"Baseline SALT {course.baseline.salt:.2f} at week {summary['baseline_week']}; best "
            f"SALT {course.best.salt:.2f} at week {summary['best_week']}"
            + (f" ({best:.0f}% improvement)" if best is not None else "") + ". ")
    if course.weeks_to_salt_le_20 is None:
        text += "SALT never at or below 20. "
    elif course.weeks_to_salt_le_20 == 0:
        text += "SALT at or below 20 at baseline. "
    else:
        text += (f"SALT first at or below 20 at week {format_week(course.week_salt_le_20)}, "
                 f"{summary['weeks_to_salt_le_20']} weeks after baseline. ")
    if course.relapsed:
        text += (f"Relapse: SALT {course.relapse_visit.salt:.2f} at week {summary['relapse_week']}, "
                 f"up from {course.relapse_best.salt:.2f} at week {summary['relapse_from_week']}.")
    else:
        text += "No relapse."
    doses = sorted({v.dose_mg for v in course.visits if v.dose_mg is not None})
    if len(doses) > 1:
        changes = [f"{format_week(b.week)}: {a.dose_mg:g} -> {b.dose_mg:g} mg"
                   for a, b in zip(course.visits, course.visits[1:], strict=False)
                   if a.dose_mg is not None and b.dose_mg is not None and a.dose_mg != b.dose_mg]
        text += " Dose changes at week " + "; ".join(changes) + "."
    return text


def longitudinal_report(scores_path: str | Path, visits_path: str | Path, out: str | Path,
                        margin: float = DEFAULT_RELAPSE_MARGIN,
                        overlays: str | Path | None = None) -> tuple[Courses, list[dict]]:
    scores_path, visits_path, out = Path(scores_path), Path(visits_path), Path(out)
    if overlays is not None and not Path(overlays).is_dir():
        raise FileNotFoundError(f"{overlays}: overlay folder not found")
    scores = load_scores(scores_path, predicted=True)
    visits = load_visits(visits_path)
    try:
        courses = build_courses(scores, visits, margin)
    except ValueError as error:
        raise ValueError(f"{visits_path}: {error}") from None
    if not courses.patients:
        raise ValueError(f"{scores_path} and {visits_path} share no (patient, visit): check the ids")
    out.mkdir(parents=True, exist_ok=True)
    provenance = read_provenance(scores_path, scores.models)
    cohort = write_report(courses, out, margin, Path(overlays) if overlays else None,
                          scores_path, visits_path, provenance)
    return courses, cohort


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scores", type=Path, help="scores CSV (predicted or manual: patient, visit, salt)")
    parser.add_argument("--visits", required=True, type=Path,
                        help="visits CSV: patient, visit, week (+ date, dose_mg, note)")
    parser.add_argument("--out", required=True, type=Path, help="report folder (created)")
    parser.add_argument("--relapse-margin", type=float, default=DEFAULT_RELAPSE_MARGIN,
                        help="rise in SALT points above the best visit that counts as relapse "
                             "(default %(default)s)")
    parser.add_argument("--overlays", type=Path, default=None,
                        help="scoring output folder with overlays/<patient>/<visit>/<view>*.png")


def run(args: argparse.Namespace) -> int:
    if not np.isfinite(args.relapse_margin) or args.relapse_margin <= 0:
        print("autosalt report: error: --relapse-margin must be > 0", file=sys.stderr)
        return 2
    try:
        courses, cohort = longitudinal_report(args.scores, args.visits, args.out,
                                              args.relapse_margin, args.overlays)
    except InputError as error:
        print(f"autosalt report: error: {error}", file=sys.stderr)
        return 2
    relapsed = [c.patient for c in courses.patients if c.relapsed]
    print(f"{len(courses.patients)} patients, {len(cohort)} weeks; relapse: {', '.join(relapsed) or 'none'}")
    if courses.excluded:
        print(f"left out {len(courses.excluded)} visits without a SALT: {courses.n_partial} partial "
              f"(SALT range only), {len(courses.excluded) - courses.n_partial} not scored")
    print(f"report: {args.out / 'report.html'}")
    return 0
