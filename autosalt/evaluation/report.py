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
    PATIENT_COLUMNS,
    Courses,
    PatientCourse,
    build_courses,
    cohort_table,
    format_week,
)
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


def patient_figure(course: PatientCourse) -> plt.Figure:
    """SALT over weeks (bold), per-view values (thin), SALT 20/10 lines, dose as a step."""
    figure, axis = plt.subplots(figsize=(7, 3.6))
    weeks = [v.week for v in course.visits]
    for view in VIEWS:
        points = [(v.week, v.views[view]) for v in course.visits if view in v.views]
        if points:
            axis.plot(*zip(*points, strict=True), lw=0.9, alpha=0.7, color=VIEW_COLORS[view], label=view)
    axis.plot(weeks, [v.salt for v in course.visits], "o-", lw=2.2, color="tab:blue", label="SALT")
    axis.axhline(20, color="tab:red", ls="--", lw=0.9)
    axis.axhline(10, color="tab:red", ls=":", lw=0.9)
    axis.annotate("SALT 20", (weeks[-1], 20), fontsize=7, color="tab:red", va="bottom", ha="right")
    axis.annotate("SALT 10", (weeks[-1], 10), fontsize=7, color="tab:red", va="bottom", ha="right")
    axis.plot([course.best.week], [course.best.salt], marker="*", ms=13, color="gold",
              markeredgecolor="k", ls="none", label="best")
    if course.relapse_visit is not None:
        axis.plot([course.relapse_visit.week], [course.relapse_visit.salt], marker="v", ms=10,
                  color="tab:red", ls="none", label="relapse")
    axis.set(ylim=(-2, 102), xlabel="week", ylabel="percent scalp hair loss",
             title=f"Patient {course.patient}")
    doses = [(v.week, v.dose_mg) for v in course.visits if v.dose_mg is not None]
    if doses:
        dose_axis = axis.twinx()
        dose_axis.step(*zip(*doses, strict=True), where="post", color="0.4", lw=1.2, ls="-.")
        dose_axis.set_ylabel("dose (mg)", color="0.4")
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
    axis.set(ylim=(-2, 102), xlabel="week", ylabel="SALT", title=f"All patients (n = {len(courses)})")
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
                axis.set_title(f"wk {format_week(visit.week)}\nSALT {visit.salt:.0f}", fontsize=7)
            if column == 0:
                axis.set_ylabel(view, fontsize=7)
    figure.tight_layout()
    return figure


def write_report(courses: Courses, out: Path, margin: float, overlays: Path | None,
                 scores_path: Path, visits_path: Path) -> list[dict]:
    cohort = cohort_table(courses.patients)
    write_csv_atomic(out / "cohort.csv", cohort, COHORT_COLUMNS)
    summaries = [course.summary_row() for course in courses.patients]
    write_csv_atomic(out / "patients.csv", summaries, PATIENT_COLUMNS)
    relapsed = [course.patient for course in courses.patients if course.relapsed]
    write_json_atomic(out / "summary.json", {
        "n_patients": len(courses.patients), "relapse_margin": margin, "relapsed_patients": relapsed,
        "scores_without_visit": ["/".join(k) for k in courses.scores_without_visit],
        "visits_without_score": ["/".join(k) for k in courses.visits_without_score],
        "excluded": [{"patient": p, "visit": v, "reason": r} for (p, v), r in courses.excluded],
        "inputs": {"scores": str(scores_path), "visits": str(visits_path)}})

    report = HtmlReport("Longitudinal SALT report")
    report.paragraph(f"Scores: {scores_path}. Visits: {visits_path}.", "small")
    report.heading("Methods")
    report.paragraph(
        f"{len(courses.patients)} patients with {sum(len(c.visits) for c in courses.patients)} "
        "scored visits. Each patient's first visit is the baseline. Best response is the lowest "
        "SALT; time to SALT <= 20 is the weeks from baseline to the first visit at SALT <= 20. "
        f"Relapse is a rise of at least {margin:g} SALT points above the best visit so far. "
        "SALT50/75/90/100 count visits with at least that percent improvement from the "
        "patient's baseline (not defined for a baseline of SALT 0). SD is the sample SD.")
    report.heading("Cohort")
    report.paragraph("Table 1. SALT by week.")
    report.table(COHORT_COLUMNS, [[row[c] for c in COHORT_COLUMNS] for row in cohort])
    report.image(save_figure(spaghetti_figure(courses.patients), out / "spaghetti.png"),
                 "Figure 1. SALT of every patient over time; dashed SALT 20, dotted SALT 10.", width=640)
    report.paragraph("Table 2. Patients.")
    report.table(PATIENT_COLUMNS, [[row[c] for c in PATIENT_COLUMNS] for row in summaries])
    report.paragraph(f"Relapse ({len(relapsed)} of {len(courses.patients)} patients): "
                     f"{', '.join(relapsed) if relapsed else 'none'}.")
    report.heading("Patients")
    for course, summary in zip(courses.patients, summaries, strict=True):
        report.heading(f"Patient {course.patient}", 3)
        report.paragraph(_course_text(course, summary))
        name = safe_name(course.patient)  # ids such as ../x or a/b stay inside out/patients
        png = save_figure(patient_figure(course), path_inside(out, "patients", f"{name}.png"))
        report.image(png, f"Patient {course.patient}: SALT (blue) and per-view values over weeks"
                     + ("; dose on the right axis." if any(v.dose_mg is not None for v in course.visits)
                        else "."), width=620)
        if overlays is not None:
            strip = overlay_strip(course, overlays)
            if strip is not None:
                report.image(save_figure(strip, path_inside(out, "patients", f"{name}_overlays.png"), dpi=80),
                             f"Patient {course.patient}: overlays of each visit.")
    problems = ([f"{p}/{v}: scored but not in the visits table" for p, v in courses.scores_without_visit]
                + [f"{p}/{v}: in the visits table but not scored" for p, v in courses.visits_without_score]
                + [f"{p}/{v}: excluded, {reason}" for (p, v), reason in courses.excluded])
    if problems:
        report.heading("Visits left out")
        report.bullets(problems)
    report.write(out / "report.html")
    return cohort


def _course_text(course: PatientCourse, summary: dict) -> str:
    best = course.best_improvement_percent
    text = (f"Baseline SALT {course.baseline.salt:.2f} at week {summary['baseline_week']}; best "
            f"SALT {course.best.salt:.2f} at week {summary['best_week']}"
            + (f" ({best:.0f}% improvement)" if best is not None else "") + ". ")
    if course.weeks_to_salt_le_20 is None:
        text += "SALT <= 20 was not reached. "
    else:
        text += f"SALT <= 20 reached after {summary['weeks_to_salt_le_20']} weeks. "
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
    cohort = write_report(courses, out, margin, Path(overlays) if overlays else None,
                          scores_path, visits_path)
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
    print(f"report: {args.out / 'report.html'}")
    return 0
