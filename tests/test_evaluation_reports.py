"""What the two HTML reports tell a reader: status and flags, the model and its caveat,
partial visits skipped with a count, readable headers; and that a real browser renders them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from autosalt.cli import main
from autosalt.evaluation.provenance import MODEL_CARD_VALIDATION

PREDICTED = """\
patient,visit,salt,top,left,right,back,severity_s,aa_iga,status,flags,method,model,salt_min,salt_max
P1,w0,60.00,70.00,50.00,50.00,60.00,S3,3,ok,,surface,model-x,,
P1,w4,,40.00,,30.00,20.00,,,flagged,"partial visit, missing views: left",surface,model-x,26.20,44.20
P1,w8,10.00,10.00,10.00,10.00,10.00,S1,1,ok,,surface,model-x,,
P2,w0,15.00,15.00,15.00,15.00,15.00,S1,1,flagged,blur (top.jpg),surface,model-x,,
P2,w4,30.00,30.00,30.00,30.00,30.00,S2,2,ok,,surface,model-x,,
P2,w8,,,,,,,,error,no view could be scored,surface,model-x,,
P3,w0,45.00,45.00,45.00,45.00,45.00,S2,2,ok,,surface,model-x,,
P3,w4,35.00,35.00,35.00,35.00,35.00,S2,2,ok,,surface,model-x,,
"""
MANUAL = ("patient,visit,salt\nP1,w0,58\nP1,w4,35\nP1,w8,12\nP2,w0,18\nP2,w4,28\nP2,w8,20\n"
          "P3,w0,40\nP3,w4,37\n")
VISITS = "patient,visit,week\n" + "".join(f"P{p},w{w},{w}\n" for p in (1, 2, 3) for w in (0, 4, 8))
#: Column names of the CSV outputs a reader must never see on a page.
RAW_NAMES = ("n_salt_le_20", "n_salt50", "loa_upper", "loa_lower", "weeks_to_salt_le_20", "baseline_salt",
             "relapse_from_week", "best_improvement_percent")


@pytest.fixture
def tables(tmp_path):
    (tmp_path / "pred.csv").write_text(PREDICTED)
    (tmp_path / "manual.csv").write_text(MANUAL)
    (tmp_path / "visits.csv").write_text(VISITS)
    return tmp_path


def visible_text(page: str) -> str:
    """The text a reader sees: tags and embedded images removed."""
    return re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", "", page, flags=re.S))


def test_report_skips_partial_visits_with_a_count_and_shows_status(tables, capsys):
    out = tables / "report"
    assert main(["report", str(tables / "pred.csv"), "--visits", str(tables / "visits.csv"),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "left out 2 visits without a SALT: 1 partial (SALT range only), 1 not scored" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_partial_skipped"] == 1
    partial = next(entry for entry in summary["excluded"] if entry["partial"])
    assert (partial["visit"], partial["salt_min"], partial["salt_max"]) == ("w4", 26.2, 44.2)
    assert summary["visits_without_score"] == ["P3/w8"]  # the left-out ones are listed once, as such
    page = visible_text((out / "report.html").read_text())
    assert "26.20-44.20" in page and "1 partial visit(s)" in page
    assert "blur (top.jpg)" in page and "flagged" in page and "no view could be scored" in page


def test_report_names_the_model_and_its_caveat_in_plain_words(tables):
    out = tables / "report"
    assert main(["report", str(tables / "pred.csv"), "--visits", str(tables / "visits.csv"),
                 "--out", str(out)]) == 0
    page = visible_text((out / "report.html").read_text())
    assert "About these numbers" in page and "model-x" in page and MODEL_CARD_VALIDATION in page
    assert "SALT at or below 20 at baseline" in page  # P2 starts at 15
    assert "after 0 weeks" not in page and "<=" not in page
    assert not [name for name in RAW_NAMES if name in page]


def test_evaluate_skips_partial_visits_with_a_count_and_shows_each_visit(tables, capsys):
    out = tables / "evaluation"
    assert main(["evaluate", "--pred", str(tables / "pred.csv"), "--manual", str(tables / "manual.csv"),
                 "--out", str(out)]) == 0
    assert "left out 2 predicted visits without a SALT (1 partial, 1 not scored)" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == 6 and metrics["n_partial_skipped"] == 1
    assert metrics["models"] == ["model-x"] and metrics["validated_on"] == MODEL_CARD_VALIDATION
    page = visible_text((out / "report.html").read_text())
    assert "About these numbers" in page and "model-x" in page and MODEL_CARD_VALIDATION in page
    assert "1 were partial visits" in page and "blur (top.jpg)" in page
    assert not [name for name in RAW_NAMES if name in page]


def test_validated_on_is_read_from_run_json(tables):
    """A run that recorded what its model was validated on says so instead of the model card."""
    (tables / "run.json").write_text(json.dumps({"model": {"id": "clinic-v2",
                                                           "validated_on": "120 clinic photos, 2 raters"}}))
    table = tables / "pred.csv"
    table.write_text(PREDICTED.replace(",model-x,", ",,"))  # no model named in the table
    out = tables / "evaluation"
    assert main(["evaluate", "--pred", str(table), "--manual", str(tables / "manual.csv"),
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["models"] == ["clinic-v2"] and metrics["validated_on"] == "120 clinic photos, 2 raters"


def _chromium() -> str | None:
    return next((path for name in ("chromium", "chromium-browser", "google-chrome")
                 if (path := shutil.which(name))), None)


@pytest.mark.skipif(_chromium() is None, reason="no chromium on this machine (Debian: apt-get install "
                                               "chromium); the report is still checked as HTML above")
@pytest.mark.parametrize("command", ["report", "evaluate"])
def test_reports_render_in_a_headless_browser(tables, command):
    out = tables / command
    arguments = (["report", str(tables / "pred.csv"), "--visits", str(tables / "visits.csv")]
                 if command == "report" else
                 ["evaluate", "--pred", str(tables / "pred.csv"), "--manual", str(tables / "manual.csv")])
    assert main([*arguments, "--out", str(out)]) == 0
    shot = tables / f"{command}.png"
    subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--user-data-dir={tables / 'chromium-profile'}", "--window-size=1000,1400",
                    f"--screenshot={shot}", (out / "report.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape[:2] == (1400, 1000)
    ink = (pixels.sum(axis=2) < 300).mean()  # dark text and lines
    caveat = (np.abs(pixels - (255, 248, 224)).sum(axis=2) < 12).mean()  # the caveat box's fill
    assert ink > 0.005, "the page looks empty"
    assert caveat > 0.01, "the caveat box is not drawn (page not rendered with its styles?)"
