"""``autosalt check-dataset DATASET``: is a labeled-data folder ready for training?

    autosalt check-dataset clinic_data
    autosalt check-dataset clinic_data --split runs/finetune/split.json

Checks (contract section 3): the layout (``photos/``, ``masks/``, optional ``loss/``,
``truth.csv``), that every mask has its photo and the same size as the photo as displayed
(EXIF applied), mask class ids, loss maps (same size, loss only on scalp pixels), duplicate
photos (same content hash under two names), views per visit, class balance, and with
``--split`` leakage: a patient (or an identical photo) on both the train and val side.
Prints a summary; exit code 1 if any error was found, 0 otherwise (warnings allowed).
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autosalt.annotations.labels import CLASS_DISPLAY
from autosalt.contract import (
    CLASS_BACKGROUND,
    CLASS_HAIR,
    CLASS_IGNORE,
    CLASS_LOSS,
    CLASS_SKIN,
    IMAGE_EXTENSIONS,
    MANUAL_REQUIRED,
    VIEWS,
    scalp_pixels,
)
from autosalt.fileio import InputError, read_loss_map, read_mask, read_photo
from autosalt.layout import companion_path, scan_photo_folder
from autosalt.tablefile import read_table_rows
from autosalt.training.data import load_split

#: A class below this share of labelled pixels gets a class-balance warning.
RARE_CLASS_SHARE = 0.005


@dataclass
class DatasetReport:
    """Findings of :func:`check_dataset`; ``errors`` make the folder unfit for training."""

    root: Path
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    patients: set[str] = field(default_factory=set)
    visits: set[tuple[str, str]] = field(default_factory=set)
    images: int = 0
    with_loss_map: int = 0
    class_pixels: dict[int, int] = field(default_factory=dict)
    views: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        total = sum(self.class_pixels.values()) or 1
        shares = ", ".join(f"{CLASS_DISPLAY[c]} {100 * self.class_pixels.get(c, 0) / total:.1f}%"
                           for c in CLASS_DISPLAY)
        lines = [f"{self.root}: {len(self.patients)} patients, {len(self.visits)} visits, "
                 f"{self.images} labeled images ({self.with_loss_map} with loss maps)",
                 "views: " + ", ".join(f"{view} {self.views.get(view, 0)}" for view in VIEWS),
                 f"class pixels: {shares}"]
        lines += [f"error: {message}" for message in self.errors]
        lines += [f"warning: {message}" for message in self.warnings]
        lines.append(f"{len(self.errors)} errors, {len(self.warnings)} warnings: "
                     + ("NOT ready for training" if self.errors else "ok for training"))
        return "\n".join(lines)


def check_dataset(root: str | Path, split_file: str | Path | None = None) -> DatasetReport:
    """Check a labeled-data folder (never written to); see the module doc for what is checked."""
    root = Path(root)
    report = DatasetReport(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder")
    for sub in ("photos", "masks"):
        if not (root / sub).is_dir():
            report.errors.append(f"{root / sub}: missing; a labeled-data folder holds photos/ and masks/ "
                                 "(contract section 3)")
    if report.errors:
        return report
    masks = scan_photo_folder(root / "masks", extensions=(".png",))
    photos = scan_photo_folder(root / "photos")
    report.errors += [f"masks: {reason}" for reason in masks.skipped]
    report.warnings += [f"photos: {reason}" for reason in photos.skipped]
    for sub, scan in (("masks", masks), ("photos", photos)):
        report.errors += [f"{root / sub / visit.patient / visit.visit}: {problem}"
                          for visit in scan.visits for problem in visit.problems]
    photo_visits = {visit.key: visit for visit in photos.visits}
    hashes: dict[str, list[tuple[str, str, str]]] = {}
    for visit in masks.visits:
        report.patients.add(visit.patient)
        report.visits.add(visit.key)
        if visit.missing_views:
            report.warnings.append(f"{visit.patient}/{visit.visit}: no {', '.join(visit.missing_views)} "
                                   "view (the visit still trains; SALT needs all four)")
        for view, mask_path in sorted(visit.views.items()):
            photo_path = companion_path(root, "photos", mask_path, view, IMAGE_EXTENSIONS)
            if photo_path is None:
                relative = mask_path.relative_to(root / "masks").with_suffix(".*")
                report.errors.append(f"{mask_path}: no photo photos/{relative.as_posix()} (the mask's "
                                     "own relative name, any case)")
                continue
            _check_image(report, root, visit, view, photo_path, mask_path, hashes)
    for key, visit in photo_visits.items():
        mask_visit = next((v for v in masks.visits if v.key == key), None)
        for view, photo_path in visit.views.items():
            if mask_visit is None or view not in mask_visit.views:
                report.warnings.append(f"{photo_path}: photo without a mask (not used for training)")
    for digest, keys in hashes.items():
        if len(keys) > 1:
            names = ", ".join("/".join(key) for key in keys)
            patients = {key[0] for key in keys}
            target = report.errors if len(patients) > 1 else report.warnings
            target.append(f"identical photos (sha256 {digest[:12]}) at {names}"
                          + (" under different patients" if len(patients) > 1 else ""))
    report.warnings += class_balance_warnings(report.class_pixels)
    if (root / "truth.csv").is_file():
        try:
            read_table_rows(root / "truth.csv", required=MANUAL_REQUIRED)
        except InputError as error:
            report.errors.append(str(error))
    if split_file is not None:
        _check_split(report, Path(split_file), hashes)
    return report


def class_balance_warnings(class_pixels: dict[int, int]) -> list[str]:
    """A warning for each class below :data:`RARE_CLASS_SHARE` of the labelled (not 255) pixels.

    Background and skin get the reason they matter: they are what tells the network where the
    scalp ends. Labels of the scalp alone (everything else 255) never show it a pixel of long
    hair that is *not* scalp, so its scalp grows over hair lying on the neck and shoulders.
    """
    labelled = sum(class_pixels.values()) - class_pixels.get(CLASS_IGNORE, 0)
    warnings = []
    for class_id in (CLASS_BACKGROUND, CLASS_SKIN, CLASS_HAIR, CLASS_LOSS):
        share = class_pixels.get(class_id, 0) / labelled if labelled else 0.0
        if not labelled or share >= RARE_CLASS_SHARE:
            continue
        advice = ("mix in data that shows it" if class_id in (CLASS_HAIR, CLASS_LOSS) else
                  "the network learns where the scalp ends from background and skin pixels; "
                  "with scalp-only labels (the rest 255) the predicted scalp grows over long hair "
                  "down to the neck. Label background and skin too, or at least a band around "
                  "the head (docs/retraining.md, 'Label around the head')")
        warnings.append(f"class balance: {CLASS_DISPLAY[class_id]} is {100 * share:.2f}% of "
                        f"labelled pixels; {advice}")
    return warnings


def _check_image(report: DatasetReport, root: Path, visit, view: str, photo_path: Path,
                 mask_path: Path, hashes: dict) -> None:
    try:
        photo = read_photo(photo_path)
        mask = read_mask(mask_path)
    except InputError as error:
        report.errors.append(str(error))
        return
    report.images += 1
    report.views[view] = report.views.get(view, 0) + 1
    hashes.setdefault(hashlib.sha256(photo_path.read_bytes()).hexdigest(), []).append(
        (visit.patient, visit.visit, view))
    if mask.shape != photo.shape[:2]:
        report.errors.append(f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]}, the photo "
                             f"{photo.shape[1]}x{photo.shape[0]} (EXIF orientation applied)")
        return
    values, counts = np.unique(mask, return_counts=True)
    for value, count in zip(values.tolist(), counts.tolist(), strict=True):
        report.class_pixels[value] = report.class_pixels.get(value, 0) + count
    scalp = scalp_pixels(mask)
    if not scalp.any():
        report.warnings.append(f"{mask_path}: no scalp pixels (classes 2, 3)")
    loss_path = companion_path(root, "loss", mask_path, view)
    if loss_path is None:
        return
    try:
        loss = read_loss_map(loss_path)
    except InputError as error:
        report.errors.append(str(error))
        return
    report.with_loss_map += 1
    if loss.shape != mask.shape:
        report.errors.append(f"{loss_path}: loss map is {loss.shape[1]}x{loss.shape[0]}, the mask "
                             f"{mask.shape[1]}x{mask.shape[0]}")
        return
    off_scalp = int(np.sum((loss > 0) & ~scalp & (mask != CLASS_IGNORE)))
    if off_scalp:
        report.errors.append(f"{loss_path}: {off_scalp} pixels off the scalp have loss > 0 "
                             "(loss maps cover scalp pixels only)")
    no_loss = int(np.sum((mask == CLASS_LOSS) & (loss == 0)))
    if no_loss:
        report.warnings.append(f"{loss_path}: {no_loss} hair-loss pixels (class 3) have loss 0")


def _check_split(report: DatasetReport, split_file: Path, hashes: dict) -> None:
    try:
        split = load_split(split_file)
    except (OSError, ValueError) as error:
        report.errors.append(f"{split_file}: cannot read split ({error})")
        return
    prefix = f"{report.root.name}/"
    train, val = set(split["train"]), set(split["val"])
    for patient in sorted(train & val):
        report.errors.append(f"{split_file}: leakage: patient {patient} is in both train and val")
    own = {key for key in train | val if key.startswith(prefix)}
    absent = sorted(f"{prefix}{p}" for p in report.patients if f"{prefix}{p}" not in own)
    if absent:
        report.warnings.append(f"{split_file}: {len(absent)} patients of {report.root} are in neither "
                               f"train nor val (not used): {', '.join(absent[:5])}"
                               + (" ..." if len(absent) > 5 else ""))
    for keys in hashes.values():
        sides = {("train" if f"{prefix}{k[0]}" in train else "val" if f"{prefix}{k[0]}" in val else None)
                 for k in keys} - {None}
        if len(sides) == 2:
            report.errors.append(f"{split_file}: leakage: the same photo is in train and val "
                                 f"({', '.join('/'.join(k) for k in keys)})")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", type=Path, metavar="DATASET",
                        help="labeled-data folder (photos/, masks/, optional loss/, truth.csv)")
    parser.add_argument("--split", type=Path, default=None, metavar="SPLIT.json",
                        help="split file ({'train': [...], 'val': [...]} of '<folder name>/<patient>') "
                             "to check for leakage")


def run(args: argparse.Namespace) -> int:
    report = check_dataset(args.dataset, args.split)
    print(report.summary())
    return 1 if report.errors else 0
