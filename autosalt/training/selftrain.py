"""Self-training on unlabeled real photos with a moving-average teacher (DAFormer / MIC recipe).

Each step the teacher (the exponential moving average of the network being trained,
:class:`autosalt.training.engine.ModelEma`) predicts classes and loss fractions on a batch of
unlabeled real photos; the student sees the same photos, geometrically identical but with
strong photometric augmentation, and is trained towards the teacher's confident pixels. The
pseudo-label loss is weighted by the share of pixels whose top-class probability reaches the
threshold (Hoyer et al., DAFormer 2022), so an unsure teacher teaches little.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from autosalt.contract import CLASS_HAIR, CLASS_LOSS
from autosalt.fileio import read_photo
from autosalt.model.factory import IMAGE_MEAN, IMAGE_STD, split_outputs
from autosalt.training.style import find_style_photos


class UnlabeledPhotos(Dataset):
    """Photos -> (teacher view, student view): (3, S, S) float tensors with the same geometry.

    Both are letterboxed to ``size`` and flipped / turned / shifted alike; the student's view
    also gets strong colour, blur and noise augmentation. Seeded per (epoch, index).
    """

    def __init__(self, sources: Sequence[str | os.PathLike], size: int, seed: int = 0) -> None:
        self.photos: list[Path] = find_style_photos(sources)
        self.seed, self.epoch = seed, 0
        self.geometry = A.Compose([
            A.LongestMaxSize(max_size=size, interpolation=cv2.INTER_AREA, p=1.0),
            A.PadIfNeeded(min_height=size, min_width=size, position="top_left",
                          border_mode=cv2.BORDER_CONSTANT, fill=0, p=1.0),
            A.HorizontalFlip(p=0.5), A.RandomRotate90(p=0.5),
            A.Affine(scale=(0.85, 1.15), translate_percent=(-0.08, 0.08), rotate=(-15, 15),
                     border_mode=cv2.BORDER_CONSTANT, fill=0, p=0.7)], strict=True)
        self.strong = A.Compose([
            A.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.5, hue=0.08, p=1.0),
            A.OneOf([A.GaussianBlur(blur_limit=(3, 7)), A.Defocus(radius=(1, 3))], p=0.5),
            A.GaussNoise(std_range=(0.02, 0.08), p=0.5),
            A.ImageCompression(quality_range=(30, 90), p=0.5)], strict=True)
        self.normalise = A.Normalize(mean=IMAGE_MEAN, std=IMAGE_STD)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.photos)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        seed = int(np.random.SeedSequence([self.seed, self.epoch, index, 31]).generate_state(1)[0])
        self.geometry.set_random_seed(seed)
        self.strong.set_random_seed(seed + 1)
        image = self.geometry(image=read_photo(self.photos[index]))["image"]
        student = self.strong(image=image)["image"]
        return _tensor(self.normalise(image=image)["image"]), _tensor(self.normalise(image=student)["image"])


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))


def pseudo_label_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                      threshold: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Cross-entropy towards the teacher's classes, weighted by the teacher's confident share,
    plus BCE towards its loss fraction on pixels it confidently calls scalp.

    Args:
        student_logits, teacher_logits: (B, 5, H, W) network outputs (4 class logits, then the
            loss-fraction logit). threshold: top-class probability a pixel needs to count.
    """
    student_classes, student_fraction = split_outputs(student_logits.float())
    teacher_classes, teacher_fraction = split_outputs(teacher_logits.float().detach())
    confidence, label = torch.softmax(teacher_classes, dim=1).max(dim=1)
    confident = (confidence >= threshold).float()
    share = confident.mean()
    cross_entropy = (F.cross_entropy(student_classes, label, reduction="none") * confident).sum() \
        / confident.numel()
    scalp = ((label == CLASS_HAIR) | (label == CLASS_LOSS)) & (confident > 0)
    if scalp.any():
        fraction = F.binary_cross_entropy_with_logits(student_fraction[scalp],
                                                      torch.sigmoid(teacher_fraction[scalp]))
    else:
        fraction = student_fraction.sum() * 0.0
    return cross_entropy + share * fraction, {"pseudo_ce": cross_entropy.item(),
                                              "pseudo_fraction": fraction.item(),
                                              "pseudo_share": share.item()}


class SelfTraining:
    """Self-training's share of each step: its own loader of unlabeled photos and the teacher.

    ``teacher``: the weight average (in eval mode); ``settings``: the config's ``train``
    section (self_training_weight, pseudo_threshold, unlabeled_batch_size).
    """

    def __init__(self, sources: Sequence[str | os.PathLike], size: int, teacher: torch.nn.Module,
                 settings, workers: int = 0) -> None:
        self.dataset = UnlabeledPhotos(sources, size, settings.seed)
        self.teacher, self.workers = teacher, workers
        self.weight, self.threshold = settings.self_training_weight, settings.pseudo_threshold
        self.batch_size = min(settings.unlabeled_batch_size, len(self.dataset))
        self.seed = settings.seed
        self.loader = self.batches = None

    def start_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)
        generator = torch.Generator().manual_seed(self.seed * 1000 + epoch + 7)
        self.loader = torch.utils.data.DataLoader(self.dataset, batch_size=self.batch_size, shuffle=True,
                                                  generator=generator, num_workers=self.workers,
                                                  drop_last=True)
        self.batches = iter(self.loader)

    def _next(self) -> tuple[torch.Tensor, torch.Tensor]:
        try:
            return next(self.batches)
        except StopIteration:  # fewer unlabeled photos than steps: go round again
            self.batches = iter(self.loader)
            return next(self.batches)

    def loss(self, student: torch.nn.Module, device: torch.device, autocast,
             channels_last: bool) -> tuple[torch.Tensor, dict[str, float]]:
        """``weight`` x the pseudo-label loss on the next unlabeled batch; ``autocast``: a
        callable giving the precision context the labeled batch ran under."""
        teacher_view, student_view = (view.to(device, non_blocking=True) for view in self._next())
        if channels_last:
            teacher_view = teacher_view.contiguous(memory_format=torch.channels_last)
            student_view = student_view.contiguous(memory_format=torch.channels_last)
        with torch.no_grad(), autocast():
            teacher_logits = self.teacher(teacher_view)
        with autocast():
            student_logits = student(student_view)
        loss, parts = pseudo_label_loss(student_logits, teacher_logits, self.threshold)
        return self.weight * loss, parts
