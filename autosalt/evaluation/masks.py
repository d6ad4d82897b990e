"""``autosalt evaluate-masks PRED GT``: segmentation metrics of a mask folder vs a reference.

Both folders hold class-id masks as ``<root>/<patient>/<visit>/<view>.png`` (or a labeled-data
root with ``masks/``). Masks are paired by (patient, visit, view). Reference pixels marked
ignore (255) are left out. Reported: per-class IoU and Dice from one confusion matrix
summed over all pixels (as torchvision's segmentation reference does), the hair-loss Jaccard
(IoU of class ``scalp_loss``, also as the mean over images), the MAE of each image's
loss fraction (loss pixels / scalp pixels, in percent), and the soft hair-loss Jaccard of the
per-pixel loss fractions (:func:`soft_overlap`). A root given with ``masks/`` may hold loss maps
in ``loss/`` beside it (as labeled data and ``autosalt infer`` output do); a mask without one
counts its class 3 as full loss and class 2 as none.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from autosalt.contract import CLASS_BACKGROUND, CLASS_HAIR, CLASS_IGNORE, CLASS_LOSS, CLASS_NAMES
from autosalt.fileio import InputError, read_loss_map, read_mask, write_csv_atomic, write_json_atomic
from autosalt.layout import scan_photo_folder
from autosalt.postprocess.pixel import pixel_loss_fraction

N_CLASSES = len(CLASS_NAMES)


def _mask_files(root: Path) -> dict[tuple[str, str, str], Path]:
    if (root / "masks").is_dir():
        root = root / "masks"
    scan = scan_photo_folder(root, extensions=(".png",))
    return {(visit.patient, visit.visit, view): path
            for visit in scan.visits for view, path in visit.views.items()}


def _loss_fraction_map(root: Path, mask_path: Path, mask: np.ndarray) -> np.ndarray:
    """Per-pixel loss fraction of one mask: from ``<root>/loss/`` when the root keeps its masks
    in ``masks/`` and a loss map matches this one, else from the classes."""
    if not (root / "masks").is_dir():
        return pixel_loss_fraction(mask)
    loss_path = root / "loss" / mask_path.relative_to(root / "masks")
    if not loss_path.is_file():
        return pixel_loss_fraction(mask)
    loss_map = read_loss_map(loss_path)
    if loss_map.shape != mask.shape:
        raise InputError(f"{loss_path}: size {loss_map.shape[::-1]} differs from its mask {mask.shape[::-1]}")
    return pixel_loss_fraction(mask, loss_map)


def loss_fraction(mask: np.ndarray) -> float | None:
    """Percent of scalp pixels (classes 2 and 3) that are hair loss; None without scalp."""
    scalp = int(np.sum((mask == CLASS_HAIR) | (mask == CLASS_LOSS)))
    return None if scalp == 0 else 100.0 * float(np.sum(mask == CLASS_LOSS)) / scalp


def pixel_confusion(reference: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """(N_CLASSES, N_CLASSES) counts, rows reference; reference-ignored pixels left out.

    A predicted ignore (255) counts as background, so abstaining is never rewarded.
    """
    valid = reference != CLASS_IGNORE
    predicted = np.where(predicted < N_CLASSES, predicted, CLASS_BACKGROUND)
    codes = reference[valid].astype(np.int64) * N_CLASSES + predicted[valid]
    return np.bincount(codes, minlength=N_CLASSES**2).reshape(N_CLASSES, N_CLASSES)


def soft_overlap(predicted: np.ndarray, reference: np.ndarray, valid: np.ndarray | None = None
                 ) -> tuple[float, float]:
    """(sum of minima, sum of maxima) of two per-pixel loss-fraction maps in [0, 1].

    Their ratio, summed over images, is the soft (fuzzy) Jaccard of hair loss: it equals the
    class Jaccard when both maps are 0/1, and for diffuse thinning it credits a pixel at 40%
    loss predicted as 50% with 0.8 where the class Jaccard, which splits loss at 50%, gives 0.
    Fractions are taken as 0 off each map's own scalp; ``valid`` leaves pixels out.
    """
    predicted = np.clip(np.asarray(predicted, np.float64), 0.0, 1.0)
    reference = np.clip(np.asarray(reference, np.float64), 0.0, 1.0)
    if predicted.shape != reference.shape:
        raise ValueError(f"loss maps differ in shape: {predicted.shape} and {reference.shape}")
    if valid is not None:
        predicted, reference = predicted[valid], reference[valid]
    return float(np.minimum(predicted, reference).sum()), float(np.maximum(predicted, reference).sum())


def iou_and_dice(confusion: np.ndarray) -> tuple[list[float | None], list[float | None]]:
    """Per-class IoU and Dice; None for a class absent from both reference and prediction."""
    true_positive = np.diag(confusion).astype(float)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - true_positive
    iou = [None if u == 0 else float(tp / u) for tp, u in zip(true_positive, union, strict=True)]
    dice = [None if u == 0 else float(2 * tp / (u + tp)) for tp, u in zip(true_positive, union, strict=True)]
    return iou, dice


def evaluate_masks(predicted_root: str | Path, reference_root: str | Path) -> dict:
    predicted_root, reference_root = Path(predicted_root), Path(reference_root)
    predicted_files = _mask_files(predicted_root)
    reference_files = _mask_files(reference_root)
    keys = sorted(set(predicted_files) & set(reference_files))
    if not keys:
        raise InputError(f"{predicted_root} and {reference_root} share no <patient>/<visit>/<view> "
                         f"masks ({len(predicted_files)} and {len(reference_files)} found)")
    total = np.zeros((N_CLASSES, N_CLASSES), dtype=np.int64)
    overlap = union = 0.0
    per_image, errors = [], []
    for key in keys:
        try:
            predicted = read_mask(predicted_files[key])
            reference = read_mask(reference_files[key])
            if predicted.shape != reference.shape:
                raise InputError(f"{predicted_files[key]}: size {predicted.shape[::-1]} differs from "
                                 f"the reference {reference.shape[::-1]}")
            predicted_loss = _loss_fraction_map(predicted_root, predicted_files[key], predicted)
            reference_loss = _loss_fraction_map(reference_root, reference_files[key], reference)
        except InputError as error:
            errors.append(str(error))
            continue
        confusion = pixel_confusion(reference, predicted)
        total += confusion
        iou, _ = iou_and_dice(confusion)
        scored = reference != CLASS_IGNORE
        common, either = soft_overlap(predicted_loss, reference_loss, scored)
        overlap, union = overlap + common, union + either
        fractions = loss_fraction(np.where(scored, predicted, CLASS_IGNORE)), loss_fraction(reference)
        per_image.append({"patient": key[0], "visit": key[1], "view": key[2],
                          "loss_iou": iou[CLASS_LOSS],
                          "loss_soft_iou": common / either if either > 0 else None,
                          "loss_fraction_predicted": fractions[0], "loss_fraction_reference": fractions[1],
                          "loss_fraction_error": None if None in fractions else fractions[0] - fractions[1]})
    if not per_image:
        raise InputError(f"no mask pair could be read: {errors[:3]}")
    iou, dice = iou_and_dice(total)
    loss_ious = [row["loss_iou"] for row in per_image if row["loss_iou"] is not None]
    fraction_errors = [abs(row["loss_fraction_error"]) for row in per_image
                       if row["loss_fraction_error"] is not None]
    return {
        "n_images": len(per_image),
        "iou": dict(zip(CLASS_NAMES, iou, strict=True)), "dice": dict(zip(CLASS_NAMES, dice, strict=True)),
        "mean_iou": _mean([v for v in iou if v is not None]),
        "loss_jaccard": iou[CLASS_LOSS],
        "loss_jaccard_mean_per_image": _mean(loss_ious),
        "loss_soft_jaccard": overlap / union if union > 0 else None,
        "loss_fraction_mae": _mean(fraction_errors),
        "n_loss_fraction_pairs": len(fraction_errors),
        "only_predicted": ["/".join(k) for k in sorted(set(predicted_files) - set(reference_files))],
        "only_reference": ["/".join(k) for k in sorted(set(reference_files) - set(predicted_files))],
        "errors": errors, "per_image": per_image,
    }


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pred", type=Path, help="folder of predicted masks (<patient>/<visit>/<view>.png)")
    parser.add_argument("gt", type=Path, help="folder of reference masks (or a labeled-data root)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for mask_metrics.json and mask_per_image.csv")


def run(args: argparse.Namespace) -> int:
    try:
        result = evaluate_masks(args.pred, args.gt)
    except InputError as error:
        print(f"autosalt evaluate-masks: error: {error}", file=sys.stderr)
        return 2
    for name in CLASS_NAMES:
        iou, dice = result["iou"][name], result["dice"][name]
        print(f"{name:>11}: IoU {'n/a' if iou is None else f'{iou:.3f}'}  "
              f"Dice {'n/a' if dice is None else f'{dice:.3f}'}")
    for key in ("loss_jaccard", "loss_soft_jaccard", "loss_fraction_mae"):
        print(f"{key}: {'n/a' if result[key] is None else f'{result[key]:.3f}'}")
    print(f"{result['n_images']} images; only predicted {len(result['only_predicted'])}, only reference "
          f"{len(result['only_reference'])}, unreadable {len(result['errors'])}")
    if args.out is not None:
        summary = {key: value for key, value in result.items() if key != "per_image"}
        write_json_atomic(args.out / "mask_metrics.json", summary)
        write_csv_atomic(args.out / "mask_per_image.csv", result["per_image"], list(result["per_image"][0]))
    return 0
