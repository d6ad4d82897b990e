"""``autosalt score-masks`` end to end: the sample visits, every bad-input case, exit codes."""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from autosalt.cli import main
from autosalt.contract import VIEWS
from autosalt.evaluation.tables import load_scores

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def read_table(path: Path) -> dict[tuple[str, str], dict]:
    with path.open(newline="", encoding="utf-8") as stream:
        return {(row["patient"], row["visit"]): row for row in csv.DictReader(stream)}


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def sample(tmp_path) -> Path:
    """A copy of two sample visits (labeled layout: photos/, masks/, loss/)."""
    root = tmp_path / "labeled"
    for part in ("photos", "masks", "loss"):
        for visit in ("P002/week00", "P004/week00"):
            shutil.copytree(SAMPLE / part / visit, root / part / visit)
    return root


def test_sample_visits_score_close_to_truth_with_both_methods(tmp_path, capsys):
    truth = read_table(SAMPLE / "truth.csv")
    for method in ("pixel", "surface"):
        out = tmp_path / f"{method}.csv"
        assert main(["score-masks", str(SAMPLE), "--out", str(out), "--method", method, "--quiet"]) == 0
        rows = read_table(out)
        assert set(rows) == set(truth)
        with out.open(encoding="utf-8") as stream:
            header = stream.readline().strip().split(",")
        assert header[:10] == ["patient", "visit", "salt", "top", "left", "right", "back",
                               "severity_s", "aa_iga", "status"]
        for key, row in rows.items():
            assert row["status"] in ("ok", "flagged")
            assert row["salt"] == f"{float(row['salt']):.2f}"  # 2 decimals, as the contract says
            # True masks: only the perspective of the photos separates a method from the truth.
            assert abs(float(row["salt"]) - float(truth[key]["salt"])) < 6, (method, key)
        assert "12 visits" in capsys.readouterr().out


def test_ids_stay_strings(sample, tmp_path):
    for part in ("photos", "masks", "loss"):
        shutil.move(sample / part / "P002", sample / part / "007")
    out = tmp_path / "scores.csv"
    assert main(["score-masks", str(sample), "--out", str(out), "--quiet"]) == 0
    assert ("007", "week00") in read_table(out)


def _write_mask(path: Path, mask: np.ndarray) -> None:
    Image.fromarray(mask).save(path)


@pytest.mark.parametrize("breakage, message", [
    ("unknown_class", "class id"),
    ("size_mismatch", "but the photo"),
    ("empty_scalp", "scalp"),
    ("missing_view", "missing"),
    ("unreadable", "P004/week00/top.png"),
    ("loss_size", "loss map"),
])
def test_bad_input_makes_an_error_row_and_the_batch_goes_on(sample, tmp_path, capsys,
                                                            breakage, message):
    masks = sample / "masks" / "P004" / "week00"
    top = masks / "top.png"
    mask = np.array(Image.open(top))
    if breakage == "unknown_class":
        mask[:5, :5] = 7
        _write_mask(top, mask)
    elif breakage == "size_mismatch":  # the loss map goes too, so the photo check speaks
        _write_mask(top, mask[:-10])
        (sample / "loss" / "P004" / "week00" / "top.png").unlink()
    elif breakage == "empty_scalp":
        mask[(mask == 2) | (mask == 3)] = 1
        _write_mask(top, mask)
    elif breakage == "missing_view":
        top.unlink()
    elif breakage == "unreadable":
        top.write_bytes(b"not a png at all")
    elif breakage == "loss_size":
        Image.fromarray(np.zeros((10, 10), np.uint8)).save(sample / "loss" / "P004" / "week00" / "top.png")
    before = tree_digest(sample)
    out = tmp_path / "scores.csv"
    assert main(["score-masks", str(sample), "--out", str(out), "--quiet"]) == 1
    rows = read_table(out)
    assert rows[("P002", "week00")]["status"] == "ok"  # the good visit is still scored
    bad = rows[("P004", "week00")]
    assert bad["status"] == "error" and bad["salt"] == ""
    assert message in bad["flags"]
    assert "error P004/week00" in capsys.readouterr().err
    assert tree_digest(sample) == before  # inputs never touched


def test_partial_visit_reports_its_views_and_the_salt_range_never_a_salt(sample, tmp_path):
    (sample / "masks" / "P004" / "week00" / "back.png").unlink()
    out = tmp_path / "scores.csv"
    assert main(["score-masks", str(sample), "--out", str(out), "--quiet"]) == 1
    assert "missing views: back" in read_table(out)[("P004", "week00")]["flags"]
    assert main(["score-masks", str(sample), "--out", str(out), "--allow-partial", "--quiet"]) == 0
    rows = read_table(out)
    row = rows[("P004", "week00")]
    assert row["status"] == "flagged" and row["back"] == "" and "missing views: back" in row["flags"]
    assert row["salt"] == row["severity_s"] == row["aa_iga"] == ""  # never extrapolated
    present = 0.40 * float(row["top"]) + 0.18 * (float(row["left"]) + float(row["right"]))
    assert float(row["salt_min"]) == pytest.approx(present, abs=0.01)
    assert float(row["salt_max"]) == pytest.approx(present + 24, abs=0.01)  # back's weight x 100
    whole = rows[("P002", "week00")]
    assert whole["salt"] != "" and whole["salt_min"] == whole["salt_max"] == ""
    table = load_scores(out, predicted=True)  # the table reads back; the partial visit is skipped
    assert ("P004", "week00") not in {r.key for r in table.rows}
    assert any(entry.key == ("P004", "week00") and entry.partial for entry in table.excluded)


def test_missing_folder_is_a_message_not_a_traceback(tmp_path, capsys):
    assert main(["score-masks", str(tmp_path / "nope"), "--out", str(tmp_path / "s.csv")]) != 0
    assert "nope" in capsys.readouterr().err


def test_every_view_of_the_sample_is_present():
    for visit in (SAMPLE / "masks").glob("*/*"):
        assert sorted(p.stem for p in visit.glob("*.png")) == sorted(VIEWS)
