"""Loss, metrics, ``train_one_epoch`` and ``evaluate`` as plain functions."""

from __future__ import annotations

import contextlib
import copy
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from autosalt.config import TrainConfig
from autosalt.contract import CLASS_IGNORE, CLASS_NAMES, VIEWS
from autosalt.model.factory import NUM_CLASSES, split_outputs
from autosalt.model.precision import resolve_bf16
from autosalt.postprocess.pixel import pixel_loss_fraction, scalp_pixels
from autosalt.salt import salt_from_views
from autosalt.training.data import Sample, load_targets, read_truth, read_view_truth, scalp_of

AREA_MIN_PIXELS = 64  # images (or crops) with less true scalp than this skip the area term


def area_loss(fraction_logits: torch.Tensor, fraction: torch.Tensor, scalp: torch.Tensor
              ) -> torch.Tensor:
    """Mean over images of |predicted - true| mean loss fraction on the image's true scalp.

    This is the error of the view's percent (what SALT adds up), in units of 0..1. Pixel-wise
    BCE lets many small errors of the same sign, as on thinning scalp, add up to a large
    percent error; this term charges that bias directly. Images with less than
    ``AREA_MIN_PIXELS`` scalp pixels are left out; without any, the term is 0.

    Args:
        fraction_logits: (B, H, W); fraction: (B, H, W) in [0, 1]; scalp: (B, H, W) bool.
    """
    weight = scalp.float()
    pixels = weight.sum(dim=(1, 2))
    kept = pixels >= AREA_MIN_PIXELS
    if not kept.any():
        return fraction_logits.sum() * 0.0
    error = ((torch.sigmoid(fraction_logits) - fraction) * weight).sum(dim=(1, 2))
    return (error[kept] / pixels[kept]).abs().mean()


def segmentation_loss(logits: torch.Tensor, mask: torch.Tensor, fraction: torch.Tensor,
                      dice_weight: float = 1.0, fraction_weight: float = 2.0,
                      area_weight: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:
    """Cross-entropy + soft Dice on classes (ignore 255) + BCE on the loss fraction over scalp
    + ``area_weight`` x the per-image percent error of the loss fraction (:func:`area_loss`).

    Args:
        logits: (B, 5, H, W); mask: (B, H, W) long class ids; fraction: (B, H, W) in [0, 1].
    """
    class_logits, fraction_logits = split_outputs(logits.float())
    cross_entropy = F.cross_entropy(class_logits, mask, ignore_index=CLASS_IGNORE)
    valid = (mask != CLASS_IGNORE).unsqueeze(1)
    probabilities = torch.softmax(class_logits, dim=1) * valid
    one_hot = F.one_hot(mask.clamp(max=NUM_CLASSES - 1), NUM_CLASSES).permute(0, 3, 1, 2) * valid
    intersection = (probabilities * one_hot).sum(dim=(0, 2, 3))
    denominator = probabilities.sum(dim=(0, 2, 3)) + one_hot.sum(dim=(0, 2, 3))
    dice = 1.0 - ((2 * intersection + 1.0) / (denominator + 1.0)).mean()
    scalp = scalp_of(mask)
    if scalp.any():
        fraction_loss = F.binary_cross_entropy_with_logits(fraction_logits[scalp], fraction[scalp])
    else:
        fraction_loss = fraction_logits.sum() * 0.0
    area = area_loss(fraction_logits, fraction, scalp)
    total = cross_entropy + dice_weight * dice + fraction_weight * fraction_loss
    if area_weight:
        total = total + area_weight * area
    parts = {"ce": cross_entropy.detach().item(), "dice": dice.detach().item(),
             "fraction": fraction_loss.detach().item(), "area": area.detach().item()}
    return total, parts


class ConfusionMatrix:
    """Pixel confusion matrix over the 4 classes (255 ignored), torchvision-reference style."""

    def __init__(self) -> None:
        self.matrix = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)

    def update(self, truth: np.ndarray, prediction: np.ndarray) -> None:
        keep = truth != CLASS_IGNORE
        index = truth[keep].astype(np.int64) * NUM_CLASSES + prediction[keep].astype(np.int64)
        self.matrix += np.bincount(index, minlength=NUM_CLASSES ** 2).reshape(NUM_CLASSES, NUM_CLASSES)

    def iou(self) -> dict[str, float]:
        m = self.matrix.astype(np.float64)
        union = m.sum(0) + m.sum(1) - np.diag(m)
        result = {name: float(m[i, i] / union[i]) if union[i] else float("nan")
                  for i, name in enumerate(CLASS_NAMES)}
        scalp = [2, 3]
        tp = m[np.ix_(scalp, scalp)].sum()
        union_scalp = m[scalp].sum() + m[:, scalp].sum() - tp
        result["scalp"] = float(tp / union_scalp) if union_scalp else float("nan")
        return result


class ModelEma:
    """Exponential moving average of a model's weights (and BatchNorm statistics).

    The averaged copy changes more smoothly than the weights being trained, so epoch-to-epoch
    swings of a calibration-sensitive measure such as SALT MAE shrink; it is the copy that is
    validated and released. The decay ramps up as ``(1 + n) / (10 + n)`` over the first updates
    (as in timm's ``ModelEmaV2`` with warm-up), so the average follows a fresh model quickly.
    """

    def __init__(self, model: torch.nn.Module, decay: float, updates: int = 0) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.module = copy.deepcopy(model).eval()
        for parameter in self.module.parameters():
            parameter.requires_grad_(False)
        self.decay = decay
        self.updates = updates

    def current_decay(self) -> float:
        return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        model = getattr(model, "module", model)  # unwrap DistributedDataParallel
        self.updates += 1
        decay = self.current_decay()
        for averaged, current in zip(self.module.state_dict().values(), model.state_dict().values()):
            if averaged.is_floating_point():
                averaged.lerp_(current.detach(), 1.0 - decay)
            else:  # counters such as num_batches_tracked
                averaged.copy_(current)


def _autocast(device: torch.device, enabled: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16) if enabled else contextlib.nullcontext()


def train_one_epoch(model, loader, optimizer, scheduler, device, epoch: int, settings: TrainConfig,
                    progress: bool = True, frozen: Sequence[torch.nn.Module] = (),
                    ema: ModelEma | None = None, self_training=None) -> dict[str, float]:
    """One pass over ``loader`` (at most ``settings.steps_per_epoch`` batches); returns mean
    losses and images/s. ``settings``: the config's ``train`` section (precision, memory
    format, loss weights). ``frozen``: parts kept in eval mode (a frozen encoder, or BatchNorm
    layers), so their BatchNorm statistics stay those they were trained with instead of
    drifting to a small fine-tuning set. ``ema``: updated after every optimizer step.
    ``self_training``: a :class:`autosalt.training.selftrain.SelfTraining` whose loss on a batch
    of unlabeled photos is added at every step.
    """
    from tqdm import tqdm

    bf16 = resolve_bf16(settings.bf16, device)
    max_steps = settings.steps_per_epoch
    model.train()
    for part in frozen:
        part.eval()
    totals: dict[str, float] = defaultdict(float)
    steps, images, started = 0, 0, time.perf_counter()
    total_steps = min(len(loader), max_steps) if max_steps else len(loader)
    bar = tqdm(total=total_steps, desc=f"epoch {epoch}", unit="batch", disable=not progress,
               dynamic_ncols=True)
    for image, mask, fraction in loader:
        if max_steps and steps >= max_steps:
            break
        image = image.to(device, non_blocking=True)
        if settings.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        mask, fraction = mask.to(device), fraction.to(device)
        with _autocast(device, bf16):
            logits = model(image)
        loss, parts = segmentation_loss(logits, mask, fraction, settings.dice_weight,
                                        settings.fraction_weight, settings.area_weight)
        if self_training is not None:
            extra, extra_parts = self_training.loss(model, device, lambda: _autocast(device, bf16),
                                                    settings.channels_last)
            loss, parts = loss + extra, {**parts, **extra_parts}
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        scheduler.step()
        if ema is not None:
            ema.update(model)
        steps += 1
        images += image.shape[0]
        totals["loss"] += loss.detach().item()
        for key, value in parts.items():
            totals[key] += value
        rate = images / (time.perf_counter() - started)
        bar.set_postfix(loss=f"{totals['loss'] / steps:.3f}", img_s=f"{rate:.1f}",
                        lr=f"{scheduler.get_last_lr()[0]:.1e}")
        bar.update()
    bar.close()
    result = {key: value / max(steps, 1) for key, value in totals.items()}
    result["images_per_s"] = images / max(time.perf_counter() - started, 1e-9)
    result["steps"] = steps
    return result


def group_visits(samples: list[Sample]) -> list[list[Sample]]:
    visits: dict[tuple, list[Sample]] = defaultdict(list)
    for sample in samples:
        visits[(str(sample.root), sample.patient, sample.visit)].append(sample)
    return [visits[key] for key in sorted(visits)]


@dataclass
class VisitResult:
    """One visit's share of the validation measures, kept so that any group of visits can be
    summarised (:func:`summarise`) without predicting them again."""

    patient: str
    visit: str
    confusion: np.ndarray  # (4, 4) pixel counts, truth x prediction
    fraction_error: float  # sum over true scalp pixels of |predicted - true| loss fraction
    fraction_count: int  # true scalp pixels
    overlap: float  # soft hair-loss overlap: sum of minima of the loss fractions
    union: float  # sum of maxima
    salt_errors: dict[str, float]  # method -> SALT predicted minus true; absent: not scored
    # method -> view -> view percent predicted minus true; a view without a true value is absent
    view_errors: dict[str, dict[str, float]]


@dataclass
class VisitTruth:
    """What a visit is compared with: ``truth.csv``'s SALT and view percents where the root has
    them (None / absent otherwise), and the true masks and loss fractions (view -> (H, W))."""

    salt: float | None
    views: dict[str, float]
    masks: dict[str, np.ndarray]
    losses: dict[str, np.ndarray]


@torch.no_grad()
def evaluate_visits(model, samples: list[Sample], input_size: int, device, bf16: bool = True,
                    channels_last: bool = True, methods: Sequence[str] | None = None,
                    max_visits: int | None = None, progress: bool = True, tta: bool = False,
                    refine: bool = False, upright: bool = False) -> list[VisitResult]:
    """Predict every visit once, through the same path as batch scoring (letterbox, network,
    resize back, masks -> per-view percents -> SALT with each of ``methods``), and compare with
    the truth: ``truth.csv`` where the root has one, else the percents of the ground-truth masks
    by the same method. Every view is compared (:attr:`VisitResult.view_errors`), so a visit of
    one view counts too; only a visit with all four views adds a SALT error. A view or visit
    the post-processing cannot score counts as scored 0. ``tta``, ``refine`` and ``upright``: as
    in batch scoring (mirror averaging; a second pass on a crop around a small head; again on a
    photo that lies turned, turned upright); all off in training's validation.
    """
    from tqdm import tqdm

    from autosalt.model.predictor import Predictor
    from autosalt.postprocess.visit import DEFAULT_METHOD, score_visit

    methods = tuple(methods or (DEFAULT_METHOD,))
    predictor = Predictor.from_model(model, input_size, device, bf16, channels_last)
    model.eval()
    results, truths = [], {}
    visits = group_visits(samples)[:max_visits] if max_visits else group_visits(samples)
    for visit in tqdm(visits, desc="validate", unit="visit", disable=not progress):
        root = visit[0].root
        if root not in truths:
            truths[root] = (read_truth(root), read_view_truth(root))
        loaded = [load_targets(sample) for sample in visit]
        predictions = predictor.predict_batch([photo for photo, _, _ in loaded], tta, refine, upright)
        key = (visit[0].patient, visit[0].visit)
        truth = VisitTruth(truths[root][0].get(key), truths[root][1].get(key, {}), {}, {})
        result = VisitResult(*key, np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64), 0.0, 0, 0.0,
                             0.0, {}, {})
        masks, losses = {}, {}
        for sample, (_, mask, loss), prediction in zip(visit, loaded, predictions):
            truth.masks[sample.view], truth.losses[sample.view] = mask, loss.astype(np.float32) / 255.0
            _add_pixel_measures(result, mask, truth.losses[sample.view], prediction)
            masks[sample.view], losses[sample.view] = prediction.mask, prediction.loss
        for method in methods:
            _add_score_errors(result, method, score_visit(masks, losses, method=method), truth)
        results.append(result)
    return results


def _add_pixel_measures(result: VisitResult, mask: np.ndarray, true_fraction_map: np.ndarray,
                        prediction) -> None:
    """Add one view's pixel counts to ``result``: the confusion matrix, the loss-fraction error
    on true scalp and the soft hair-loss overlap. ``true_fraction_map``: the loss map (H, W) in
    [0, 1] (from the mask where the root has no loss map)."""
    from autosalt.evaluation.masks import soft_overlap

    confusion = ConfusionMatrix()
    confusion.update(mask, prediction.mask)
    result.confusion += confusion.matrix
    scalp = scalp_pixels(mask)
    true_fraction = pixel_loss_fraction(mask, true_fraction_map)
    if scalp.any():
        result.fraction_error += float(np.abs(prediction.loss[scalp] - true_fraction[scalp]).sum())
        result.fraction_count += int(scalp.sum())
    common, either = soft_overlap(prediction.loss, true_fraction, mask != CLASS_IGNORE)
    result.overlap, result.union = result.overlap + common, result.union + either


def _add_score_errors(result: VisitResult, method: str, predicted, truth: VisitTruth) -> None:
    """Record ``method``'s view errors (every view with a true value) and, for a visit of all
    four views, its SALT error. The true values: ``truth.csv``'s where given, else those of
    the true masks by the same method; a value the prediction lacks counts as 0.
    ``predicted``: the visit's ``VisitValues``."""
    from autosalt.postprocess.visit import score_visit

    reference = None
    if not set(truth.masks) <= set(truth.views) or (truth.salt is None and set(truth.masks) == set(VIEWS)):
        reference = score_visit(truth.masks, truth.losses, method=method)
    true_views = {view: truth.views[view] if view in truth.views else reference.values.get(view)
                  for view in truth.masks}
    errors = {}
    for view, true_value in true_views.items():
        if true_value is not None:
            errors[view] = (predicted.values.get(view) or 0.0) - true_value
    result.view_errors[method] = errors
    if set(truth.masks) != set(VIEWS):
        return
    truth_salt = truth.salt
    if truth_salt is None:  # no truth.csv: the SALT of the true masks, by this method
        if reference.errors:
            return
        truth_salt = salt_from_views(reference.values)
    if predicted.errors or any(v is None for v in predicted.values.values()):
        result.salt_errors[method] = -float(truth_salt)  # unscorable counts as scored 0
    else:
        result.salt_errors[method] = salt_from_views(predicted.values) - truth_salt


def summarise(results: list[VisitResult], method: str, per_visit: bool = False) -> dict:
    """Validation measures of a group of visits (pixel measures pooled over the group's pixels):
    per-class IoU, scalp and hair-loss Jaccard (class masks), the soft hair-loss Jaccard of the
    loss fractions (``loss_soft_jaccard``), loss-fraction MAE, ``view_mae`` (mean absolute
    error of the view percents over every view with a true value, ``views`` of them, so it
    exists for visits of one view), SALT MAE over the ``visits`` of four views, max error and
    ``salt_bias`` (mean signed error, predicted minus true: negative = under-call) with
    ``method``; with ``per_visit``, also ``"visit_errors"``: ``{(patient, visit): absolute SALT
    error}`` for paired comparisons of two models on the same visits."""
    confusion = ConfusionMatrix()
    for result in results:
        confusion.matrix += result.confusion
    overlap = sum(result.overlap for result in results)
    union = sum(result.union for result in results)
    fraction_count = sum(result.fraction_count for result in results)
    scored = [result for result in results if method in result.salt_errors]
    signed_errors = [result.salt_errors[method] for result in scored]
    view_errors = [abs(error) for result in results
                   for error in result.view_errors.get(method, {}).values()]
    iou = confusion.iou()
    extra = ({"visit_errors": {(r.patient, r.visit): abs(r.salt_errors[method]) for r in scored}}
             if per_visit else {})
    return {
        "iou": iou, "scalp_jaccard": iou["scalp"], "loss_jaccard": iou["scalp_loss"],
        "loss_soft_jaccard": overlap / union if union > 0 else float("nan"),
        "fraction_mae": sum(result.fraction_error for result in results) / max(fraction_count, 1),
        "salt_mae": float(np.mean(np.abs(signed_errors))) if signed_errors else float("nan"),
        "salt_max_error": float(np.max(np.abs(signed_errors))) if signed_errors else float("nan"),
        "salt_bias": float(np.mean(signed_errors)) if signed_errors else float("nan"),
        "view_mae": float(np.mean(view_errors)) if view_errors else float("nan"),
        "visits": len(signed_errors), "views": len(view_errors), "method": method, **extra,
    }


def evaluate(model, samples: list[Sample], input_size: int, device, bf16: bool = True,
             channels_last: bool = True, method: str | None = None, max_visits: int | None = None,
             progress: bool = True, per_visit: bool = False, tta: bool = False,
             refine: bool = False, upright: bool = False) -> dict:
    """Full-resolution validation through the real post-processing with one ``method``:
    :func:`evaluate_visits`, then :func:`summarise` over all visits."""
    from autosalt.postprocess.visit import DEFAULT_METHOD

    method = method or DEFAULT_METHOD
    results = evaluate_visits(model, samples, input_size, device, bf16, channels_last, (method,),
                              max_visits, progress, tta, refine, upright)
    return summarise(results, method, per_visit)
