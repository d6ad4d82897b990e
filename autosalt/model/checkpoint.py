"""Checkpoints as plain dicts (weights, model arguments, config, metrics, version).

Loading uses ``torch.load(..., weights_only=True)``: a checkpoint can hold tensors and plain
Python values only, so a foreign or malicious file cannot run code. Everything needed to
rebuild the network is in the file (``model_args``), so loading never guesses.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

import torch

from autosalt import __version__
from autosalt.contract import CLASS_NAMES
from autosalt.fileio import write_bytes_atomic

FORMAT = "autosalt-checkpoint"
FORMAT_VERSION = 1
_REQUIRED = ("format", "format_version", "model_args", "input_size", "class_names", "state_dict")


class CheckpointError(ValueError):
    """A file that is not a usable autosalt checkpoint; the message says which and why."""


def make_checkpoint(model: torch.nn.Module, model_args: dict, input_size: int, config: dict,
                    metrics: dict | None = None, model_id: str = "", **extra) -> dict:
    """The plain dict saved for a model (``extra`` adds resume state: optimizer, epoch, ...)."""
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "autosalt_version": __version__,
            "model_id": model_id, "model_args": dict(model_args), "input_size": int(input_size),
            "class_names": list(CLASS_NAMES), "state_dict": state, "config": config,
            "metrics": metrics or {}, **extra}


def save_checkpoint(path: str | os.PathLike, checkpoint: dict) -> None:
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read and validate a checkpoint; raises :class:`CheckpointError` with a clear reason."""
    path = Path(path)
    if path.is_dir():
        candidates = sorted(path.glob("*.pt"))
        if (path / "best.pt").is_file():
            path = path / "best.pt"
        elif len(candidates) == 1:
            path = candidates[0]
        else:
            raise CheckpointError(f"{path}: folder holds {len(candidates)} .pt files; name one")
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: checkpoint file is empty")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(f"{path}: refused to load: the file holds objects other than weights "
                              f"and plain values ({str(error).splitlines()[0][:200]})") from None
    except (RuntimeError, zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint (truncated or corrupt? "
                              f"{str(error).splitlines()[0][:200]})") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an autosalt checkpoint (no '{FORMAT}' marker); "
                              "train one with 'autosalt train' or use models/")
    missing = [key for key in _REQUIRED if key not in checkpoint]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {missing}")
    if checkpoint["format_version"] > FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {checkpoint['format_version']} is newer "
                              f"than this autosalt ({__version__}) reads; upgrade autosalt")
    if list(checkpoint["class_names"]) != list(CLASS_NAMES):
        raise CheckpointError(f"{path}: classes {checkpoint['class_names']} differ from the "
                              f"contract's {list(CLASS_NAMES)}")
    return checkpoint


def model_from_checkpoint(checkpoint: dict, path: str | os.PathLike = "checkpoint"):
    """Rebuild the network from ``model_args`` and load its weights (strictly)."""
    from autosalt.model.factory import create_model

    try:
        model = create_model(**checkpoint["model_args"], pretrained=False)
        model.load_state_dict(checkpoint["state_dict"], strict=True)
    except (TypeError, ValueError, RuntimeError, KeyError) as error:
        raise CheckpointError(f"{path}: weights do not fit the model they name "
                              f"({str(error).splitlines()[0][:200]})") from None
    return model.eval()
