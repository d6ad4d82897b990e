"""Typed configuration: dataclasses filled from YAML, overridden by dotted ``key=value`` pairs.

    config = load_config("configs/default.yaml", ["train.lr=3e-4", "model.encoder=resnet18"])

An unknown key (in the file or an override) is an error that names the closest valid keys,
so a typo never silently falls back to a default. ``to_dict`` gives what is written into
every run folder and checkpoint.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from autosalt.fileio import DEFAULT_MAX_PIXELS

DEFAULT_INPUT_SIZE = 256
SELECT_METRICS = ("auto", "salt_mae", "view_mae", "loss_jaccard")  # train.select_metric


@dataclass
class ModelConfig:
    arch: str = "unet"  # see autosalt.model.factory.ARCHITECTURES
    encoder: str = "mobilenet_v2"  # see autosalt.model.factory.ENCODERS
    pretrained: bool = True  # ImageNet weights from an installed weight package (no download)
    # Photos are letterboxed to a square of this many pixels. Unset (null): the --init
    # checkpoint's size when fine-tuning, else DEFAULT_INPUT_SIZE.
    input_size: int | None = None


@dataclass
class DataConfig:
    roots: list[str] = field(default_factory=lambda: ["data/synthetic_train"])
    val_roots: list[str] = field(default_factory=list)  # held-out roots; then no split is drawn
    val_fraction: float = 0.15  # share of patients held out (patient-level split)
    split_seed: int = 0
    split_file: str | None = None  # an existing split JSON to reuse instead of drawing one
    workers: int = 2  # DataLoader worker processes
    max_visits: int | None = None  # cap on training visits (quick experiments)
    # Share of each epoch's training images drawn from each of ``roots``, in order (empty =
    # every image once per epoch). [0.5, 0.5] mixes a small clinic set half and half with a
    # large synthetic one, however many images each holds.
    root_weights: list[float] = field(default_factory=list)
    # Real photos without labels (folders or files), for two optional parts of training:
    # restyling renders after them (style_roots, style_p) and self-training (train.self_training_weight).
    # Never list photos held out for testing.
    style_photos: list[str] = field(default_factory=list)
    # Roots (of ``roots``) whose training images are restyled after a random real photo: Fourier
    # amplitude swap or histogram matching (autosalt/training/style.py); with probability style_p.
    style_roots: list[str] = field(default_factory=list)
    style_p: float = 0.5
    unlabeled: list[str] = field(default_factory=list)  # real photos for self-training
    # Roots (of ``roots``) whose labeled photos are turned upright by their own labels (skin
    # below the scalp, as inference's upright pass turns a photo by its prediction) before
    # augmentation: photos taken with the phone turned train as they are scored. With any,
    # validation predicts with the upright pass too.
    upright_roots: list[str] = field(default_factory=list)


@dataclass
class TrainConfig:
    epochs: int = 20
    batch_size: int = 8
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    dice_weight: float = 1.0  # Dice on classes, added to cross-entropy
    fraction_weight: float = 2.0  # BCE on the loss fraction over scalp pixels
    # L1 on each image's percent (mean loss fraction over its scalp), which pixel-wise BCE
    # lets drift on thinning scalp (0 = off)
    area_weight: float = 0.0
    bf16: bool = True  # bfloat16 autocast where the CPU/GPU runs it natively, else fp32
    channels_last: bool = True
    freeze_encoder: bool = False  # fine-tune only the decoder (small datasets)
    freeze_bn: bool = False  # keep every BatchNorm's running statistics (small fine-tuning sets)
    ema_decay: float = 0.0  # exponential moving average of the weights (0 = off); validated and saved
    # The validation measure that picks best.pt and drives early stopping: salt_mae (visits of
    # four views only), view_mae (view percents; exists for visits of one view), loss_jaccard
    # (hair-loss Jaccard of the class masks, higher is better), or auto: salt_mae when every
    # validation visit has all four views, else view_mae.
    select_metric: str = "auto"
    early_stopping: int = 6  # epochs without improvement of select_metric before stopping (0 = never)
    steps_per_epoch: int | None = None  # cap per epoch (None = the whole training split)
    # Train on random square crops of this many pixels cut from the letterboxed input (None:
    # the whole input). Validation and scoring always see the whole input, so a model trained
    # on 256 px crops of 384 px views scores at 384 px: finer hair detail per step's cost.
    crop_size: int | None = None
    val_visits: int | None = None  # cap on validation visits (None = all)
    # Also save each epoch's weights as epochs/e<N>.pt (the release format of best.pt), so an
    # epoch can be chosen afterwards on selection sets of one's own (benchmarks/bench_compare.py)
    keep_epochs: bool = False
    rotate90_p: float = 0.15  # chance of a quarter turn of a training photo (real photos come turned)
    # Self-training on data.unlabeled: weight of the loss towards the weight average's (the
    # teacher's, train.ema_decay) confident predictions (0 = off), the top-class probability a
    # pixel needs to count, and the unlabeled photos per step.
    self_training_weight: float = 0.0
    pseudo_threshold: float = 0.9
    unlabeled_batch_size: int = 4
    seed: int = 0
    threads: int | None = None  # torch CPU threads (None = torch's default)


#: Every quality code batch scoring writes (docs/scoring.md explains each).
QUALITY_CODES = ("low_resolution", "blur", "dark", "bright", "no_colour", "small_scalp",
                 "view_mismatch", "left_right_swapped", "partial_loss", "surface_fit", "pose_guess",
                 "pose_ambiguous")
DEFAULT_REVIEW_CODES = ("low_resolution", "bright", "no_colour", "small_scalp", "partial_loss")


@dataclass
class QualityConfig:
    """Thresholds of batch scoring's per-view quality checks (see docs/scoring.md)."""

    min_side_px: int = 256  # photos smaller than this (short side) are flagged
    blur_min: float = 12.0  # variance of the Laplacian on the grey photo (long side <= 512 px)
    dark_max_fraction: float = 0.35  # share of head pixels below 16/255 that flags underexposure
    bright_max_fraction: float = 0.35  # share of head pixels above 245/255 that flags overexposure
    min_colour_saturation: float = 8.0  # mean HSV saturation (0-255) of the head; greyscale = 0
    min_scalp_fraction: float = 0.03  # predicted scalp share of the photo
    # A view "looks like a profile" when the scalp is under this share of the head (scalp +
    # skin) and skin sits beside it, off-centre by at least this many scalp widths.
    profile_max_scalp_share: float = 0.68
    profile_min_face_offset: float = 0.2
    # Share of a view's predicted scalp read as partial loss (loss fraction 0.2-0.8) above which
    # the view is flagged: diffuse thinning, or short, fine or light hair read as thinning.
    partial_max_share: float = 0.5
    # The codes that make a visit "flagged" for review; the others are recorded (quality_<view>
    # columns, notes) without flagging it. A code asks for review where it picks out the large
    # errors (docs/scoring.md, *Which codes flag a visit*); the rest rarely fire but mean the
    # photo is outside what the model was made for.
    review_codes: list[str] = field(default_factory=lambda: list(DEFAULT_REVIEW_CODES))


#: Choices of the ``infer:`` keys that take one (``autosalt infer --help`` explains each).
INFER_CHOICES = {"method": ("surface", "pixel"), "backend": ("torch", "onnxruntime"),
                 "precision": ("auto", "fp32", "bf16")}


@dataclass(frozen=True)
class ScoringSwitch:
    """One step of the scoring path that can be switched off (``autosalt infer --NAME`` /
    ``--no-NAME``, the ``infer:`` key NAME): what it does and what scoring does without it.
    ``autosalt infer --help`` and the benchmarks' options take these words from here."""

    name: str
    does: str
    without: str


SCORING_SWITCHES = (
    ScoringSwitch("tta", "average each prediction with the mirrored photo's",
                  "the network once per photo instead of twice"),
    ScoringSwitch("refine", "where the head fills little of the photo, predict again on a crop "
                  "around it", "one pass on the whole photo"),
    ScoringSwitch("upright", "where a photo lies turned (the face or neck beside or above the "
                  "scalp), predict again on it turned upright; the masks keep the photo's "
                  "orientation", "the photo only as it lies"),
)


@dataclass
class InferConfig:
    """Defaults of ``autosalt infer``; its command-line options override them, and ``run.json``
    records the settings a run used in this shape (docs/scoring.md)."""

    method: str = "surface"  # masks -> per-view percent: surface (default) or pixel
    backend: str = "torch"  # torch or onnxruntime
    precision: str = "auto"  # torch backend: auto (bf16 where native, else fp32), fp32, bf16
    tta: bool = True  # the scoring switches: SCORING_SWITCHES says what each does
    refine: bool = True
    upright: bool = True
    allow_partial: bool = False  # score visits with missing views (no SALT; its range)
    max_pixels: int = DEFAULT_MAX_PIXELS  # refuse photos above this many pixels
    workers: int = 1  # photo-decoding threads


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    infer: InferConfig = field(default_factory=InferConfig)
    out: str = "runs/default"  # run folder


class ConfigError(ValueError):
    """A configuration file or override that does not fit the schema."""


def check_sizes(input_size: int, crop_size: int | None) -> None:
    """The network halves its input five times: sizes must be positive multiples of 32."""
    for key, value in (("model.input_size", input_size), ("train.crop_size", crop_size)):
        if value is not None and (value <= 0 or value % 32):
            raise ConfigError(f"{key} must be a positive multiple of 32, got {value}")
    if crop_size is not None and crop_size > input_size:
        raise ConfigError(f"train.crop_size ({crop_size}) is larger than model.input_size "
                          f"({input_size}); crops are cut from the letterboxed input")


def check_loss_weights(train: TrainConfig) -> None:
    """Loss weights must be finite and >= 0 (0 switches a term off)."""
    for key in ("dice_weight", "fraction_weight", "area_weight"):
        value = getattr(train, key)
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"train.{key} must be a finite number >= 0, got {value}")


def check_real_parts(config: Config) -> None:
    """The real-photo parts of training need their photos, and self-training its teacher."""
    data, train = config.data, config.train
    if data.style_roots and not data.style_photos:
        raise ConfigError("data.style_roots needs data.style_photos: real photos to take the style from")
    unknown = sorted(set(data.style_roots) - set(data.roots))
    if unknown:
        raise ConfigError(f"data.style_roots {unknown} are not in data.roots {data.roots}")
    unknown = sorted(set(data.upright_roots) - set(data.roots))
    if unknown:
        raise ConfigError(f"data.upright_roots {unknown} are not in data.roots {data.roots}")
    if not 0.0 <= data.style_p <= 1.0 or not 0.0 <= train.rotate90_p <= 1.0:
        raise ConfigError("data.style_p and train.rotate90_p are probabilities: give values in [0, 1]")
    if train.self_training_weight < 0 or not math.isfinite(train.self_training_weight):
        raise ConfigError(f"train.self_training_weight must be >= 0, got {train.self_training_weight}")
    if train.self_training_weight > 0 and not data.unlabeled:
        raise ConfigError("train.self_training_weight > 0 needs data.unlabeled: folders of real photos")
    if train.self_training_weight > 0 and not train.ema_decay:
        raise ConfigError("self-training learns from the weight average: set train.ema_decay (e.g. 0.99)")


def check_select_metric(train: TrainConfig) -> None:
    if train.select_metric not in SELECT_METRICS:
        raise ConfigError(f"train.select_metric must be one of {', '.join(SELECT_METRICS)}, "
                          f"got {train.select_metric!r}")


def _field_names(instance: Any) -> list[str]:
    return [f.name for f in dataclasses.fields(instance)]


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    text = str(annotation)
    if value is None:
        if "None" in text:
            return None
        raise ConfigError(f"{key}: null is not allowed here ({text})")
    if annotation is bool or text.startswith("bool"):
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true/false, got {value!r}")
        return value
    if annotation is int or text.startswith("int"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if annotation is float or text.startswith("float"):
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" (no dot) as text
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{key}: expected a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if text.startswith("list"):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        if "float" in text:
            return [_coerce(item, float, f"{key}[{index}]") for index, item in enumerate(value)]
        return [str(item) for item in value]
    if annotation is str or text.startswith("str"):
        if not isinstance(value, (str, int, float)):
            raise ConfigError(f"{key}: expected text, got {value!r}")
        return str(value)
    return value


def _set(instance: Any, key_path: list[str], value: Any, full_key: str) -> None:
    name = key_path[0]
    names = _field_names(instance)
    if name not in names:
        close = difflib.get_close_matches(name, names, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; valid keys: {', '.join(names)}"
        raise ConfigError(f"unknown config key '{full_key}'{hint}")
    current = getattr(instance, name)
    if dataclasses.is_dataclass(current):
        if len(key_path) == 1:
            if not isinstance(value, dict):
                raise ConfigError(f"{full_key}: expected a mapping of {_field_names(current)}")
            for sub_key, sub_value in value.items():
                _set(current, [str(sub_key)], sub_value, f"{full_key}.{sub_key}")
        else:
            _set(current, key_path[1:], value, full_key)
        return
    if len(key_path) > 1:
        raise ConfigError(f"unknown config key '{full_key}': '{name}' has no sub-keys")
    annotation = get_type_hints(type(instance))[name]
    setattr(instance, name, _coerce(value, annotation, full_key))


def apply_mapping(config: Config, mapping: dict, source: str = "config") -> Config:
    if not isinstance(mapping, dict):
        raise ConfigError(f"{source}: top level must be a mapping")
    for key, value in mapping.items():
        _set(config, [str(key)], value, str(key))
    return config


def apply_overrides(config: Config, overrides: list[str]) -> Config:
    """Apply ``section.key=value`` strings; values are parsed as YAML (``1e-3``, ``true``, ``[a, b]``)."""
    for override in overrides:
        if "=" not in override:
            raise ConfigError(f"override '{override}' must look like section.key=value")
        key, text = override.split("=", 1)
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as error:
            raise ConfigError(f"override '{override}': cannot parse value ({error})") from None
        _set(config, key.strip().split("."), value, key.strip())
    return config


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults <- YAML file (if given) <- overrides."""
    config = Config()
    if path is not None:
        path = Path(path)
        try:
            mapping = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML ({error})") from None
        apply_mapping(config, mapping, str(path))
    return apply_overrides(config, overrides or [])


def check_infer(infer: InferConfig) -> None:
    """The ``infer:`` keys that take one of a few values, and positive sizes."""
    for key, choices in INFER_CHOICES.items():
        if getattr(infer, key) not in choices:
            raise ConfigError(f"infer.{key} must be one of {', '.join(choices)}, got {getattr(infer, key)!r}")
    if infer.max_pixels <= 0 or infer.workers <= 0:
        raise ConfigError("infer.max_pixels and infer.workers must be positive")


def check_quality(quality: QualityConfig) -> None:
    """``quality.review_codes`` must name quality codes."""
    unknown = sorted(set(quality.review_codes) - set(QUALITY_CODES))
    if unknown:
        raise ConfigError(f"quality.review_codes: unknown code(s) {', '.join(unknown)}; choose "
                          f"from {', '.join(QUALITY_CODES)}")


def to_dict(config: Config) -> dict:
    return dataclasses.asdict(config)


def from_dict(mapping: dict) -> Config:
    return apply_mapping(Config(), mapping, "checkpoint config")
