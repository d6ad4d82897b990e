"""``autosalt train``: the training program, readable top to bottom.

    autosalt train --config configs/default.yaml train.epochs=5 data.roots=[my_data]
    autosalt train --resume runs/default            # continue exactly where it stopped
    autosalt train --init models/autosalt-default.pt data.roots=[clinic] train.freeze_encoder=true

The run folder gets the resolved config, the environment, the split, metrics per epoch
(CSV + JSON), and ``best.pt`` (the best epoch by ``train.select_metric``: SALT MAE when every
validation visit has four views, else the view-percent MAE; with ``--init`` the starting
model competes too, so fine-tuning never ends worse on validation than it began; when no
epoch has a value of the measure, the last epoch's weights with a warning and a note) /
``last.pt`` (resume state); with ``train.keep_epochs`` also ``epochs/e<N>.pt``, each epoch's
weights, to choose among afterwards. With ``train.ema_decay`` the weights validated and saved
are an exponential moving average of the trained ones.
Under ``torchrun`` it trains with DistributedDataParallel; rank 0 logs and saves.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from autosalt import __version__
from autosalt.config import (
    DEFAULT_INPUT_SIZE,
    Config,
    ConfigError,
    check_loss_weights,
    check_real_parts,
    check_select_metric,
    check_sizes,
    from_dict,
    load_config,
    to_dict,
)
from autosalt.fileio import write_csv_atomic, write_json_atomic, write_text_atomic
from autosalt.model.checkpoint import CheckpointError, load_checkpoint, make_checkpoint, save_checkpoint
from autosalt.model.factory import create_model
from autosalt.model.precision import resolve_bf16
from autosalt.training.data import (
    RootMixSampler,
    SegmentationDataset,
    list_samples,
    load_split,
    make_split,
)
from autosalt.training.engine import ModelEma, evaluate, train_one_epoch
from autosalt.training.presets import TrainPreset
from autosalt.training.selection import improves, resolve_select_metric
from autosalt.training.selftrain import SelfTraining
from autosalt.training.style import RealStyle

METRIC_COLUMNS = ("epoch", "loss", "ce", "dice", "fraction", "area", "pseudo_ce", "pseudo_fraction",
                  "pseudo_share", "images_per_s", "salt_mae",
                  "salt_max_error", "salt_bias", "view_mae", "scalp_jaccard", "loss_jaccard",
                  "fraction_mae", "lr", "seconds", "select_metric", "selected", "note")


def _distributed() -> tuple[int, int]:
    """(rank, world size); initialises the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend=backend)
    rank = torch.distributed.get_rank() if world > 1 else 0
    return rank, world


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parent, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def environment(seed: int, world: int) -> dict:
    import albumentations
    import segmentation_models_pytorch
    import timm

    return {"autosalt": __version__, "python": sys.version.split()[0], "torch": torch.__version__,
            "numpy": np.__version__, "albumentations": albumentations.__version__,
            "segmentation_models_pytorch": segmentation_models_pytorch.__version__,
            "timm": timm.__version__, "platform": platform.platform(), "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "cuda": torch.cuda.is_available(),
            "world_size": world, "seed": seed, "git_commit": _git_commit(),
            "command": " ".join(sys.argv), "started": time.strftime("%Y-%m-%d %H:%M:%S")}


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state() -> dict:
    return {"python": list(random.getstate()[1]), "numpy": np.random.get_state()[1].tolist(),
            "torch": torch.get_rng_state()}


def _set_rng_state(state: dict) -> None:
    python_state = random.getstate()
    random.setstate((python_state[0], tuple(state["python"]), python_state[2]))
    numpy_state = list(np.random.get_state())
    numpy_state[1] = np.array(state["numpy"], dtype=np.uint32)
    np.random.set_state(tuple(numpy_state))
    torch.set_rng_state(state["torch"])


def _lr_lambda(warmup: int, total: int):
    def factor(step: int) -> float:  # linear warm-up, then cosine to 2% of the peak
        if step < warmup:
            return (step + 1) / max(1, warmup)
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress))
    return factor


def _weights_checksum(model: torch.nn.Module) -> float:
    """Sum of the learned parameters. BatchNorm running statistics are left out: DDP syncs them
    from rank 0 at the start of each forward, so after the last step each rank holds its own."""
    return float(sum(p.detach().double().sum() for p in model.parameters()))


class TrainingRun:
    """One training run, built in steps and readable in order: :meth:`prepare_data` (samples,
    the patient-level split, the training set), :meth:`build_model` (network, optimiser,
    schedule, weight average: fresh, fine-tuned from ``--init`` or resumed), then :meth:`fit`
    (per epoch :meth:`train_epoch`, :meth:`validate`, :meth:`select` and :meth:`save`)."""

    def __init__(self, config: Config, resume: str | None = None, init: str | None = None,
                 progress: bool = True) -> None:
        self.rank, self.world = _distributed()
        self.main_process = self.rank == 0
        self.progress, self.init, self.resume_state, self.released = progress, init, None, None
        self.config, self.out = config, Path(config.out)
        self.start_epoch, self.best, self.stale, self.history = 0, None, 0, []
        self.last_release: dict | None = None  # the latest epoch's checkpoint, for best.pt
        if resume:
            self._load_resume(resume)
        if self.config.train.threads:
            torch.set_num_threads(self.config.train.threads)
        _seed_everything(self.config.train.seed + self.rank)
        self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) \
            if torch.cuda.is_available() else torch.device("cpu")
        self.bf16 = resolve_bf16(self.config.train.bf16, self.device)  # only where bf16 is native

    def _load_resume(self, resume: str) -> None:
        """The interrupted run's config, folder, epoch, selection state and history."""
        state = load_checkpoint(Path(resume) / "last.pt" if Path(resume).is_dir() else resume)
        self.resume_state, self.config = state, from_dict(state["config"])
        self.out = Path(resume) if Path(resume).is_dir() else Path(self.config.out)
        self.config.out = str(self.out)
        self.start_epoch = state["epoch"] + 1
        best = state.get("best_value", state.get("best_salt_mae"))
        self.best = best if best is not None and math.isfinite(best) else None
        self.stale, self.history = state["stale_epochs"], state["history"]

    # -- data ---------------------------------------------------------------------------------
    def prepare_data(self) -> None:
        """Samples, the split (saved next to the weights), the network's input size, the run
        files, and the training set with its sampler."""
        data = self.config.data
        samples = list_samples(data.roots)
        if data.val_roots:  # a held-out set: every training-root patient trains
            self.val_samples = list_samples(data.val_roots)
            self.split = {"train": sorted({s.patient_key for s in samples}),
                          "val": sorted({s.patient_key for s in self.val_samples}),
                          "val_roots": data.val_roots}
            self.train_samples = samples
        else:
            self.split = load_split(data.split_file) if data.split_file else \
                (load_split(self.out / "split.json") if self.resume_state else make_split(
                    samples, data.val_fraction, data.split_seed))
            train_patients, val_patients = set(self.split["train"]), set(self.split["val"])
            self.train_samples = [s for s in samples if s.patient_key in train_patients]
            self.val_samples = [s for s in samples if s.patient_key in val_patients]
        if data.max_visits:
            keep = set(sorted({(s.patient_key, s.visit) for s in self.train_samples})[: data.max_visits])
            self.train_samples = [s for s in self.train_samples if (s.patient_key, s.visit) in keep]
        if not self.train_samples:
            raise ValueError("no training samples after the split; add data or lower data.val_fraction")
        self._choose_network()
        check_sizes(self.config.model.input_size, self.config.train.crop_size)
        check_loss_weights(self.config.train)
        check_select_metric(self.config.train)
        check_real_parts(self.config)
        self.metric = resolve_select_metric(self.config.train.select_metric, self.val_samples)
        if self.main_process:
            self._write_run_files()
        self._make_training_set()

    def _choose_network(self) -> None:
        """With ``--init`` the released model fixes the network: record it in the run's config."""
        model = self.config.model
        if self.init:
            self.released = load_checkpoint(self.init)
            model.arch = self.released["model_args"]["arch"]
            model.encoder = self.released["model_args"]["encoder"]
            released_size = int(self.released["input_size"])
            if model.input_size is None:
                model.input_size = released_size
            elif self.main_process and model.input_size != released_size:
                print(f"fine-tuning at {model.input_size} px; {self.init} runs at {released_size} px")
        if model.input_size is None:
            model.input_size = DEFAULT_INPUT_SIZE

    def _write_run_files(self) -> None:
        out = self.out
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / "split.json", self.split)
        write_text_atomic(out / "config.yaml", yaml.safe_dump(to_dict(self.config), sort_keys=False))
        write_json_atomic(out / "env.json", {**environment(self.config.train.seed, self.world),
                                             "precision": "bf16" if self.bf16 else "fp32"})
        print(f"train: {len(self.train_samples)} images ({len(self.split['train'])} patients), "
              f"val: {len(self.val_samples)} images ({len(self.split['val'])} patients), "
              f"best.pt selected by {self.metric if self.val_samples else 'none (no validation)'}"
              f" -> {out}")

    def _make_training_set(self) -> None:
        config = self.config
        style = RealStyle(config.data.style_photos, config.data.style_p) if config.data.style_roots else None
        self.dataset = SegmentationDataset(
            self.train_samples,
            TrainPreset(config.model.input_size, config.train.crop_size, config.train.rotate90_p),
            seed=config.train.seed, style=style, style_roots=config.data.style_roots,
            upright_roots=config.data.upright_roots)
        self.sampler = None
        if config.data.root_weights:
            try:
                self.sampler = RootMixSampler(
                    self.train_samples, config.data.roots, config.data.root_weights,
                    math.ceil(len(self.dataset) / self.world), config.train.seed, self.rank)
            except ValueError as error:
                raise ConfigError(str(error)) from None
        elif self.world > 1:
            self.sampler = torch.utils.data.DistributedSampler(
                self.dataset, self.world, self.rank, shuffle=True, seed=config.train.seed)

    # -- model --------------------------------------------------------------------------------
    def build_model(self) -> None:
        """The network (ImageNet encoder, ``--init`` weights, or the resumed ones), optimiser,
        learning-rate schedule and, with ``train.ema_decay``, the weight average."""
        config, state = self.config, self.resume_state
        self.model_args = dict(self.released["model_args"]) if self.init else \
            {"arch": config.model.arch, "encoder": config.model.encoder}
        model = create_model(**self.model_args,
                             pretrained=config.model.pretrained and not (self.init or state))
        if self.init:
            model.load_state_dict(self.released["state_dict"])
            if self.main_process:
                print(f"initialised from {self.init} ({self.released.get('model_id', '')})")
        if state:  # with EMA, "state_dict" holds the average and this the trained weights
            model.load_state_dict(state.get("model_state_dict", state["state_dict"]))
        if config.train.freeze_encoder:
            for parameter in model.encoder.parameters():
                parameter.requires_grad_(False)
        model.to(self.device)
        if config.train.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self._build_optimizer()
        self.wrapped = torch.nn.parallel.DistributedDataParallel(model) if self.world > 1 else model
        # With train.ema_decay the moving average of the weights is what is validated and saved
        # (best.pt, and last.pt's "state_dict"); last.pt also keeps the trained weights to resume.
        self.ema = None
        if config.train.ema_decay:
            self.ema = ModelEma(model, config.train.ema_decay,
                                updates=state.get("ema_updates", 0) if state else 0)
            if state and "model_state_dict" in state:
                self.ema.module.load_state_dict(state["state_dict"])
        self.released_model = self.ema.module if self.ema else model
        self.self_training = SelfTraining(
            config.data.unlabeled, config.model.input_size, self.ema.module, config.train,
            config.data.workers) if config.train.self_training_weight > 0 else None
        self.frozen = ([model.encoder] if config.train.freeze_encoder else []) + (
            [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
            if config.train.freeze_bn else [])

    def _build_optimizer(self) -> None:
        settings, state = self.config.train, self.resume_state
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(trainable, lr=settings.lr, weight_decay=settings.weight_decay)
        steps_per_epoch = math.ceil(len(self.dataset) / self.world / settings.batch_size)
        if settings.steps_per_epoch:
            steps_per_epoch = min(steps_per_epoch, settings.steps_per_epoch)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, _lr_lambda(settings.warmup_steps, steps_per_epoch * settings.epochs))
        if state:
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            _set_rng_state(state["rng"])

    # -- epochs -------------------------------------------------------------------------------
    def validate(self) -> dict:
        return evaluate(self.released_model, self.val_samples, self.config.model.input_size,
                        self.device, self.bf16, self.config.train.channels_last,
                        max_visits=self.config.train.val_visits, progress=self.progress,
                        upright=bool(self.config.data.upright_roots))

    def score_start(self) -> None:
        """Fine-tuning starts from a model that already works: it is the first candidate for
        best.pt, so a run whose epochs all score worse on validation keeps the start."""
        if not (self.init and self.val_samples and self.main_process and not self.resume_state):
            return
        metrics = self.validate()
        value = metrics.get(self.metric, float("nan"))
        if improves(self.metric, value, None):
            self.best = value
        metrics["select_metric"] = self.metric
        save_checkpoint(self.out / "best.pt", make_checkpoint(
            self.released_model, self.model_args, self.config.model.input_size,
            to_dict(self.config), metrics={k: v for k, v in metrics.items() if not isinstance(v, dict)},
            model_id=self.released.get("model_id", "") or f"autosalt-{self.out.name}-init",
            select_metric=self.metric))
        write_json_atomic(self.out / "init_metrics.json", metrics)
        print(f"starting model ({self.init}): val {self.metric} {value:.2f}; best.pt keeps it "
              "unless an epoch does better")

    def train_epoch(self, epoch: int) -> dict:
        """One pass over the training set; returns its losses."""
        settings = self.config.train
        self.dataset.set_epoch(epoch)
        generator = torch.Generator().manual_seed(settings.seed * 1000 + epoch)
        if self.sampler is not None:
            self.sampler.set_epoch(epoch)
        loader = torch.utils.data.DataLoader(
            self.dataset, batch_size=settings.batch_size, sampler=self.sampler,
            shuffle=self.sampler is None, generator=generator if self.sampler is None else None,
            num_workers=self.config.data.workers,
            drop_last=len(self.dataset) > settings.batch_size, persistent_workers=False)
        if self.self_training is not None:
            self.self_training.start_epoch(epoch)
        return train_one_epoch(self.wrapped, loader, self.optimizer, self.scheduler, self.device,
                               epoch, settings, progress=self.progress and self.main_process,
                               frozen=self.frozen, ema=self.ema, self_training=self.self_training)

    def select(self, row: dict) -> bool:
        """Whether this epoch's weights become best.pt (every epoch's, without validation)."""
        improved = not self.val_samples or improves(self.metric, row.get(self.metric), self.best)
        if improved and self.val_samples:
            self.best = row[self.metric]
        self.stale = 0 if improved else self.stale + 1
        row["select_metric"] = self.metric if self.val_samples else "none"
        row["selected"] = improved
        return improved

    def save(self, epoch: int, row: dict, improved: bool) -> None:
        """best.pt (when selected), epochs/e<N>.pt (train.keep_epochs), last.pt and metrics."""
        config, out = self.config, self.out
        model_id = f"autosalt-{config.model.arch}-{config.model.encoder}-{out.name}-e{epoch}"
        checkpoint = make_checkpoint(self.released_model, self.model_args, config.model.input_size,
                                     to_dict(config), metrics=row, model_id=model_id,
                                     select_metric=row["select_metric"])
        trained = {"model_state_dict": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
                   "ema_updates": self.ema.updates} if self.ema else {}
        if improved:
            save_checkpoint(out / "best.pt", checkpoint)
        if config.train.keep_epochs:
            (out / "epochs").mkdir(exist_ok=True)
            save_checkpoint(out / "epochs" / f"e{epoch}.pt", checkpoint)
        save_checkpoint(out / "last.pt", {
            **checkpoint, "epoch": epoch, "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "rng": _rng_state(), "best_value": self.best,
            "stale_epochs": self.stale, "history": self.history, **trained})
        self.last_release = checkpoint
        self._write_metrics()

    def _write_metrics(self) -> None:
        write_csv_atomic(self.out / "metrics.csv", self.history, METRIC_COLUMNS)
        write_json_atomic(self.out / "metrics.json", self.history)

    def fit(self) -> dict:
        """The epochs from the first (or the resumed) one; returns the last epoch's metrics."""
        final = {}
        for epoch in range(self.start_epoch, self.config.train.epochs):
            started = time.perf_counter()
            train_metrics = self.train_epoch(epoch)
            if self.world > 1:
                torch.distributed.barrier()
            if not self.main_process:
                continue
            val_metrics = self.validate() if self.val_samples else {}
            row = {"epoch": epoch, **train_metrics, "lr": self.scheduler.get_last_lr()[0],
                   "seconds": time.perf_counter() - started,
                   **{k: v for k, v in val_metrics.items() if not isinstance(v, dict)},
                   "iou": val_metrics.get("iou", {})}
            self.history.append(row)
            improved = self.select(row)
            self.save(epoch, row, improved)
            self._report(epoch, row, improved)
            final = row
            if self.config.train.early_stopping and self.stale >= self.config.train.early_stopping:
                print(f"early stopping: no {self.metric} improvement in {self.stale} epochs")
                break
        if self.main_process:
            self._ensure_selected()
        self._close_distributed()
        return final

    def _report(self, epoch: int, row: dict, improved: bool) -> None:
        nan = float("nan")
        chosen = f", {self.metric} {row.get(self.metric, nan):.3f}" \
            if self.val_samples and self.metric != "salt_mae" else ""
        print(f"epoch {epoch}: loss {row['loss']:.3f}, {row['images_per_s']:.1f} img/s; "
              f"val SALT MAE {row.get('salt_mae', nan):.2f}, scalp J {row.get('scalp_jaccard', nan):.3f}, "
              f"loss J {row.get('loss_jaccard', nan):.3f}{chosen}" + (" (best)" if improved else ""))

    def _ensure_selected(self) -> None:
        """When no epoch (nor the --init start) ever had a value of the selection measure,
        best.pt becomes the last epoch's weights, and the run says so on stderr and in its
        metrics: never the untouched starting weights without a word."""
        if self.best is not None or not self.val_samples or self.last_release is None:
            return
        note = (f"no epoch selected: validation {self.metric} was nan on every epoch; best.pt holds "
                "the last epoch's weights. Choose a measure the validation data has "
                "(train.select_metric: view_mae or loss_jaccard)")
        print(f"autosalt train: warning: {note}", file=sys.stderr)
        self.history[-1]["note"] = note
        self.last_release["metrics"] = self.history[-1]
        save_checkpoint(self.out / "best.pt", {**self.last_release, "note": note})
        self._write_metrics()

    def _close_distributed(self) -> None:
        if self.world <= 1:
            return
        checksums = [None] * self.world
        torch.distributed.all_gather_object(checksums, _weights_checksum(self.model))
        if self.main_process:
            write_json_atomic(self.out / "rank_checksums.json", checksums)
        torch.distributed.destroy_process_group()


def train(config: Config, resume: str | None = None, init: str | None = None,
          progress: bool = True) -> dict:
    """Train per ``config``; returns the final metrics dict. See the module doc for files."""
    run = TrainingRun(config, resume, init, progress)
    run.prepare_data()
    run.build_model()
    run.score_start()
    return run.fit()


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None, help="YAML config (see configs/)")
    parser.add_argument("--set", dest="set_overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set train.lr=3e-4 (repeatable; the same "
                             "syntax as 'autosalt infer --set')")
    parser.add_argument("overrides", nargs="*", metavar="section.key=value",
                        help="the same overrides without --set, e.g. train.lr=3e-4 data.roots=[a,b] "
                             "out=runs/x")
    parser.add_argument("--resume", metavar="RUN", help="continue a run folder exactly")
    parser.add_argument("--init", metavar="CHECKPOINT",
                        help="fine-tune from a released model (e.g. models/autosalt-default.pt)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config, [*args.set_overrides, *args.overrides])
        metrics = train(config, resume=args.resume, init=args.init, progress=not args.quiet)
    except (ConfigError, CheckpointError) as error:
        print(f"autosalt train: error: {error}", file=sys.stderr)
        return 2
    if metrics:
        print(json.dumps({k: v for k, v in metrics.items() if k != "iou"}, default=float))
    return 0
