"""Mask clean-up: only the head region connected to the largest one is scored."""

from __future__ import annotations

import numpy as np
import torch

from autosalt.contract import CLASS_HAIR, CLASS_IGNORE, CLASS_LOSS, CLASS_SKIN
from autosalt.model.checkpoint import make_checkpoint, save_checkpoint
from autosalt.model.factory import create_model
from autosalt.model.predictor import Predictor
from autosalt.postprocess.cleanup import keep_main_head


def two_objects() -> np.ndarray:
    mask = np.zeros((60, 80), np.uint8)
    mask[10:50, 10:40] = CLASS_HAIR  # the head: scalp with a patch, face below
    mask[20:30, 20:30] = CLASS_LOSS
    mask[45:50, 10:40] = CLASS_SKIN
    mask[5:15, 60:75] = CLASS_LOSS  # a smaller, separate object read as bald scalp
    return mask


def test_a_separate_object_becomes_background_and_the_head_is_kept():
    mask = two_objects()
    before = mask.copy()
    cleaned = keep_main_head(mask)
    assert np.array_equal(mask, before)  # the input is not modified
    assert not cleaned[5:15, 60:75].any()
    assert np.array_equal(cleaned[:, :50], mask[:, :50])


def test_one_head_touching_only_at_a_corner_stays_whole():
    mask = np.zeros((20, 20), np.uint8)
    mask[2:10, 2:10] = CLASS_HAIR
    mask[10:15, 10:15] = CLASS_SKIN  # diagonal neighbour of (9, 9): 8-connected
    assert np.array_equal(keep_main_head(mask), mask)


def test_ignore_pixels_are_kept_and_do_not_join_regions():
    mask = two_objects()
    mask[30, 40:60] = CLASS_IGNORE  # an ignore line between the two objects
    cleaned = keep_main_head(mask)
    assert not cleaned[5:15, 60:75].any()
    assert (cleaned[30, 40:60] == CLASS_IGNORE).all()


def test_predictor_scores_only_the_main_head(tmp_path):
    args = {"arch": "unet", "encoder": "mobilenet_v2"}
    path = tmp_path / "m.pt"
    save_checkpoint(path, make_checkpoint(create_model(**args), args, 64, {}))
    predictor = Predictor(path, bf16=False, channels_last=False)

    def network(batch: torch.Tensor) -> torch.Tensor:  # two scalp blobs, the right one small
        logits = torch.zeros((batch.shape[0], 5, 64, 64))
        logits[:, 0] = 5.0
        logits[:, 2, 10:50, 5:35] = 10.0
        logits[:, 2, 20:30, 50:60] = 10.0
        return logits

    predictor.model = network
    prediction = predictor.predict(np.zeros((64, 64, 3), np.uint8))
    assert (prediction.mask[15:45, 10:30] == CLASS_HAIR).all()
    assert not prediction.mask[:, 45:].any() and not prediction.loss[:, 45:].any()
