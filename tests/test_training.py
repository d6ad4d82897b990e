"""The training program on a tiny model and tiny synthetic data: config, split, resume, DDP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import autosalt.training.train as training
from autosalt.config import ConfigError, load_config
from autosalt.model.checkpoint import load_checkpoint
from autosalt.synth.generate import SynthOptions, generate
from autosalt.training.data import RootMixSampler, Sample, list_samples, load_targets, make_split
from autosalt.training.engine import ModelEma
from autosalt.training.presets import EvalPreset, TrainPreset

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "configs" / "tiny.yaml"


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny") / "synth"
    generate(root, patients=3, visits=1, seed=31, options=SynthOptions(size=(80, 80)), workers=1,
             progress=False)
    return root


def tiny_config(data: Path, out: Path, *extra: str):
    return load_config(TINY, [f"data.roots=[{data}]", f"out={out}", "train.bf16=false", *extra])


def test_config_file_overrides_and_types():
    config = load_config(TINY, ["train.lr=3e-4", "data.roots=[a,b]", "model.input_size=96"])
    assert config.train.lr == 3e-4 and config.data.roots == ["a", "b"]
    assert config.model.input_size == 96 and config.model.encoder == "mobilenet_v2"  # from the file
    assert config.train.batch_size == 2  # the file's value, not the dataclass default


def test_train_takes_overrides_with_set_as_infer_does_and_bare():
    import argparse

    parser = argparse.ArgumentParser()
    training.configure_parser(parser)
    args = parser.parse_args(["--config", str(TINY), "--set", "train.lr=3e-4", "--set", "out=runs/x",
                              "train.epochs=7"])
    config = load_config(args.config, [*args.set_overrides, *args.overrides])
    assert config.train.lr == 3e-4 and config.out == "runs/x" and config.train.epochs == 7


@pytest.mark.parametrize("override, message", [
    ("train.lrr=1", "did you mean.*train.lr|train.lr"),
    ("trian.lr=1", "train"),
    ("train.epochs=many", "integer"),
    ("train.lr", "section.key=value"),
])
def test_unknown_keys_and_bad_values_are_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(TINY, [override])


def test_split_is_seeded_patient_level_and_saved(tiny_data, tmp_path):
    samples = list_samples([tiny_data])
    first, again = make_split(samples, 0.34, seed=5), make_split(samples, 0.34, seed=5)
    assert first == again
    assert not set(first["train"]) & set(first["val"])
    assert sorted(first["train"] + first["val"]) == sorted({s.patient_key for s in samples})
    seeds = {tuple(make_split(samples, 0.34, seed=s)["val"]) for s in range(10)}
    assert len(seeds) > 1  # the seed matters
    training.train(tiny_config(tiny_data, tmp_path / "run"), progress=False)
    saved = json.loads((tmp_path / "run" / "split.json").read_text())
    assert saved["train"] == make_split(samples, 0.34, 0)["train"]


def test_run_folder_holds_config_environment_metrics_and_checkpoints(tiny_data, tmp_path):
    out = tmp_path / "run"
    training.train(tiny_config(tiny_data, out), progress=False)
    for name in ("config.yaml", "env.json", "split.json", "metrics.csv", "metrics.json", "best.pt",
                 "last.pt"):
        assert (out / name).is_file(), name
    assert not (out / "epochs").exists()  # only with train.keep_epochs
    env = json.loads((out / "env.json").read_text())
    assert env["seed"] == 0 and env["torch"] == torch.__version__
    metrics = json.loads((out / "metrics.json").read_text())
    assert [row["epoch"] for row in metrics] == [0, 1]
    assert {"salt_mae", "scalp_jaccard", "loss_jaccard", "fraction_mae"} <= set(metrics[0])
    best = load_checkpoint(out / "best.pt")  # weights_only load of a plain dict
    assert best["model_args"] == {"arch": "unet", "encoder": "mobilenet_v2"}


def test_evaluate_per_visit_errors_pair_visits_and_average_to_the_salt_mae(tiny_data, tmp_path):
    from autosalt.model.factory import create_model
    from autosalt.training.engine import evaluate

    torch.manual_seed(0)
    model = create_model("unet", "mobilenet_v2", pretrained=False)
    samples = list_samples([tiny_data])
    plain = evaluate(model, samples, 64, "cpu", progress=False)
    paired = evaluate(model, samples, 64, "cpu", progress=False, per_visit=True)
    assert "visit_errors" not in plain  # per-epoch metrics stay flat
    errors = paired["visit_errors"]
    assert set(errors) == {(s.patient, s.visit) for s in samples}
    assert len(errors) == paired["visits"]
    assert np.mean(list(errors.values())) == pytest.approx(plain["salt_mae"])
    assert 0.0 <= plain["loss_soft_jaccard"] <= 1.0


def test_summarise_of_one_pass_matches_evaluate_per_method_and_pools_groups(tiny_data):
    # bench_model predicts each visit once for both methods and summarises pattern groups from
    # the same results: that must equal a separate evaluate() per method, and the groups' pixel
    # counts and SALT errors must add up to the whole.
    from autosalt.model.factory import create_model
    from autosalt.training.engine import evaluate, evaluate_visits, summarise

    torch.manual_seed(0)
    model = create_model("unet", "mobilenet_v2", pretrained=False)
    samples = list_samples([tiny_data])
    visits = evaluate_visits(model, samples, 64, "cpu", methods=("pixel", "surface"), progress=False)
    for method in ("pixel", "surface"):
        alone = evaluate(model, samples, 64, "cpu", method=method, progress=False, per_visit=True)
        together = summarise(visits, method, per_visit=True)
        assert together["visit_errors"] == pytest.approx(alone["visit_errors"])
        for key in ("salt_mae", "salt_bias", "scalp_jaccard", "loss_soft_jaccard", "fraction_mae"):
            assert together[key] == pytest.approx(alone[key], nan_ok=True)
    first, rest = summarise(visits[:1], "pixel"), summarise(visits[1:], "pixel")
    assert first["visits"] + rest["visits"] == summarise(visits, "pixel")["visits"] == len(visits)
    assert sum(v.confusion.sum() for v in visits) == sum(
        int((load_targets(s)[1] != 255).sum()) for s in samples)


def test_evaluate_reports_the_signed_bias_of_the_scores(tiny_data, monkeypatch):
    # Every visit scored SCORE on every view, whatever the network says, with SCORE between the
    # lowest and highest true SALT so that errors of both signs occur: the bias must be
    # SCORE - mean(true SALT) and the MAE mean(|SCORE - true SALT|), both from truth.csv.
    import autosalt.postprocess.visit as visit_module
    from autosalt.contract import VIEWS
    from autosalt.model.factory import create_model
    from autosalt.tablefile import read_table_rows
    from autosalt.training.engine import evaluate

    truths = np.array([float(r["salt"]) for r in read_table_rows(tiny_data / "truth.csv")])
    score = (truths.min() + truths.max()) / 2
    assert truths.min() < score < truths.max()
    monkeypatch.setattr(visit_module, "score_visit",
                        lambda *args, **kwargs: visit_module.VisitValues({v: score for v in VIEWS}))
    result = evaluate(create_model("unet", "mobilenet_v2", pretrained=False),
                      list_samples([tiny_data]), 64, "cpu", progress=False)
    assert result["visits"] == len(truths)
    assert result["salt_bias"] == pytest.approx(score - truths.mean())
    assert result["salt_mae"] == pytest.approx(np.abs(score - truths).mean())


@pytest.mark.parametrize("extra", [(), ("train.ema_decay=0.9",), ("data.root_weights=[1.0]",)],
                         ids=["plain", "ema", "root_weights"])
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tiny_data, tmp_path, monkeypatch,
                                                                extra):
    whole = tmp_path / "whole"
    training.train(tiny_config(tiny_data, whole, *extra), progress=False)

    interrupted = tmp_path / "interrupted"
    real_epoch = training.train_one_epoch

    def killed_in_second_epoch(*args, **kwargs):
        if args[5] == 1:  # the epoch argument
            raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(training, "train_one_epoch", killed_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        training.train(tiny_config(tiny_data, interrupted, *extra), progress=False)
    assert load_checkpoint(interrupted / "last.pt")["epoch"] == 0
    monkeypatch.setattr(training, "train_one_epoch", real_epoch)
    training.train(load_config(), resume=str(interrupted), progress=False)

    expected = load_checkpoint(whole / "last.pt")
    resumed = load_checkpoint(interrupted / "last.pt")
    assert resumed["epoch"] == expected["epoch"] == 1
    for weights in ("state_dict", "model_state_dict") if "ema" in str(extra) else ("state_dict",):
        for key, value in expected[weights].items():
            assert torch.equal(value, resumed[weights][key]), (weights, key)
    assert json.loads((whole / "metrics.json").read_text())[1]["loss"] == \
        json.loads((interrupted / "metrics.json").read_text())[1]["loss"]


def _samples(root: str, count: int) -> list[Sample]:
    return [Sample(Path(root), f"{root}/P{i}", f"P{i}", "v", "top", Path("p"), Path("m"), None)
            for i in range(count)]


def test_root_weights_set_each_roots_share_of_an_epoch():
    samples = _samples("clinic", 10) + _samples("synthetic", 190)
    sampler = RootMixSampler(samples, ["clinic", "synthetic"], [0.5, 0.5], num_samples=4000, seed=3)
    drawn = list(sampler)
    assert len(drawn) == len(sampler) == 4000
    clinic_share = np.mean([index < 10 for index in drawn])
    assert 0.46 < clinic_share < 0.54  # 5% of the images, half of the epoch
    assert list(sampler) == drawn  # the same epoch draws the same images (resume)
    sampler.set_epoch(1)
    assert list(sampler) != drawn
    other_rank = RootMixSampler(samples, ["clinic", "synthetic"], [0.5, 0.5], 4000, seed=3, rank=1)
    assert list(other_rank) != drawn
    only_synthetic = RootMixSampler(samples, ["clinic", "synthetic"], [0, 1], 500)
    assert min(only_synthetic) >= 10


@pytest.mark.parametrize("roots, weights, message", [
    (["clinic", "synthetic"], [1.0], "one per root"),
    (["clinic", "synthetic"], [0.0, 0.0], "positive sum"),
    (["clinic", "synthetic"], [-1.0, 2.0], ">= 0"),
    (["clinic", "clinic"], [0.5, 0.5], "twice"),
    (["clinic", "synthetic", "empty"], [0.4, 0.4, 0.2], "without training images"),
])
def test_root_weights_errors_name_the_problem(roots, weights, message):
    samples = _samples("clinic", 3) + _samples("synthetic", 3)
    with pytest.raises(ValueError, match=message):
        RootMixSampler(samples, roots, weights, num_samples=10)


def test_root_weights_config_takes_numbers_only():
    assert load_config(TINY, ["data.root_weights=[0.5, 1]"]).data.root_weights == [0.5, 1.0]
    with pytest.raises(ConfigError, match="root_weights"):
        load_config(TINY, ["data.root_weights=[half, half]"])


def test_model_ema_follows_the_weights_by_its_warming_decay():
    model = torch.nn.Sequential(torch.nn.Linear(2, 1, bias=False), torch.nn.BatchNorm1d(1))
    torch.nn.init.constant_(model[0].weight, 1.0)
    ema = ModelEma(model, decay=0.99)
    torch.nn.init.constant_(model[0].weight, 3.0)
    model[1].num_batches_tracked.fill_(7)
    ema.update(model)  # first update: decay min(0.99, 2/11)
    expected = 1.0 + (3.0 - 1.0) * (1 - 2 / 11)
    assert torch.allclose(ema.module[0].weight, torch.full((1, 2), expected))
    assert int(ema.module[1].num_batches_tracked) == 7  # counters are copied, not averaged
    assert not any(p.requires_grad for p in ema.module.parameters())
    for _ in range(2000):
        ema.update(model)
    assert ema.current_decay() == 0.99
    assert torch.allclose(ema.module[0].weight, model[0].weight)
    with pytest.raises(ValueError, match="decay"):
        ModelEma(model, decay=1.0)


def test_ema_run_saves_the_average_and_keeps_the_trained_weights(tiny_data, tmp_path):
    out = tmp_path / "run"
    training.train(tiny_config(tiny_data, out, "train.ema_decay=0.5", "train.keep_epochs=true"),
                   progress=False)
    last = load_checkpoint(out / "last.pt")
    assert last["ema_updates"] == 4  # 2 epochs x 2 steps
    floats = [k for k, v in last["state_dict"].items() if v.is_floating_point()]
    assert any(not torch.equal(last["state_dict"][k], last["model_state_dict"][k]) for k in floats)
    # keep_epochs: each epoch's released (averaged) weights, without the resume state
    assert sorted(p.name for p in (out / "epochs").iterdir()) == ["e0.pt", "e1.pt"]
    first, final = load_checkpoint(out / "epochs" / "e0.pt"), load_checkpoint(out / "epochs" / "e1.pt")
    assert final["model_id"].endswith("-e1") and "optimizer" not in final
    assert all(torch.equal(final["state_dict"][k], last["state_dict"][k]) for k in floats)
    assert any(not torch.equal(first["state_dict"][k], final["state_dict"][k]) for k in floats)


def test_init_fine_tunes_a_released_model_with_a_frozen_encoder(tiny_data, tmp_path):
    base = tmp_path / "base"
    training.train(tiny_config(tiny_data, base), progress=False)
    released = load_checkpoint(base / "best.pt")
    tuned = tmp_path / "tuned"
    # The config names another encoder: the released model decides, and the run records that.
    training.train(tiny_config(tiny_data, tuned, "train.freeze_encoder=true", "train.epochs=1",
                               "model.encoder=resnet18"),
                   init=str(base / "best.pt"), progress=False)
    result = load_checkpoint(tuned / "last.pt")["state_dict"]
    recorded = yaml.safe_load((tuned / "config.yaml").read_text())["model"]
    assert (recorded["arch"], recorded["encoder"]) == (released["model_args"]["arch"],
                                                       released["model_args"]["encoder"])
    encoder = [k for k in result if k.startswith("net.encoder.")]  # BN statistics included
    decoder = [k for k in result if k.startswith("net.decoder.") and result[k].is_floating_point()]
    assert encoder and all(torch.equal(result[k], released["state_dict"][k]) for k in encoder)
    assert any(not torch.equal(result[k], released["state_dict"][k]) for k in decoder)


def test_freeze_bn_keeps_every_batchnorm_statistic_while_weights_train(tiny_data, tmp_path):
    base = tmp_path / "base"
    training.train(tiny_config(tiny_data, base), progress=False)
    released = load_checkpoint(base / "best.pt")["state_dict"]
    tuned = tmp_path / "tuned"
    training.train(tiny_config(tiny_data, tuned, "train.freeze_bn=true", "train.epochs=1"),
                   init=str(base / "best.pt"), progress=False)
    result = load_checkpoint(tuned / "last.pt")["state_dict"]
    statistics = [k for k in result if k.endswith(("running_mean", "running_var"))]
    weights = [k for k in result if k.endswith(".weight")]
    assert statistics and all(torch.equal(result[k], released[k]) for k in statistics)
    assert any(not torch.equal(result[k], released[k]) for k in weights)


def test_fine_tuning_keeps_the_checkpoints_input_size_unless_the_config_names_one(
        tiny_data, tmp_path):
    base = tmp_path / "base"
    training.train(tiny_config(tiny_data, base), progress=False)  # tiny.yaml: 64 px
    same, larger = tmp_path / "same", tmp_path / "larger"
    training.train(tiny_config(tiny_data, same, "train.epochs=1", "model.input_size=null"),
                   init=str(base / "best.pt"), progress=False)
    training.train(tiny_config(tiny_data, larger, "train.epochs=1", "model.input_size=96",
                               "train.crop_size=64"), init=str(base / "best.pt"), progress=False)
    assert load_checkpoint(same / "last.pt")["input_size"] == 64
    assert load_checkpoint(larger / "last.pt")["input_size"] == 96
    recorded = yaml.safe_load((larger / "config.yaml").read_text())
    assert recorded["model"]["input_size"] == 96 and recorded["train"]["crop_size"] == 64


def test_crops_are_cut_from_the_letterboxed_input_for_training_only():
    image = np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    mask = np.ones((90, 120), np.uint8)
    cropped = TrainPreset(96, 64)(image=image, mask=mask)
    whole = EvalPreset(96)(image=image, mask=mask)
    assert cropped["image"].shape == (64, 64, 3) and cropped["mask"].shape == (64, 64)
    assert whole["image"].shape == (96, 96, 3)
    assert TrainPreset(96)(image=image, mask=mask)["image"].shape == (96, 96, 3)


@pytest.mark.parametrize("sizes, message", [
    (["model.input_size=100"], "model.input_size must be a positive multiple of 32"),
    (["train.crop_size=48"], "train.crop_size must be a positive multiple of 32"),
    (["train.crop_size=128"], r"train.crop_size \(128\) is larger than model.input_size \(64\)"),
    (["train.area_weight=-1"], "train.area_weight must be a finite number >= 0, got -1"),
    (["train.fraction_weight=.nan"], "train.fraction_weight must be a finite number >= 0, got nan"),
])
def test_bad_sizes_or_loss_weights_are_config_errors(tiny_data, tmp_path, sizes, message):
    with pytest.raises(ConfigError, match=message):
        training.train(tiny_config(tiny_data, tmp_path / "run", *sizes), progress=False)
    assert not (tmp_path / "run").exists()  # refused before anything is written


@pytest.mark.parametrize("start_mae, epoch_mae, keeps_start", [(5.0, 9.0, True), (9.0, 5.0, False)])
def test_fine_tuning_keeps_the_starting_model_unless_an_epoch_beats_it(
        tiny_data, tmp_path, monkeypatch, start_mae, epoch_mae, keeps_start):
    base = tmp_path / "base"
    training.train(tiny_config(tiny_data, base), progress=False)
    released = load_checkpoint(base / "best.pt")
    real_evaluate = training.evaluate
    calls = []

    def scripted(*args, **kwargs):  # real metrics, but a SALT MAE chosen by the test
        metrics = real_evaluate(*args, **kwargs)
        calls.append(1)
        return {**metrics, "salt_mae": start_mae if len(calls) == 1 else epoch_mae}

    monkeypatch.setattr(training, "evaluate", scripted)
    tuned = tmp_path / "tuned"
    training.train(tiny_config(tiny_data, tuned, "train.epochs=1"), init=str(base / "best.pt"),
                   progress=False)
    assert len(calls) == 2  # the starting model, then the one epoch
    assert json.loads((tuned / "init_metrics.json").read_text())["salt_mae"] == start_mae
    best = load_checkpoint(tuned / "best.pt")["state_dict"]
    last = load_checkpoint(tuned / "last.pt")["state_dict"]
    same_as_start = all(torch.equal(best[k], released["state_dict"][k]) for k in best)
    same_as_epoch = all(torch.equal(best[k], last[k]) for k in best)
    assert (same_as_start, same_as_epoch) == (keeps_start, not keeps_start)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_process_gloo_training_keeps_ranks_identical(tiny_data, tmp_path):
    out = tmp_path / "ddp"
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1",
                   "MASTER_PORT": str(_free_port())}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
               "--master_addr=127.0.0.1", f"--master_port={environment['MASTER_PORT']}",
               str(ROOT / "train.py"), "--config", str(TINY), "--quiet",
               f"data.roots=[{tiny_data}]", f"out={out}", "train.bf16=false"]
    result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=240,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    checksums = json.loads((out / "rank_checksums.json").read_text())
    assert len(checksums) == 2 and checksums[0] == checksums[1]
    assert (out / "best.pt").is_file() and (out / "metrics.json").is_file()
