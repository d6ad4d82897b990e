"""Labeled samples from contract folders, patient-level splits, and the torch Dataset.

Several roots can be mixed (e.g. synthetic + a clinic's own photos). Patients are keyed by
``<root name>/<patient>`` so the same id in two roots stays two patients, and the split is
drawn over patients, never images: no patient is on both sides.
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from autosalt.contract import CLASS_HAIR, CLASS_LOSS, IMAGE_EXTENSIONS, LOSS_MAP_SCALE, VIEWS
from autosalt.fileio import read_loss_map, read_mask, read_photo, write_json_atomic
from autosalt.layout import companion_path, scan_labeled_folder
from autosalt.model.predictor import upright_turns
from autosalt.tablefile import read_table_rows


@dataclass(frozen=True)
class Sample:
    root: Path
    patient_key: str  # "<root name>/<patient>", unique across roots
    patient: str
    visit: str
    view: str
    photo: Path
    mask: Path
    loss: Path | None


def list_samples(roots: list[str | os.PathLike]) -> list[Sample]:
    """Every (photo, mask[, loss]) triple under the roots, sorted. A visit may hold any subset
    of the views (real photos often come one view per visit). Masks without a photo are
    skipped with a warning on stderr naming the first of them."""
    samples, orphans = [], []
    for root in map(Path, roots):
        scan = scan_labeled_folder(root)
        listings: dict[Path, list[Path]] = {}
        for visit in scan.visits:
            for view, mask_path in sorted(visit.views.items()):
                photo = companion_path(root, "photos", mask_path, view, IMAGE_EXTENSIONS, listings)
                if photo is None:
                    orphans.append(mask_path)
                    continue
                samples.append(Sample(root, f"{root.name}/{visit.patient}", visit.patient,
                                      visit.visit, view, photo, mask_path,
                                      companion_path(root, "loss", mask_path, view, (".png",), listings)))
    if orphans:
        print(f"autosalt: warning: {len(orphans)} mask(s) without a photo skipped, e.g. {orphans[0]} "
              "(a photo goes to photos/ under the mask's own relative path and name)", file=sys.stderr)
    if not samples:
        raise FileNotFoundError(f"no labeled photos found under {', '.join(map(str, roots))} "
                                "(expected photos/ and masks/ as in data/README.md)")
    return samples


def make_split(samples: list[Sample], val_fraction: float, seed: int) -> dict[str, list[str]]:
    """Seeded patient-level split: {"train": [patient keys], "val": [patient keys]}."""
    patients = sorted({sample.patient_key for sample in samples})
    order = np.random.default_rng(seed).permutation(len(patients))
    n_val = min(len(patients) - 1, max(1, math.ceil(val_fraction * len(patients)))) \
        if len(patients) > 1 and val_fraction > 0 else 0
    val = sorted(patients[i] for i in order[:n_val])
    train = sorted(patients[i] for i in order[n_val:])
    return {"seed": seed, "val_fraction": val_fraction, "train": train, "val": val}


def save_split(path: str | os.PathLike, split: dict) -> None:
    write_json_atomic(path, split)


def load_split(path: str | os.PathLike) -> dict:
    with open(path, encoding="utf-8") as stream:
        split = json.load(stream)
    if not {"train", "val"} <= set(split):
        raise ValueError(f"{path}: a split file needs 'train' and 'val' patient lists")
    return split


def read_truth(root: Path) -> dict[tuple[str, str], float]:
    """(patient, visit) -> SALT from ``root/truth.csv`` if present."""
    path = root / "truth.csv"
    if not path.is_file():
        return {}
    return {(row["patient"], row["visit"]): row.number("salt")
            for row in read_table_rows(path, required=("patient", "visit", "salt"))}


def read_view_truth(root: Path) -> dict[tuple[str, str], dict[str, float]]:
    """(patient, visit) -> {view: percent} from ``root/truth.csv``'s view columns (top, left,
    right, back), where present and filled; empty without the file."""
    path = root / "truth.csv"
    if not path.is_file():
        return {}
    return {(row["patient"], row["visit"]): {view: row.number(view) for view in VIEWS if row.get(view)}
            for row in read_table_rows(path, required=("patient", "visit"))}


def load_targets(sample: Sample) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Photo (H, W, 3) uint8, mask (H, W) uint8, loss fraction x 255 (H, W) uint8.

    Without a loss map, class 3 counts as full loss and class 2 as none.
    """
    photo = read_photo(sample.photo)
    mask = read_mask(sample.mask)
    if mask.shape != photo.shape[:2]:
        raise ValueError(f"{sample.mask}: mask {mask.shape} and photo {photo.shape[:2]} differ")
    if sample.loss is not None:
        loss = np.round(read_loss_map(sample.loss) * LOSS_MAP_SCALE).astype(np.uint8)
    else:
        loss = np.where(mask == CLASS_LOSS, 255, 0).astype(np.uint8)
    return photo, mask, loss


def turn_upright(photo: np.ndarray, mask: np.ndarray, loss: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A labeled photo, its mask and loss map turned by the quarter turns that put its labeled
    skin below its labeled scalp (:func:`autosalt.model.predictor.upright_turns`, the rule of
    inference's upright pass); unchanged when it is upright or shows too little skin to tell."""
    turns = upright_turns(mask)  # reads skin and scalp pixels only: "ignore" counts as neither
    if not turns:
        return photo, mask, loss
    return tuple(np.ascontiguousarray(np.rot90(array, turns)) for array in (photo, mask, loss))


class SegmentationDataset(Dataset):
    """Samples -> (image (3, S, S) float, mask (S, S) long, fraction (S, S) float in [0, 1]).

    Augmentation is re-seeded per (epoch, index), so an epoch's batches are the same whatever
    the number of workers and after a resume.
    """

    def __init__(self, samples: list[Sample], transform, seed: int = 0, style=None,
                 style_roots: list[str | os.PathLike] = (),
                 upright_roots: list[str | os.PathLike] = ()) -> None:
        self.samples = samples
        self.transform = transform
        self.seed = seed
        self.epoch = 0
        # ``style``: a callable (photo, seed) -> photo (autosalt.training.style.RealStyle) applied
        # to the samples of ``style_roots`` before augmentation.
        self.style = style
        self.style_roots = {Path(root) for root in style_roots}
        # The samples of ``upright_roots`` are turned upright by their labels (:func:`turn_upright`).
        self.upright_roots = {Path(root) for root in upright_roots}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        photo, mask, loss = load_targets(self.samples[index])
        root = Path(self.samples[index].root)
        if root in self.upright_roots:
            photo, mask, loss = turn_upright(photo, mask, loss)
        seed = int(np.random.SeedSequence([self.seed, self.epoch, index]).generate_state(1)[0])
        if self.style is not None and root in self.style_roots:
            photo = self.style(photo, seed)
        self.transform.set_random_seed(seed)
        out = self.transform(image=photo, masks=[mask, loss])
        mask_t, loss_t = out["masks"]
        image = torch.from_numpy(np.ascontiguousarray(out["image"].transpose(2, 0, 1)))
        mask_t = torch.from_numpy(np.ascontiguousarray(mask_t)).long()
        fraction = torch.from_numpy(np.ascontiguousarray(loss_t)).float() / LOSS_MAP_SCALE
        return image, mask_t, fraction


class RootMixSampler(torch.utils.data.Sampler):
    """Draws each epoch's images with replacement so that root ``r`` supplies ``weights[r]`` of them.

    A clinic's 200 labeled photos next to 5000 synthetic ones would otherwise be a few
    percent of every batch. The draw is seeded by (seed, epoch, rank), so an epoch is the same
    after a resume and each DistributedDataParallel rank draws its own share.
    """

    def __init__(self, samples: list[Sample], roots: list[str | os.PathLike], weights: list[float],
                 num_samples: int, seed: int = 0, rank: int = 0) -> None:
        if len(weights) != len(roots):
            raise ValueError(f"data.root_weights has {len(weights)} values for {len(roots)} "
                             "data.roots; give one per root")
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError(f"data.root_weights {weights}: need values >= 0 with a positive sum")
        roots = [Path(root) for root in roots]
        if len(set(roots)) != len(roots):
            raise ValueError("data.roots lists a folder twice; weight it with data.root_weights instead")
        index = {root: i for i, root in enumerate(roots)}
        counts = np.bincount([index[Path(s.root)] for s in samples], minlength=len(roots))
        empty = [str(root) for root, count, weight in zip(roots, counts, weights) if weight > 0 and not count]
        if empty:
            raise ValueError(f"data.root_weights gives weight to roots without training images: {empty}")
        per_root = np.divide(weights, counts, out=np.zeros(len(roots)), where=counts > 0)
        self.weights = torch.tensor([per_root[index[Path(s.root)]] for s in samples], dtype=torch.float64)
        self.num_samples, self.seed, self.rank, self.epoch = num_samples, seed, rank, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self):
        generator = torch.Generator().manual_seed(
            int(np.random.SeedSequence([self.seed, self.epoch, self.rank, 17]).generate_state(1)[0]))
        return iter(torch.multinomial(self.weights, self.num_samples, replacement=True,
                                      generator=generator).tolist())


def scalp_of(mask: torch.Tensor) -> torch.Tensor:
    return (mask == CLASS_HAIR) | (mask == CLASS_LOSS)
