"""check-dataset: a clean synthetic folder passes; each planted problem is found."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_annotations import tree_hash

from autosalt.annotations.check import check_dataset
from autosalt.cli import main
from autosalt.fileio import read_mask, write_png_atomic
from autosalt.synth.generate import SynthOptions, generate


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("check") / "clinic"
    generate(root, 2, 1, 5, SynthOptions(size=(48, 48)), workers=1, progress=False)
    return root


@pytest.fixture
def dataset(clean, tmp_path) -> Path:
    root = tmp_path / "clinic"
    shutil.copytree(clean, root)
    return root


def test_clean_dataset_passes(clean, capsys):
    before = tree_hash(clean)
    assert main(["check-dataset", str(clean)]) == 0
    out = capsys.readouterr().out
    assert "2 patients, 2 visits, 8 labeled images (8 with loss maps)" in out
    assert "views: top 2, left 2, right 2, back 2" in out and "0 errors" in out
    assert tree_hash(clean) == before


def test_planted_problems_are_errors(dataset):
    masks = dataset / "masks"
    shutil.copy(masks / "P001" / "week00" / "top.png", masks / "P001" / "week00" / "crown.png")  # 2 tops
    write_png_atomic(masks / "P002" / "week00" / "left.png", np.zeros((10, 10), np.uint8))  # size
    write_png_atomic(masks / "P002" / "week00" / "right.png", np.full((48, 48), 9, np.uint8))  # class id
    (dataset / "photos" / "P002" / "week00" / "back.jpg").unlink()  # mask without photo
    shutil.copy(dataset / "photos" / "P001" / "week00" / "left.jpg",
                dataset / "photos" / "P002" / "week00" / "top.jpg")  # same photo, two patients
    mask = read_mask(masks / "P001" / "week00" / "back.png")
    loss = np.where(mask == 0, 200, 0).astype(np.uint8)  # loss on the background
    write_png_atomic(dataset / "loss" / "P001" / "week00" / "back.png", loss)
    report = check_dataset(dataset)
    text = "\n".join(report.errors)
    assert "masks/P001/week00: duplicate top view: crown.png and top.png" in text
    assert "P002/week00/left.png: mask is 10x10, the photo 48x48" in text
    assert "right.png: unknown class ids [9]" in text
    assert "back.png: no photo photos/P002/week00/back.*" in text
    assert "identical photos" in text and "P001/week00/left, P002/week00/top under different patients" in text
    assert "loss/P001/week00/back.png: " in text and "off the scalp have loss > 0" in text
    assert len(report.errors) == 6, report.errors


def test_split_leakage(dataset, tmp_path, capsys):
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": ["clinic/P001", "clinic/P002"], "val": ["clinic/P002"]}))
    assert main(["check-dataset", str(dataset), "--split", str(split)]) == 1
    out = capsys.readouterr().out
    assert "leakage: patient clinic/P002 is in both train and val" in out
    assert "NOT ready for training" in out
    split.write_text(json.dumps({"train": ["clinic/P001"], "val": []}))
    report = check_dataset(dataset, split)
    assert not report.errors
    assert any("clinic/P002" in warning and "neither train nor val" in warning for warning in report.warnings)


def test_missing_views_and_layout(dataset, tmp_path):
    (dataset / "masks" / "P001" / "week00" / "left.png").unlink()
    report = check_dataset(dataset)
    assert not report.errors
    assert any("P001/week00: no left view" in w for w in report.warnings)
    assert any("left.jpg: photo without a mask" in w for w in report.warnings)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "missing" in check_dataset(empty).errors[0]


def test_masks_named_by_a_synonym_in_capitals_find_their_photos_and_loss_maps(dataset, tmp_path):
    # Vertex.png next to Vertex.JPG (a clinic's own names): check-dataset and score-masks pair
    # the mask with its photo and loss map by the mask's own name, not the canonical view name.
    from autosalt.postprocess.score_masks import score_masks
    for patient in ("P001", "P002"):
        for kind, old, new in (("masks", "top.png", "Vertex.png"), ("photos", "top.jpg", "Vertex.JPG"),
                               ("loss", "top.png", "Vertex.png")):
            folder = dataset / kind / patient / "week00"
            (folder / old).rename(folder / new)
    report = check_dataset(dataset)
    assert not report.errors, report.errors
    assert report.images == 8 and report.with_loss_map == 8
    [row, _] = score_masks(dataset, method="pixel", progress=False)
    assert row["status"] != "error" and row["top"] is not None, row


def test_scalp_only_labels_warn_about_background_and_say_why(dataset):
    # Labels of the scalp alone (everything else 255, as real photos were first labelled) give
    # the network no pixel of 'not scalp': check-dataset must say so for background and skin.
    for mask_path in sorted((dataset / "masks").rglob("*.png")):
        mask = read_mask(mask_path)
        write_png_atomic(mask_path, np.where(np.isin(mask, (2, 3)), mask, 255).astype(np.uint8))
    report = check_dataset(dataset)
    balance = [warning for warning in report.warnings if warning.startswith("class balance")]
    assert [warning.split(" is ")[0] for warning in balance] == ["class balance: background",
                                                                 "class balance: skin"]
    assert "background is 0.00% of labelled pixels" in balance[0]
    assert "down to the neck" in balance[0] and "band around the head" in balance[0]
