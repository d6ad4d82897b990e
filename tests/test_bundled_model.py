"""The released model in models/: loads safely, is what the card says, and scores the samples."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from autosalt.config import QualityConfig
from autosalt.contract import VIEWS
from autosalt.fileio import read_photo
from autosalt.inference.batch import Settings
from autosalt.inference.quality import check_partial_loss
from autosalt.model.checkpoint import load_checkpoint
from autosalt.model.predictor import Predictor
from autosalt.postprocess.visit import score_visit
from autosalt.salt import salt_from_views

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "autosalt-default.pt"
SAMPLE = ROOT / "data" / "sample"


def test_checkpoint_is_small_plain_and_described():
    assert MODEL.stat().st_size < 30 * 2**20  # small enough to ship
    checkpoint = load_checkpoint(MODEL)  # weights_only: no code runs on load
    assert checkpoint["model_args"] == {"arch": "unet", "encoder": "efficientnet_lite0"}
    card = (ROOT / "models" / "MODEL_CARD.md").read_text()
    assert checkpoint["model_id"] in card
    size = checkpoint["input_size"]
    assert f"letterboxed to {size} x {size}" in card


@pytest.fixture(scope="module")
def sample_predictions() -> dict[tuple[str, str], tuple[list, float]]:
    """(patient, visit) -> (the four views' predictions, true SALT) for the 12 sample visits,
    predicted as ``autosalt infer`` predicts them by default (mirror TTA, second pass, upright)."""
    predictor = Predictor(MODEL)
    with (SAMPLE / "truth.csv").open(newline="") as stream:
        truth = {(row["patient"], row["visit"]): float(row["salt"]) for row in csv.DictReader(stream)}
    result = {}
    for patient, visit in truth:
        photos = [read_photo(SAMPLE / "photos" / patient / visit / f"{view}.jpg") for view in VIEWS]
        predictions = predictor.predict_batch(photos, Settings.tta, Settings.refine, Settings.upright)
        result[(patient, visit)] = (predictions, truth[(patient, visit)])
    return result


@pytest.fixture(scope="module")
def sample_scores(sample_predictions) -> dict[tuple[str, str], tuple[float, float]]:
    """(patient, visit) -> (predicted SALT, true SALT), scored as ``autosalt infer`` scores."""
    scores = {}
    for key, (predictions, true) in sample_predictions.items():
        values = score_visit({v: p.mask for v, p in zip(VIEWS, predictions)},
                             {v: p.loss for v, p in zip(VIEWS, predictions)}).values
        scores[key] = (salt_from_views(values), true)
    return scores


def test_sample_visits_are_scored_near_their_truth(sample_scores):
    errors = np.array([abs(predicted - true) for predicted, true in sample_scores.values()])
    # Synthetic photos like its training data: a broken or untrained model misses by tens.
    assert errors.mean() < 5 and errors.max() < 10, sample_scores


def test_severity_order_is_kept(sample_scores):
    # Totalis (P001, SALT 59-86) above diffuse (P004, 11-30) above patchy (P002, P003, < 7).
    by_patient = {p: np.mean([s for (q, _), (s, _) in sample_scores.items() if q == p])
                  for p in ("P001", "P002", "P003", "P004")}
    assert by_patient["P001"] > by_patient["P004"] > max(by_patient["P002"], by_patient["P003"])


def test_diffuse_improvement_is_tracked_visit_by_visit(sample_scores):
    # P004 is diffuse thinning that improves (true 30, 21, 11): partial density, not patches.
    scores = [sample_scores[("P004", visit)][0] for visit in ("week00", "week04", "week08")]
    assert scores[0] > scores[1] > scores[2], scores


def test_diffuse_thinning_is_flagged_partial_and_patches_are_not(sample_predictions):
    # P004's diffuse thinning is read as partial loss on most of the scalp of some view at
    # its two balder visits (true SALT 30 and 21); P002's and P003's patches never are. At
    # week 8 (true 11) the thinning is mild, its per-pixel loss mostly under the flag's 0.2.
    def flagged(patient: str, visit: str) -> bool:
        predictions, _ = sample_predictions[(patient, visit)]
        return any(check_partial_loss(p.mask, p.loss, QualityConfig()) for p in predictions)

    assert all(flagged("P004", visit) for visit in ("week00", "week04"))
    assert not any(flagged(patient, visit) for patient in ("P002", "P003")
                   for visit in ("week00", "week04", "week08"))
