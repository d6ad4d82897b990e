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
