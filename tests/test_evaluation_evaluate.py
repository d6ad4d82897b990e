"""``autosalt evaluate`` and ``autosalt evaluate-masks`` end to end on tiny tables and masks."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from autosalt.cli import main
from autosalt.evaluation.masks import evaluate_masks, soft_overlap
from autosalt.evaluation.tables import TableError, load_scores

PREDICTED_HEADER = "patient,visit,salt,top,left,right,back,severity_s,aa_iga,status,flags\n"
MANUAL_SALTS = [0.0, 5.0, 12.0, 18.0, 25.0, 33.0, 48.0, 55.0, 71.0, 90.0, 100.0, 8.0]
PREDICTED_SALTS = [1.0, 7.0, 10.0, 22.0, 27.0, 30.0, 50.0, 52.0, 75.0, 88.0, 97.0, 9.0]


def write_tables(folder, raters=False):
    predicted, manual = folder / "pred.csv", folder / "manual.csv"
    lines = [PREDICTED_HEADER]
    for index, salt in enumerate(PREDICTED_SALTS):
        lines.append(f"{index:03d},w0,{salt:.2f},{salt},{salt},{salt},{salt},,,ok,\n")
    lines.append("099,w0,,,,,,,,error,back.jpg unreadable\n")
    predicted.write_text("".join(lines))
    header = "patient,visit,salt,top,left,right,back" + (",rater" if raters else "") + "\n"
    rows = [header]
    for index, salt in enumerate(MANUAL_SALTS):
        for rater, offset in ((("A", 0.0), ("B", 2.0)) if raters else (("", 0.0),)):
            value = min(100.0, salt + offset)
            rows.append(f"{index:03d},w0,{value},{value},{value + 1 if value < 99 else value},"
                        f"{value},{value}" + (f",{rater}" if raters else "") + "\n")
    rows.append("200,w0,40,,,," + (",A" if raters else "") + "\n")
    manual.write_text("".join(rows))
    return predicted, manual


def test_evaluate_writes_metrics_and_report(tmp_path):
    predicted, manual = write_tables(tmp_path)
    before = predicted.read_bytes(), manual.read_bytes()
    out = tmp_path / "report"
    assert main(["evaluate", "--pred", str(predicted), "--manual", str(manual), "--out", str(out)]) == 0
    assert (predicted.read_bytes(), manual.read_bytes()) == before
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("n", "mae", "rmse", "bias", "loa_lower", "loa_upper", "icc_a1", "icc_c1",
                "pearson_r", "spearman_rho", "ccc", "kappa_s_scale", "kappa_aa_iga"):
        assert key in metrics
    assert metrics["n"] == 12
    differences = np.subtract(PREDICTED_SALTS, MANUAL_SALTS)
    assert metrics["mae"] == pytest.approx(np.abs(differences).mean(), abs=1e-4)
    assert metrics["bias"] == pytest.approx(differences.mean(), abs=1e-4)
    for endpoint in ("salt_le_20", "salt_le_10"):
        assert set(metrics["endpoints"][endpoint]) >= {"sensitivity", "specificity", "accuracy", "kappa"}
    # manual <= 20: 0, 5, 12, 18, 8 (5); predicted misses 18 (-> 22): sensitivity 4/5.
    assert metrics["endpoints"]["salt_le_20"]["sensitivity"] == pytest.approx(0.8)
    assert metrics["excluded"][0]["patient"] == "099"
    assert metrics["only_manual"] == [{"patient": "200", "visit": "w0"}]
    assert set(metrics["per_view_mae"]) == {"top", "left", "right", "back"}
    assert metrics["raters"] is None
    table = list(csv.DictReader((out / "metrics.csv").open()))
    assert table[0]["metric"] == "mae" and table[0]["value"] == f"{np.abs(differences).mean():.2f}"
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and "Methods" in html and "<script" not in html
    for plot in ("scatter.png", "bland_altman.png", "errors_per_view_and_band.png"):
        assert (out / plot).stat().st_size > 1000


def test_evaluate_splits_agreement_by_the_visits_status(tmp_path, capsys):
    # Visits 3 (error 4) and 10 (error 3) flagged: their MAE, bias and largest error are
    # reported apart from the ok visits', in metrics.json, metrics.csv, the report and the
    # summary printed.
    predicted, manual = write_tables(tmp_path)
    lines = predicted.read_text().splitlines(keepends=True)
    for index in (3, 10):
        lines[index + 1] = lines[index + 1].replace(",ok,", ",flagged,top.jpg: blurred")
    predicted.write_text("".join(lines))
    out = tmp_path / "report"
    assert main(["evaluate", "--pred", str(predicted), "--manual", str(manual), "--out", str(out)]) == 0
    by_status = json.loads((out / "metrics.json").read_text())["by_status"]
    assert list(by_status) == ["ok", "flagged"]
    errors = np.subtract(PREDICTED_SALTS, MANUAL_SALTS)
    flagged = np.isin(np.arange(len(errors)), [3, 10])
    assert by_status["flagged"]["n"] == 2 and by_status["ok"]["n"] == 10
    assert by_status["flagged"]["mae"] == pytest.approx(np.abs(errors[flagged]).mean(), abs=1e-4)
    assert by_status["ok"]["mae"] == pytest.approx(np.abs(errors[~flagged]).mean(), abs=1e-4)
    assert by_status["ok"]["bias"] == pytest.approx(errors[~flagged].mean(), abs=1e-4)
    assert by_status["flagged"]["max_abs_error"] == pytest.approx(4.0)
    assert by_status["ok"]["share"] == pytest.approx(10 / 12, abs=1e-4)
    metrics = {row["metric"] for row in csv.DictReader((out / "metrics.csv").open())}
    assert {"status_ok.mae", "status_flagged.mae", "status_flagged.bias"} <= metrics
    assert "Largest error" in (out / "report.html").read_text()
    assert "MAE flagged" in capsys.readouterr().out


def _with_uncertainty(predicted, values):
    """Add batch scoring's ``uncertainty`` column to the predicted table (the error row: empty)."""
    lines = predicted.read_text().splitlines()
    lines[0] += ",uncertainty"
    for index in range(1, len(lines)):
        lines[index] += f",{values[index - 1]}" if index - 1 < len(values) else ","
    predicted.write_text("\n".join(lines) + "\n")


def test_evaluate_splits_agreement_by_thirds_of_the_uncertainty(tmp_path, capsys):
    predicted, manual = write_tables(tmp_path)
    errors = np.abs(np.subtract(PREDICTED_SALTS, MANUAL_SALTS))
    _with_uncertainty(predicted, [f"{1 + error:.2f}" for error in errors])  # ranks like the errors
    out = tmp_path / "report"
    assert main(["evaluate", "--pred", str(predicted), "--manual", str(manual), "--out", str(out)]) == 0
    entry = json.loads((out / "metrics.json").read_text())["by_uncertainty"]
    assert entry["n"] == 12 and entry["spearman_abs_error"] == pytest.approx(1.0)
    ordered = np.sort(errors)
    thirds = (ordered[:4], ordered[4:8], ordered[8:])
    for name, members in zip(("low", "middle", "high"), thirds, strict=True):
        third = entry["thirds"][name]
        assert third["n"] == 4 and third["mae"] == pytest.approx(members.mean(), abs=1e-4)
        assert third["max_abs_error"] == pytest.approx(members.max())
        assert third["range"] == pytest.approx([1 + members.min(), 1 + members.max()], abs=0.01)
    metrics = {row["metric"] for row in csv.DictReader((out / "metrics.csv").open())}
    assert {"uncertainty.spearman_abs_error", "uncertainty_low.mae", "uncertainty_high.mae"} <= metrics
    assert "in thirds of the visits from least to most uncertain" in (out / "report.html").read_text()
    assert "Spearman rho with |error| 1.0" in capsys.readouterr().out


def test_a_bad_uncertainty_is_refused_with_its_line(tmp_path):
    predicted, _ = write_tables(tmp_path)
    _with_uncertainty(predicted, ["2.5", "lots"])
    with pytest.raises(TableError, match=r"pred.csv: line 3: uncertainty 'lots' is not a number"):
        load_scores(predicted, predicted=True)


def test_evaluate_without_a_status_column_has_no_status_split(tmp_path):
    predicted, manual = write_tables(tmp_path)
    rows = list(csv.DictReader(predicted.open()))
    with predicted.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["patient", "visit", "salt"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(row for row in rows if row["salt"])
    out = tmp_path / "report"
    assert main(["evaluate", "--pred", str(predicted), "--manual", str(manual), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["by_status"] == {} and metrics["by_uncertainty"] == {}


def test_evaluate_with_raters_answers_the_rater_question(tmp_path):
    predicted, manual = write_tables(tmp_path, raters=True)
    out = tmp_path / "r"
    assert main(["evaluate", "--pred", str(predicted), "--manual", str(manual), "--out", str(out)]) == 0
    raters = json.loads((out / "metrics.json").read_text())["raters"]
    assert raters["raters"] == ["A", "B"] and raters["n_complete"] == 12
    assert raters["inter_rater"]["icc_a1"]["value"] > 0.95
    # Rater B is rater A + 2, capped at 100 (SALT 100 stays 100): 11 x 2 / 12.
    assert raters["mean_pairwise_rater_mae"] == pytest.approx(22 / 12, abs=1e-6)
    assert "disagrees with raters more" in raters["answer"]


@pytest.mark.parametrize("content, message", [
    ("patient,visit\n001,w0\n", "missing required columns"),
    ("patient,visit,salt\n", "no rows"),
    ("patient,visit,salt\n001,w0,abc\n", "line 2: salt 'abc' is not a number"),
    ("patient,visit,salt\n001,w0,-1\n", "outside 0..100"),
    ("patient,visit,salt\n001,w0,100.5\n", "outside 0..100"),
    ("patient,visit,salt\n001,w0,10\n001,w0,12\n", "duplicate keys (001/w0)"),
    ("patient,visit,salt,rater\n001,w0,10,A\n001,w0,12,A\n", "duplicate keys (001/w0/A)"),
])
def test_bad_manual_tables_are_refused_with_the_file_named(tmp_path, capsys, content, message):
    predicted, _ = write_tables(tmp_path)
    manual = tmp_path / "bad.csv"
    manual.write_text(content)
    with pytest.raises(TableError) as error:
        load_scores(manual)
    assert "bad.csv" in str(error.value) and message in str(error.value)
    assert main(["evaluate", "--pred", str(predicted), "--manual", str(manual),
                 "--out", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err


def test_raters_make_repeated_keys_distinct(tmp_path):
    table = tmp_path / "m.csv"
    table.write_text("patient,visit,salt,rater\n007,w0,10,A\n007,w0,12,B\n")
    rows = load_scores(table).rows
    assert [(r.patient, r.rater) for r in rows] == [("007", "A"), ("007", "B")]


def test_one_pair_reports_what_cannot_be_computed(tmp_path):
    predicted, manual = tmp_path / "p.csv", tmp_path / "m.csv"
    predicted.write_text(PREDICTED_HEADER + "001,w0,30,30,30,30,30,S2,2,ok,\n")
    manual.write_text("patient,visit,salt\n001,w0,25\n")
    out = tmp_path / "o"
    assert main(["evaluate", "--pred", str(predicted), "--manual", str(manual), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == 1 and metrics["mae"] == 5.0
    assert metrics["pearson_r"] is None and "at least 3" in metrics["notes"]["pearson_r"]
    assert metrics["icc_a1"] is None and "at least 2 targets" in metrics["notes"]["icc_a1"]
    assert "NaN" not in (out / "metrics.json").read_text()


def test_no_shared_keys_is_an_error(tmp_path, capsys):
    predicted, manual = tmp_path / "p.csv", tmp_path / "m.csv"
    predicted.write_text(PREDICTED_HEADER + "7,w0,30,30,30,30,30,S2,2,ok,\n")
    manual.write_text("patient,visit,salt\n007,w0,25\n")
    assert main(["evaluate", "--pred", str(predicted), "--manual", str(manual),
                 "--out", str(tmp_path / "o")]) == 2
    assert "share no (patient, visit)" in capsys.readouterr().err


def _write_mask(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)


def test_evaluate_masks_iou_dice_and_loss_fraction(tmp_path, capsys):
    reference = np.array([[0, 1, 2, 2], [2, 2, 3, 3], [3, 3, 255, 255]])
    predicted = np.array([[0, 1, 2, 2], [2, 3, 3, 3], [3, 2, 0, 3]])
    _write_mask(tmp_path / "gt" / "001" / "w0" / "top.png", reference)
    _write_mask(tmp_path / "pred" / "001" / "w0" / "top.png", predicted)
    _write_mask(tmp_path / "pred" / "001" / "w0" / "back.png", predicted)
    result = evaluate_masks(tmp_path / "pred", tmp_path / "gt")
    # loss (3): reference 4 pixels, predicted 4 on scored pixels, overlap 3 -> IoU 3/5, Dice 6/8.
    assert result["iou"]["scalp_loss"] == pytest.approx(3 / 5)
    assert result["dice"]["scalp_loss"] == pytest.approx(6 / 8)
    assert result["iou"]["background"] == pytest.approx(1.0)
    # loss fraction: reference 4/8 = 50%, predicted 4/8 = 50% -> error 0.
    assert result["loss_fraction_mae"] == pytest.approx(0.0)
    assert result["only_predicted"] == ["001/w0/back"]
    assert main(["evaluate-masks", str(tmp_path / "pred"), str(tmp_path / "gt"),
                 "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "mask_metrics.json").is_file()
    assert main(["evaluate-masks", str(tmp_path / "pred"), str(tmp_path / "none")]) == 2


def test_soft_overlap_is_the_class_jaccard_on_binary_maps_and_credits_near_misses_in_density():
    rng = np.random.default_rng(0)
    a, b = rng.random((40, 40)) > 0.5, rng.random((40, 40)) > 0.3
    common, either = soft_overlap(a.astype(float), b.astype(float))
    assert common / either == pytest.approx((a & b).sum() / (a | b).sum())
    # Diffuse thinning: 40% loss everywhere, predicted 50%. The class masks (split at 50%)
    # share nothing; the loss fractions agree to 0.8.
    common, either = soft_overlap(np.full((8, 8), 0.5), np.full((8, 8), 0.4))
    assert common / either == pytest.approx(0.8)
    valid = np.zeros((8, 8), bool)
    valid[:, :4] = True
    prediction = np.where(valid, 0.4, 1.0)
    assert soft_overlap(prediction, np.full((8, 8), 0.4), valid) == pytest.approx((12.8, 12.8))
    with pytest.raises(ValueError, match="shape"):
        soft_overlap(np.zeros((4, 4)), np.zeros((4, 5)))


def test_evaluate_masks_reads_loss_maps_beside_the_masks_for_the_soft_jaccard(tmp_path):
    """Diffuse thinning at 40% (class 2 in truth) predicted at 50% (class 3): the class masks
    share no hair loss, the loss maps (``loss/`` beside ``masks/``) agree to 0.8."""
    mask = np.full((6, 6), 2)
    mask[0] = 1  # face skin: no loss fraction on either side
    for root, fraction, classes in (("gt", 0.4, mask), ("pred", 0.5, np.where(mask == 2, 3, mask))):
        _write_mask(tmp_path / root / "masks" / "P1" / "w0" / "top.png", classes)
        _write_mask(tmp_path / root / "loss" / "P1" / "w0" / "top.png",
                    np.where(mask == 2, round(fraction * 255), 0))
    result = evaluate_masks(tmp_path / "pred", tmp_path / "gt")
    assert result["loss_jaccard"] == pytest.approx(0.0)
    assert result["loss_soft_jaccard"] == pytest.approx(102 / 128)  # 0.4 and 0.5 as stored (x 255)
    assert result["per_image"][0]["loss_soft_iou"] == pytest.approx(102 / 128)
    # Without loss maps the classes stand in for the fractions: the soft Jaccard is the class one.
    for root in ("gt", "pred"):
        for path in (tmp_path / root / "loss").rglob("*.png"):
            path.unlink()
    assert evaluate_masks(tmp_path / "pred", tmp_path / "gt")["loss_soft_jaccard"] == pytest.approx(0.0)


def test_evaluate_masks_names_a_bad_loss_map_and_scores_the_other_images(tmp_path):
    mask = np.full((6, 6), 3)
    for root in ("gt", "pred"):
        for view in ("top", "back"):
            _write_mask(tmp_path / root / "masks" / "P1" / "w0" / f"{view}.png", mask)
    bad = tmp_path / "pred" / "loss" / "P1" / "w0" / "top.png"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a png")
    result = evaluate_masks(tmp_path / "pred", tmp_path / "gt")
    assert result["n_images"] == 1 and result["loss_soft_jaccard"] == pytest.approx(1.0)
    assert len(result["errors"]) == 1 and str(bad) in result["errors"][0]


SINGLE_VIEW_VISITS = [("P1", "top", 10.0, 14.0), ("P2", "left", 50.0, 40.0), ("P3", "right", 0.0, 3.0),
                      ("P4", "back", 80.0, 75.0), ("P5", "top", 30.0, 36.0), ("P6", "back", 5.0, 4.0)]


def test_single_view_visits_are_compared_by_view_percent(tmp_path, capsys):
    # Real photos, one view per visit: neither table has a SALT (partial visits give only
    # salt_min/salt_max), so evaluate compares the view columns instead of stopping.
    predicted, manual = tmp_path / "pred.csv", tmp_path / "manual.csv"
    header = "patient,visit,salt,top,left,right,back,status,flags,salt_min,salt_max\n"
    columns = ("top", "left", "right", "back")
    pred_lines, manual_lines = [header], [header]
    for patient, view, manual_value, predicted_value in SINGLE_VIEW_VISITS:
        for lines, value in ((pred_lines, predicted_value), (manual_lines, manual_value)):
            cells = ",".join(str(value) if column == view else "" for column in columns)
            lines.append(f"{patient},v1,,{cells},flagged,partial visit,1,99\n")
    pred_lines.append("P7,v1,,90,,,,error,top.jpg unreadable,,\n")  # an error row's value is no result
    manual_lines.append("P7,v1,,0,,,,flagged,,0,100\n")
    predicted.write_text("".join(pred_lines))
    manual.write_text("".join(manual_lines))
    out = tmp_path / "report"
    assert main(["evaluate", "--pred", str(predicted), "--manual", str(manual), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "view percents compared on 6 visits" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["mode"] == "views" and metrics["n_visits"] == 6
    assert metrics["only_manual"] == [{"patient": "P7", "visit": "v1"}]
    assert {view: entry["n"] for view, entry in metrics["per_view"].items()} == {
        "top": 2, "left": 1, "right": 1, "back": 2, "all": 6}
    assert metrics["per_view"]["top"]["mae"] == pytest.approx(5.0)  # |14-10|, |36-30|
    assert metrics["per_view"]["back"]["bias"] == pytest.approx(-3.0)  # -5, -1
    differences = [p - m for *_, m, p in SINGLE_VIEW_VISITS]
    assert metrics["per_view"]["all"]["mae"] == pytest.approx(np.abs(differences).mean(), abs=1e-4)
    assert (out / "report.html").is_file() and (out / "metrics.csv").is_file()


def test_by_view_compares_the_view_columns_of_complete_visits_too(tmp_path):
    predicted, manual = write_tables(tmp_path)
    out = tmp_path / "report"
    assert main(["evaluate", "--pred", str(predicted), "--manual", str(manual), "--out", str(out),
                 "--by-view"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["mode"] == "views" and metrics["per_view"]["all"]["n"] == 48
    manual_top = np.array(MANUAL_SALTS)
    assert metrics["per_view"]["top"]["mae"] == pytest.approx(
        np.abs(np.array(PREDICTED_SALTS) - manual_top).mean(), abs=1e-4)
