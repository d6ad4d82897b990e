"""Paths made from ids stay inside the output folder (fileio.safe_name / path_inside), and
the commands that build them from a table's ids: ``autosalt report``."""

from __future__ import annotations

import csv

import pytest

from autosalt.cli import main
from autosalt.fileio import MAX_ID_NAME_BYTES, UnsafePathError, name_problem, path_inside, safe_name

HOSTILE = ["..", ".", "", "../../../x", "a/b", "/abs/olute", "a\\b", "a\x00b", "x" * 300,
           "é" * 150, "CON", "nul", "Com1.txt", ".._.._top.jpg", ".hidden", "trailing.", "a:b"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_become_plain_distinct_names(name):
    assert name_problem(name) is not None
    cleaned = safe_name(name)
    assert name_problem(cleaned) is None and len(cleaned.encode()) <= MAX_ID_NAME_BYTES
    with pytest.raises(UnsafePathError, match="cannot be a file or folder name"):
        path_inside("out", name)


def test_plain_names_are_kept_and_cleaned_names_never_collide():
    for name in ("P001", "007", "week 04", "Pé", "x" * 200):
        assert safe_name(name) == name
    cleaned = [safe_name(name) for name in HOSTILE + ["a_b", "a?b", "a*b"]]
    assert len(set(cleaned)) == len(cleaned)
    assert safe_name("a/b") != "a_b" and safe_name("a/b").startswith("a_b~")


def test_a_link_out_of_the_folder_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out" / "inner").mkdir()
    (tmp_path / "out" / "link").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "out" / "ok").symlink_to(tmp_path / "out" / "inner")
    assert path_inside(tmp_path / "out", "ok", "f.png") == tmp_path / "out" / "ok" / "f.png"
    with pytest.raises(UnsafePathError, match="a symbolic link leads out of"):
        path_inside(tmp_path / "out", "link", "f.png")


def test_report_keeps_hostile_patient_ids_inside_out(tmp_path):
    patients = [p for p in HOSTILE if p and "\x00" not in p] + ["P001"]
    scores, visits = tmp_path / "in" / "scores.csv", tmp_path / "in" / "visits.csv"
    scores.parent.mkdir()
    with open(scores, "w", newline="", encoding="utf-8") as s, \
            open(visits, "w", newline="", encoding="utf-8") as v:
        score_writer, visit_writer = csv.writer(s), csv.writer(v)
        score_writer.writerow(["patient", "visit", "salt"])
        visit_writer.writerow(["patient", "visit", "week"])
        for patient in patients:
            for week, salt in ((0, 60), (12, 30)):
                score_writer.writerow([patient, f"w{week}", salt])
                visit_writer.writerow([patient, f"w{week}", week])
    out = tmp_path / "deep" / "er" / "report"
    assert main(["report", str(scores), "--visits", str(visits), "--out", str(out)]) == 0
    written = [p for p in tmp_path.rglob("*") if p.is_file() and scores.parent not in p.parents]
    assert all(out in p.parents for p in written), [p for p in written if out not in p.parents]
    figures = sorted(p.name for p in (out / "patients").iterdir())
    assert len(figures) == len(patients) and "P001.png" in figures
    assert all(name_problem(name) is None for name in figures)
    assert not [p for p in (out / "patients").rglob("*") if p.is_dir()]  # no folders for a/b
