"""``autosalt train``: the training program, readable top to bottom.

    autosalt train --config configs/default.yaml train.epochs=5 data.roots=[my_data]
    autosalt train --resume runs/default            # continue exactly where it stopped
    autosalt train --init models/autosalt-default.pt data.roots=[clinic] train.freeze_encoder=true

The run folder gets the resolved config, the environment, the split, metrics per epoch
(CSV + JSON), and ``best.pt`` (lowest validation SALT MAE; with ``--init`` the starting
model competes too, so fine-tuning never ends worse on validation than it began) /
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

METRIC_COLUMNS = ("epoch", "loss", "ce", "dice", "fraction", "area", "images_per_s", "salt_mae",
                  "salt_max_error", "salt_bias", "scalp_jaccard", "loss_jaccard", "fraction_mae", "lr",
                  "seconds")


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


def train(config: Config, resume: str | None = None, init: str | None = None,
          progress: bool = True) -> dict:
    """Train per ``config``; returns the final metrics dict. See the module doc for files."""
    rank, world = _distributed()
    main_process = rank == 0
    out = Path(config.out)
    start_epoch, best, stale, history = 0, float("inf"), 0, []
    resume_state = None
    if resume:
        resume_state = load_checkpoint(Path(resume) / "last.pt" if Path(resume).is_dir() else resume)
        config = from_dict(resume_state["config"])
        out = Path(config.out) if not Path(resume).is_dir() else Path(resume)
        config.out = str(out)
        start_epoch = resume_state["epoch"] + 1
        best, stale = resume_state["best_salt_mae"], resume_state["stale_epochs"]
        history = resume_state["history"]
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    _seed_everything(config.train.seed + rank)
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if torch.cuda.is_available() \
        else torch.device("cpu")
    bf16 = resolve_bf16(config.train.bf16, device)  # train.bf16 only where bf16 is native

    # Data: samples, a patient-level split saved next to the weights.
    samples = list_samples(config.data.roots)
    if config.data.val_roots:  # a held-out set: every training-root patient trains
        val_samples = list_samples(config.data.val_roots)
        split = {"train": sorted({s.patient_key for s in samples}),
                 "val": sorted({s.patient_key for s in val_samples}), "val_roots": config.data.val_roots}
        train_samples = samples
    else:
        split = load_split(config.data.split_file) if config.data.split_file else \
            (load_split(out / "split.json") if resume else make_split(
                samples, config.data.val_fraction, config.data.split_seed))
        train_patients, val_patients = set(split["train"]), set(split["val"])
        train_samples = [s for s in samples if s.patient_key in train_patients]
        val_samples = [s for s in samples if s.patient_key in val_patients]
    if config.data.max_visits:
        keep = set(sorted({(s.patient_key, s.visit) for s in train_samples})[: config.data.max_visits])
        train_samples = [s for s in train_samples if (s.patient_key, s.visit) in keep]
    if not train_samples:
        raise ValueError("no training samples after the split; add data or lower data.val_fraction")
    released = None
    if init:  # the released model fixes the network: record it in the run's config
        released = load_checkpoint(init)
        config.model.arch = released["model_args"]["arch"]
        config.model.encoder = released["model_args"]["encoder"]
        if config.model.input_size is None:
            config.model.input_size = int(released["input_size"])
        elif main_process and config.model.input_size != int(released["input_size"]):
            print(f"fine-tuning at {config.model.input_size} px; {init} runs at "
                  f"{int(released['input_size'])} px")
    if config.model.input_size is None:
        config.model.input_size = DEFAULT_INPUT_SIZE
    check_sizes(config.model.input_size, config.train.crop_size)
    check_loss_weights(config.train)
    if main_process:
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / "split.json", split)
        write_text_atomic(out / "config.yaml", yaml.safe_dump(to_dict(config), sort_keys=False))
        write_json_atomic(out / "env.json", {**environment(config.train.seed, world),
                                             "precision": "bf16" if bf16 else "fp32"})
        print(f"train: {len(train_samples)} images ({len(split['train'])} patients), "
              f"val: {len(val_samples)} images ({len(split['val'])} patients) -> {out}")

    dataset = SegmentationDataset(train_samples, TrainPreset(config.model.input_size, config.train.crop_size),
                                  seed=config.train.seed)
    if config.data.root_weights:
        try:
            sampler = RootMixSampler(train_samples, config.data.roots, config.data.root_weights,
                                     math.ceil(len(dataset) / world), config.train.seed, rank)
        except ValueError as error:
            raise ConfigError(str(error)) from None
    else:
        sampler = torch.utils.data.DistributedSampler(dataset, world, rank, shuffle=True,
                                                      seed=config.train.seed) if world > 1 else None

    # Model: fresh (ImageNet encoder), from a released checkpoint (--init), or resumed.
    model_args = {"arch": config.model.arch, "encoder": config.model.encoder}
    if init:
        model_args = dict(released["model_args"])
    model = create_model(**model_args, pretrained=config.model.pretrained and not (init or resume))
    if init:
        model.load_state_dict(released["state_dict"])
        if main_process:
            print(f"initialised from {init} ({released.get('model_id', '')})")
    if resume_state:  # with EMA, "state_dict" holds the average and this the trained weights
        model.load_state_dict(resume_state.get("model_state_dict", resume_state["state_dict"]))
    if config.train.freeze_encoder:
        for parameter in model.encoder.parameters():
            parameter.requires_grad_(False)
    model.to(device)
    if config.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.train.lr, weight_decay=config.train.weight_decay)
    steps_per_epoch = math.ceil(len(dataset) / world / config.train.batch_size)
    if config.train.steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, config.train.steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _lr_lambda(config.train.warmup_steps, steps_per_epoch * config.train.epochs))
    if resume_state:
        optimizer.load_state_dict(resume_state["optimizer"])
        scheduler.load_state_dict(resume_state["scheduler"])
        _set_rng_state(resume_state["rng"])
    wrapped = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    # With train.ema_decay the moving average of the weights is what is validated and saved
    # (best.pt, and last.pt's "state_dict"); last.pt also keeps the trained weights to resume.
    ema = None
    if config.train.ema_decay:
        ema = ModelEma(model, config.train.ema_decay,
                       updates=resume_state.get("ema_updates", 0) if resume_state else 0)
        if resume_state and "model_state_dict" in resume_state:
            ema.module.load_state_dict(resume_state["state_dict"])
    released_model = ema.module if ema else model

    def validate() -> dict:
        return evaluate(released_model, val_samples, config.model.input_size, device, bf16,
                        config.train.channels_last, max_visits=config.train.val_visits,
                        progress=progress)

    if init and val_samples and main_process and not resume_state:
        # Fine-tuning starts from a model that already works: it is the first candidate for
        # best.pt, so a run whose epochs all score worse on validation keeps the start.
        start_metrics = validate()
        best = start_metrics.get("salt_mae", float("inf"))
        if not math.isfinite(best):
            best = float("inf")
        save_checkpoint(out / "best.pt", make_checkpoint(
            released_model, model_args, config.model.input_size, to_dict(config),
            metrics={k: v for k, v in start_metrics.items() if not isinstance(v, dict)},
            model_id=released.get("model_id", "") or f"autosalt-{out.name}-init"))
        write_json_atomic(out / "init_metrics.json", start_metrics)
        print(f"starting model ({init}): val SALT MAE {best:.2f}; best.pt keeps it unless an epoch "
              "does better")

    frozen = ([model.encoder] if config.train.freeze_encoder else []) + (
        [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        if config.train.freeze_bn else [])
    final = {}
    for epoch in range(start_epoch, config.train.epochs):
        started = time.perf_counter()
        dataset.set_epoch(epoch)
        generator = torch.Generator().manual_seed(config.train.seed * 1000 + epoch)
        if sampler is not None:
            sampler.set_epoch(epoch)
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=config.train.batch_size, sampler=sampler,
            shuffle=sampler is None, generator=generator if sampler is None else None,
            num_workers=config.data.workers, drop_last=len(dataset) > config.train.batch_size,
            persistent_workers=False)
        train_metrics = train_one_epoch(
            wrapped, loader, optimizer, scheduler, device, epoch, bf16,
            config.train.channels_last, config.train.dice_weight, config.train.fraction_weight,
            config.train.area_weight,
            config.train.steps_per_epoch, progress=progress and main_process,
            frozen=frozen, ema=ema)
        if world > 1:
            torch.distributed.barrier()
        if not main_process:
            continue
        val_metrics = validate() if val_samples else {}
        salt_mae = val_metrics.get("salt_mae", float("nan"))
        row = {"epoch": epoch, **train_metrics, "lr": scheduler.get_last_lr()[0],
               "seconds": time.perf_counter() - started,
               **{k: v for k, v in val_metrics.items() if not isinstance(v, dict)},
               "iou": val_metrics.get("iou", {})}
        history.append(row)
        improved = math.isfinite(salt_mae) and salt_mae < best - 1e-6 or (not val_samples)
        if improved:
            best, stale = (salt_mae if math.isfinite(salt_mae) else best), 0
        else:
            stale += 1
        model_id = f"autosalt-{config.model.arch}-{config.model.encoder}-{out.name}-e{epoch}"
        checkpoint = make_checkpoint(released_model, model_args, config.model.input_size,
                                     to_dict(config), metrics=row, model_id=model_id)
        trained = {"model_state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                   "ema_updates": ema.updates} if ema else {}
        if improved:
            save_checkpoint(out / "best.pt", checkpoint)
        if config.train.keep_epochs:
            (out / "epochs").mkdir(exist_ok=True)
            save_checkpoint(out / "epochs" / f"e{epoch}.pt", checkpoint)
        save_checkpoint(out / "last.pt", {
            **checkpoint, "epoch": epoch, "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "rng": _rng_state(), "best_salt_mae": best,
            "stale_epochs": stale, "history": history, **trained})
        write_csv_atomic(out / "metrics.csv", history, METRIC_COLUMNS)
        write_json_atomic(out / "metrics.json", history)
        print(f"epoch {epoch}: loss {train_metrics['loss']:.3f}, {train_metrics['images_per_s']:.1f} img/s; "
              f"val SALT MAE {salt_mae:.2f}, scalp J {val_metrics.get('scalp_jaccard', float('nan')):.3f}, "
              f"loss J {val_metrics.get('loss_jaccard', float('nan')):.3f}"
              + (" (best)" if improved else ""))
        final = row
        if config.train.early_stopping and stale >= config.train.early_stopping:
            print(f"early stopping: no SALT MAE improvement in {stale} epochs")
            break
    if world > 1:
        checksums = [None] * world
        torch.distributed.all_gather_object(checksums, _weights_checksum(model))
        if main_process:
            write_json_atomic(out / "rank_checksums.json", checksums)
        torch.distributed.destroy_process_group()
    return final


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None, help="YAML config (see configs/)")
    parser.add_argument("overrides", nargs="*", metavar="section.key=value",
                        help="overrides, e.g. train.lr=3e-4 data.roots=[a,b] out=runs/x")
    parser.add_argument("--resume", metavar="RUN", help="continue a run folder exactly")
    parser.add_argument("--init", metavar="CHECKPOINT",
                        help="fine-tune from a released model (e.g. models/autosalt-default.pt)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config, args.overrides)
        metrics = train(config, resume=args.resume, init=args.init, progress=not args.quiet)
    except (ConfigError, CheckpointError) as error:
        print(f"autosalt train: error: {error}", file=sys.stderr)
        return 2
    if metrics:
        print(json.dumps({k: v for k, v in metrics.items() if k != "iou"}, default=float))
    return 0
