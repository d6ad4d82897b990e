"""Real-photo training parts: restyling renders after real photos, and self-training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autosalt.fileio import write_jpeg_atomic
from autosalt.training.selftrain import UnlabeledPhotos, pseudo_label_loss
from autosalt.training.style import RealStyle, find_style_photos


def write_photos(folder, count: int = 3, size: int = 64) -> None:
    rng = np.random.default_rng(0)
    for index in range(count):
        colour = rng.integers(0, 255, 3)
        photo = np.clip(colour + rng.normal(0, 10, (size, size, 3)), 0, 255).astype(np.uint8)
        write_jpeg_atomic(folder / f"sub{index}" / f"photo{index}.jpg", photo)


def test_find_style_photos_errors_name_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no photos found"):
        find_style_photos([tmp_path])
    with pytest.raises(FileNotFoundError, match="neither a folder nor a photo"):
        find_style_photos([tmp_path / "missing"])
    write_photos(tmp_path)
    assert len(find_style_photos([tmp_path])) == 3


def test_real_style_moves_colours_towards_a_reference_and_is_seeded(tmp_path):
    write_jpeg_atomic(tmp_path / "red.jpg", np.full((64, 64, 3), (200, 40, 40), np.uint8))
    style = RealStyle([tmp_path], probability=1.0)
    grey = np.full((48, 48, 3), 120, np.uint8)
    grey[::4] = 100  # some structure, so histogram matching has levels to move
    restyled = [style(grey, seed) for seed in range(6)]
    assert all(r.shape == grey.shape and r.dtype == np.uint8 for r in restyled)
    assert max(float(r[..., 0].mean() - r[..., 2].mean()) for r in restyled) > 20  # redder
    assert np.array_equal(style(grey, 3), style(grey, 3))
    assert np.array_equal(RealStyle([tmp_path], probability=0.0)(grey, 3), grey)
    with pytest.raises(ValueError, match="style_p"):
        RealStyle([tmp_path], probability=1.5)


def test_unlabeled_views_share_geometry(tmp_path):
    write_photos(tmp_path)
    dataset = UnlabeledPhotos([tmp_path], size=32, seed=1)
    teacher, student = dataset[0]
    assert teacher.shape == student.shape == (3, 32, 32)
    # Same geometry: the padded (zero-photo) pixels coincide; colours differ.
    assert not torch.equal(teacher, student)
    dataset.set_epoch(1)
    assert not torch.equal(dataset[0][0], teacher) or not torch.equal(dataset[0][1], student)


def test_pseudo_label_loss_uses_only_confident_pixels():
    teacher = torch.zeros(1, 5, 4, 4)
    teacher[0, 2, :2] = 10.0  # top half: confidently scalp with hair
    student = torch.zeros(1, 5, 4, 4, requires_grad=True)
    loss, parts = pseudo_label_loss(student, teacher, threshold=0.9)
    assert parts["pseudo_share"] == pytest.approx(0.5)
    loss.backward()
    gradient = student.grad[0, :4].abs().sum(dim=0)
    assert (gradient[:2] > 0).all() and (gradient[2:] == 0).all()
    unsure, parts = pseudo_label_loss(student, torch.zeros(1, 5, 4, 4), threshold=0.9)
    assert parts["pseudo_share"] == 0.0 and unsure.item() == 0.0
