"""``autosalt report``: cohort table and relapse on a published case series.

The case series: six patients with severe diffuse alopecia areata treated with
abrocitinib; baseline SALT 50-70 (mean 56 +/- 7.8), all at SALT <= 20 by week 8, four of
six at SALT 0 by week 12, two worsening after a dose reduction (200 -> 100 mg at week 12).
The visits below are one table consistent with those numbers.
"""

from __future__ import annotations

import csv
import json

import pytest

from autosalt.cli import main
from autosalt.evaluation.longitudinal import build_courses, cohort_table
from autosalt.evaluation.tables import TableError, load_scores, load_visits

WEEKS = (0, 4, 8, 12, 16, 24)
# patient -> SALT at each week; 005 and 006 have their dose reduced at week 12.
CASE_SERIES = {
    "001": (50, 20, 5, 0, 0, 0),
    "002": (50, 25, 10, 0, 0, 0),
    "003": (52, 30, 15, 0, 0, 2),
    "004": (54, 28, 12, 0, 0, 0),
    "005": (60, 35, 18, 5, 20, 30),
    "006": (70, 40, 20, 8, 25, 35),
}
DOSE_REDUCED = {"005", "006"}


def write_case_series(folder):
    scores, visits = folder / "scores.csv", folder / "visits.csv"
    with scores.open("w", newline="") as s, visits.open("w", newline="") as v:
        score_writer, visit_writer = csv.writer(s), csv.writer(v)
        score_writer.writerow(["patient", "visit", "salt", "top", "left", "right", "back", "status"])
        visit_writer.writerow(["patient", "visit", "week", "dose_mg"])
        for patient, salts in CASE_SERIES.items():
            for week, salt in zip(WEEKS, salts, strict=True):
                visit = f"wk{week:02d}"
                score_writer.writerow([patient, visit, f"{salt:.2f}", salt, salt, salt, salt, "ok"])
                dose = 100 if patient in DOSE_REDUCED and week >= 12 else 200
                visit_writer.writerow([patient, visit, week, dose])
    return scores, visits


def test_case_series_cohort_table_and_relapse(tmp_path):
    scores, visits = write_case_series(tmp_path)
    before = scores.read_bytes(), visits.read_bytes()
    out = tmp_path / "report"
    assert main(["report", str(scores), "--visits", str(visits), "--out", str(out)]) == 0
    assert (scores.read_bytes(), visits.read_bytes()) == before  # inputs untouched
    with (out / "cohort.csv").open() as stream:
        rows = {row["week"]: row for row in csv.DictReader(stream)}
    assert list(rows) == ["0", "4", "8", "12", "16", "24"]
    baseline = rows["0"]
    assert (baseline["n"], baseline["mean"], baseline["sd"]) == ("6", "56.00", "7.80")
    assert (baseline["min"], baseline["max"]) == ("50.00", "70.00")
    assert rows["8"]["n_salt_le_20"] == "6"  # all at SALT <= 20 by week 8
    assert rows["12"]["n_salt100"] == "4"  # four of six at SALT 0 by week 12
    assert rows["12"]["n_salt_le_10"] == "6"
    assert rows["24"]["n_salt_le_20"] == "4"  # the two relapsed patients are above 20 again
    summary = json.loads((out / "summary.json").read_text())
    assert summary["relapsed_patients"] == ["005", "006"]  # ids stay strings: 005, not 5
    with (out / "patients.csv").open() as stream:
        patients = {row["patient"]: row for row in csv.DictReader(stream)}
    assert patients["005"]["relapse_week"] == "16" and patients["005"]["relapse_from_week"] == "12"
    assert patients["001"]["weeks_to_salt_le_20"] == "4"
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "http" not in html.split("<body>")[1]
    assert (out / "patients" / "006.png").is_file() and (out / "spaghetti.png").is_file()


def test_relapse_margin_is_configurable(tmp_path):
    scores, visits = write_case_series(tmp_path)
    courses = build_courses(load_scores(scores, predicted=True), load_visits(visits), margin=26)
    assert [c.patient for c in courses.patients if c.relapsed] == ["006"]  # 8 -> 35 (+27); 005: 5 -> 30 (+25)


def test_cohort_single_patient_has_no_sd(tmp_path):
    scores, visits = write_case_series(tmp_path)
    courses = build_courses(load_scores(scores, predicted=True), load_visits(visits))
    rows = cohort_table(courses.patients[:1])
    assert rows[0]["n"] == 1 and rows[0]["sd"] is None


def test_visits_table_errors_name_the_file(tmp_path):
    bad = tmp_path / "visits.csv"
    bad.write_text("patient,visit,week\n001,wk00,zero\n")
    with pytest.raises(TableError, match="visits.csv: line 2: week 'zero' is not a number"):
        load_visits(bad)
    bad.write_text("patient,visit\n001,wk00\n")
    with pytest.raises(TableError, match="missing required columns"):
        load_visits(bad)


def test_report_cli_reports_unmatched_and_excluded(tmp_path, capsys):
    scores, visits = write_case_series(tmp_path)
    with scores.open("a") as stream:
        stream.write("007,wk00,,,,,,error\n008,wk00,40,40,40,40,40,ok\n")
    out = tmp_path / "r"
    assert main(["report", str(scores), "--visits", str(visits), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scores_without_visit"] == ["008/wk00"]
    assert summary["excluded"][0]["patient"] == "007"
    assert main(["report", str(scores), "--visits", str(visits), "--out", str(out),
                 "--relapse-margin", "0"]) == 2
    assert "relapse-margin" in capsys.readouterr().err
