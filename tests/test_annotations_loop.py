"""The retraining loop of docs/retraining.md, end to end on a tiny dataset (slow).

export LabelMe -> import-annotations -> check-dataset -> fine-tune 2 steps from a checkpoint
(--init) with the imported folder mixed with synthetic data -> evaluate-masks on held-out
patients.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from autosalt.annotations.labelme import mask_to_labelme
from autosalt.cli import main
from autosalt.config import load_config
from autosalt.fileio import read_mask, read_photo, write_json_atomic, write_png_atomic
from autosalt.layout import scan_labeled_folder
from autosalt.model.checkpoint import make_checkpoint, save_checkpoint
from autosalt.model.factory import create_model
from autosalt.model.predictor import Predictor
from autosalt.synth.generate import SynthOptions, generate
from autosalt.training.data import load_split
from autosalt.training.train import train

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_retraining_loop(tmp_path, capsys):
    # A clinic's photos with the model's masks (here: synthetic truth) exported for correction.
    clinic_source = tmp_path / "clinic_source"
    generate(clinic_source, 3, 1, 11, SynthOptions(size=(64, 64)), workers=1, progress=False)
    generate(tmp_path / "synthetic_train", 2, 1, 12, SynthOptions(size=(64, 64)), workers=1, progress=False)
    annotations = tmp_path / "pre" / "annotations"
    for visit in scan_labeled_folder(clinic_source).visits:
        for view, mask_path in visit.views.items():
            json_path = annotations / visit.patient / visit.visit / f"{view}.json"
            photo = clinic_source / "photos" / visit.patient / visit.visit / f"{view}.jpg"
            mask = read_mask(mask_path)
            write_json_atomic(json_path, mask_to_labelme(mask, os.path.relpath(photo, json_path.parent),
                                                         read_photo(photo).shape[:2]))

    clinic = tmp_path / "clinic_data"
    assert main(["import-annotations", "--format", "labelme", str(annotations), "--out", str(clinic)]) == 0
    assert "imported 12 images (3 patients, 3 visits)" in capsys.readouterr().out
    assert main(["check-dataset", str(clinic)]) == 0
    assert "ok for training" in capsys.readouterr().out

    # A tiny "released" model to start from, then 2 fine-tuning steps on clinic + synthetic.
    torch.manual_seed(0)
    model_args = {"arch": "unet", "encoder": "mobilenet_v2"}
    released = tmp_path / "models" / "tiny.pt"
    save_checkpoint(released, make_checkpoint(create_model(**model_args, pretrained=False), model_args,
                                              64, {}, model_id="tiny-test"))
    run = tmp_path / "runs" / "finetune"
    config = load_config(REPO / "configs" / "tiny.yaml",
                         [f"data.roots=[{clinic},{tmp_path / 'synthetic_train'}]", f"out={run}",
                          "train.epochs=1", "data.val_fraction=0.4"])
    metrics = train(config, init=str(released), progress=False)
    assert metrics and (run / "best.pt").is_file()
    split = load_split(run / "split.json")
    assert not set(split["train"]) & set(split["val"])
    assert main(["check-dataset", str(clinic), "--split", str(run / "split.json")]) == 0
    assert "leakage" not in capsys.readouterr().out

    # Held-out clinic patients: predict masks and compare with the imported reference.
    held_out = [key.split("/", 1)[1] for key in split["val"] if key.startswith("clinic_data/")] or \
        [key.split("/", 1)[1] for key in split["train"] if key.startswith("clinic_data/")][:1]
    predictor = Predictor(run / "best.pt", bf16=False, channels_last=False)
    predictions = tmp_path / "predicted_masks"
    for visit in scan_labeled_folder(clinic).visits:
        if visit.patient not in held_out:
            continue
        for view in visit.views:
            photo = read_photo(clinic / "photos" / visit.patient / visit.visit / f"{view}.jpg")
            write_png_atomic(predictions / visit.patient / visit.visit / f"{view}.png",
                             predictor.predict(photo).mask)
    assert main(["evaluate-masks", str(predictions), str(clinic)]) == 0
    assert "4 images" in capsys.readouterr().out
