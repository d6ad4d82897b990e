"""Model selection on the measure the validation data has, and real labeled roots of one view
per visit (contract section 3: photos/ and masks/, no loss/ maps, no truth.csv)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import autosalt.training.train as training
from autosalt.config import ConfigError, load_config
from autosalt.contract import CLASS_HAIR, CLASS_IGNORE, CLASS_LOSS, VIEWS
from autosalt.model.checkpoint import load_checkpoint
from autosalt.synth.generate import SynthOptions, generate
from autosalt.tablefile import read_table_rows
from autosalt.training.data import SegmentationDataset, list_samples, load_targets
from autosalt.training.presets import TrainPreset

TINY = Path(__file__).resolve().parent.parent / "configs" / "tiny.yaml"
# One view per visit, named as a clinic might: a synonym and capitals (view "top").
SINGLE_VIEW_NAMES = {"P001": "Vertex", "P002": "left", "P003": "back"}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("selection") / "synth"
    generate(root, patients=3, visits=1, seed=31, options=SynthOptions(size=(80, 80)), workers=1,
             progress=False)
    return root


@pytest.fixture(scope="module")
def single_view_root(synthetic, tmp_path_factory) -> Path:
    """Real-photo layout: one JPEG view per visit, its mask, nothing else."""
    root = tmp_path_factory.mktemp("selection") / "clinic"
    for patient, name in SINGLE_VIEW_NAMES.items():
        view = "top" if name == "Vertex" else name
        (root / "photos" / patient / "v1").mkdir(parents=True)
        (root / "masks" / patient / "v1").mkdir(parents=True)
        photo = Image.open(next((synthetic / "photos" / patient / "week00").glob(f"{view}.*")))
        photo.convert("RGB").save(root / "photos" / patient / "v1" / f"{name}.JPG", quality=95)
        shutil.copy(synthetic / "masks" / patient / "week00" / f"{view}.png",
                    root / "masks" / patient / "v1" / f"{name}.png")
    return root


def tiny_config(data: Path, out: Path, *extra: str):
    return load_config(TINY, [f"data.roots=[{data}]", f"out={out}", "train.bf16=false", *extra])


def test_a_real_root_of_one_view_per_visit_is_read_whatever_the_view_file_names(single_view_root):
    samples = list_samples([single_view_root])
    assert [(s.patient, s.view, s.photo.name, s.loss) for s in samples] == [
        ("P001", "top", "Vertex.JPG", None), ("P002", "left", "left.JPG", None),
        ("P003", "back", "back.JPG", None)]


def test_without_loss_maps_the_loss_fraction_target_comes_from_the_mask(single_view_root):
    samples = list_samples([single_view_root])
    _, mask, loss = load_targets(samples[0])
    assert (mask == CLASS_LOSS).any() and (mask == CLASS_HAIR).any()
    assert (loss[mask == CLASS_LOSS] == 255).all() and (loss[mask != CLASS_LOSS] == 0).all()
    dataset = SegmentationDataset(samples, TrainPreset(64), seed=0)
    for index in range(len(dataset)):
        _, mask_t, fraction = dataset[index]
        assert (fraction[mask_t == CLASS_LOSS] == 1.0).all()
        assert (fraction[mask_t == CLASS_HAIR] == 0.0).all()
        assert set(mask_t.unique().tolist()) <= {0, 1, CLASS_HAIR, CLASS_LOSS, CLASS_IGNORE}


def test_view_mae_is_the_mean_error_of_every_view_percent(synthetic, monkeypatch):
    # Every view scored SCORE whatever the network says: the view MAE must be the mean of
    # |SCORE - true view percent| over truth.csv's 3 visits x 4 views.
    import autosalt.postprocess.visit as visit_module
    from autosalt.model.factory import create_model
    from autosalt.training.engine import evaluate

    score = 50.0
    monkeypatch.setattr(visit_module, "score_visit",
                        lambda masks, *args, **kwargs: visit_module.VisitValues({v: score for v in masks}))
    truths = np.array([[float(row[view]) for view in VIEWS]
                       for row in read_table_rows(synthetic / "truth.csv")])
    result = evaluate(create_model("unet", "mobilenet_v2", pretrained=False),
                      list_samples([synthetic]), 64, "cpu", progress=False)
    assert result["views"] == truths.size == 12
    assert result["view_mae"] == pytest.approx(np.abs(score - truths).mean())


def test_single_view_validation_has_a_view_mae_but_no_salt(single_view_root):
    from autosalt.model.factory import create_model
    from autosalt.training.engine import evaluate

    torch.manual_seed(0)
    result = evaluate(create_model("unet", "mobilenet_v2", pretrained=False),
                      list_samples([single_view_root]), 64, "cpu", method="pixel", progress=False)
    assert np.isnan(result["salt_mae"]) and result["visits"] == 0
    assert np.isfinite(result["view_mae"]) and result["views"] == 3


def _fine_tune(synthetic, single_view_root, tmp_path, *extra, before=None):
    """A base run on four-view visits, then (after ``before()``) one epoch of fine-tuning from
    its best.pt validated on single-view visits; returns what best.pt holds."""
    base = tmp_path / "base"
    training.train(tiny_config(synthetic, base), progress=False)
    if before:
        before()
    tuned = tmp_path / "tuned"
    training.train(tiny_config(synthetic, tuned, f"data.val_roots=[{single_view_root}]",
                               "train.epochs=1", *extra), init=str(base / "best.pt"), progress=False)
    initial = load_checkpoint(base / "best.pt")["state_dict"]
    best, last = (load_checkpoint(tuned / name) for name in ("best.pt", "last.pt"))
    same_as_init = all(torch.equal(best["state_dict"][k], initial[k]) for k in initial)
    same_as_last = all(torch.equal(best["state_dict"][k], last["state_dict"][k]) for k in initial)
    return tuned, best, same_as_init, same_as_last


def test_single_view_validation_selects_by_view_mae(synthetic, single_view_root, tmp_path,
                                                   monkeypatch):
    real_evaluate = training.evaluate
    calls = []

    def scripted(*args, **kwargs):  # real metrics; the epoch beats the start on view MAE
        calls.append(1)
        return {**real_evaluate(*args, **kwargs), "view_mae": 9.0 if len(calls) == 1 else 5.0}

    tuned, best, same_as_init, same_as_last = _fine_tune(
        synthetic, single_view_root, tmp_path,
        before=lambda: monkeypatch.setattr(training, "evaluate", scripted))
    assert len(calls) == 2  # the starting model, then the one epoch
    assert (same_as_init, same_as_last) == (False, True)
    assert best["select_metric"] == "view_mae" and best["metrics"]["view_mae"] == 5.0
    assert np.isnan(best["metrics"]["salt_mae"])  # what the selection could not use
    rows = json.loads((tuned / "metrics.json").read_text())
    assert [(row["select_metric"], row["selected"]) for row in rows] == [("view_mae", True)]


def test_a_run_that_never_selects_says_so_and_keeps_the_last_epoch(
        synthetic, single_view_root, tmp_path, capsys):
    tuned, best, same_as_init, same_as_last = _fine_tune(
        synthetic, single_view_root, tmp_path, "train.select_metric=salt_mae")
    assert (same_as_init, same_as_last) == (False, True)
    assert "no epoch selected" in best["note"] and "no epoch selected" in best["metrics"]["note"]
    assert "warning: no epoch selected: validation salt_mae was nan" in capsys.readouterr().err
    rows = json.loads((tuned / "metrics.json").read_text())
    assert "no epoch selected" in rows[-1]["note"] and not rows[-1]["selected"]
    assert "no epoch selected" in (tuned / "metrics.csv").read_text()


def test_auto_selects_salt_mae_only_when_every_validation_visit_has_four_views(
        synthetic, single_view_root):
    from autosalt.training.selection import resolve_select_metric

    assert resolve_select_metric("auto", list_samples([synthetic])) == "salt_mae"
    assert resolve_select_metric("auto", list_samples([synthetic, single_view_root])) == "view_mae"
    assert resolve_select_metric("loss_jaccard", list_samples([synthetic])) == "loss_jaccard"


def test_loss_jaccard_selection_prefers_higher_values():
    from autosalt.training.selection import improves

    assert improves("loss_jaccard", 0.6, 0.5) and not improves("loss_jaccard", 0.4, 0.5)
    assert improves("view_mae", 4.0, 5.0) and not improves("view_mae", 6.0, 5.0)
    assert improves("salt_mae", 3.0, None) and not improves("salt_mae", float("nan"), None)


def test_an_unknown_select_metric_is_a_config_error(synthetic, tmp_path):
    with pytest.raises(ConfigError, match="train.select_metric must be one of auto, salt_mae"):
        training.train(tiny_config(synthetic, tmp_path / "run", "train.select_metric=dice"),
                       progress=False)
    assert not (tmp_path / "run").exists()


def test_turn_upright_puts_the_labeled_skin_below_the_scalp():
    from autosalt.contract import CLASS_SKIN
    from autosalt.training.data import turn_upright

    mask = np.zeros((40, 60), np.uint8)
    mask[5:35, 5:30] = CLASS_HAIR  # scalp on the left, face on its right: a quarter-turned photo
    mask[10:30, 30:45] = CLASS_SKIN
    mask[0, 0] = CLASS_IGNORE
    photo = np.dstack([mask] * 3)
    loss = (mask == CLASS_HAIR).astype(np.uint8) * 7
    turned_photo, turned_mask, turned_loss = turn_upright(photo, mask, loss)
    assert turned_mask.shape == (60, 40) and turned_photo.shape == (60, 40, 3)
    skin_rows = np.nonzero(turned_mask == CLASS_SKIN)[0].mean()
    scalp_rows = np.nonzero(turned_mask == CLASS_HAIR)[0].mean()
    assert skin_rows > scalp_rows
    assert np.array_equal(turned_photo[..., 0], turned_mask)  # photo and labels turned together
    assert np.array_equal(turned_loss == 7, turned_mask == CLASS_HAIR)
    upright = turn_upright(turned_photo, turned_mask, turned_loss)
    assert all(a is b for a, b in zip(upright, (turned_photo, turned_mask, turned_loss)))


def test_upright_roots_turn_only_their_samples_and_must_be_training_roots(single_view_root, synthetic,
                                                                         tmp_path):
    from autosalt.contract import CLASS_SKIN

    turned_root = tmp_path / "turned"
    shutil.copytree(single_view_root, turned_root)
    mask_path = next((turned_root / "masks").rglob("left.png"))
    photo_path = next((turned_root / "photos").rglob("left.JPG"))
    Image.open(mask_path).rotate(90, expand=True).save(mask_path)
    Image.open(photo_path).rotate(90, expand=True).save(photo_path, quality=95)
    samples = [s for s in list_samples([turned_root]) if s.view == "left"]
    _, lying, _ = load_targets(samples[0])

    def skin_below_scalp(mask) -> bool:
        mask = np.asarray(mask)
        scalp = (mask == CLASS_HAIR) | (mask == CLASS_LOSS)
        return np.nonzero(mask == CLASS_SKIN)[0].mean() > np.nonzero(scalp)[0].mean()

    assert not skin_below_scalp(lying)
    preset = TrainPreset(64, rotate90_p=0.0)
    _, as_lies, _ = SegmentationDataset(samples, preset, seed=0)[0]
    _, upright, _ = SegmentationDataset(samples, preset, seed=0, upright_roots=[turned_root])[0]
    assert not skin_below_scalp(as_lies) and skin_below_scalp(upright)
    with pytest.raises(ConfigError, match=r"data.upright_roots \['elsewhere'\] are not in data.roots"):
        training.train(tiny_config(synthetic, tmp_path / "run", "data.upright_roots=[elsewhere]"),
                       progress=False)
