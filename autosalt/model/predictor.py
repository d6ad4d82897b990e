"""From a photo to the network's masks: letterbox, forward, undo the letterbox.

The same :func:`letterbox` is used in training (via the eval/train presets) and here, so the
network sees photos the same way in both.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from autosalt.contract import CLASS_SKIN, scalp_pixels
from autosalt.model.checkpoint import load_checkpoint, model_from_checkpoint
from autosalt.model.factory import IMAGE_MEAN, IMAGE_STD, NUM_CLASSES
from autosalt.model.fold import fold_batchnorm
from autosalt.model.precision import resolve_bf16


def letterbox(image: np.ndarray, size: int, interpolation: int = cv2.INTER_AREA
              ) -> tuple[np.ndarray, tuple[int, int]]:
    """Resize so the long side is ``size`` and pad bottom/right with zeros to size x size.

    Returns the padded array and the (height, width) of the resized content.
    """
    height, width = image.shape[:2]
    scale = size / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    padded = np.zeros((size, size) + image.shape[2:], dtype=image.dtype)
    padded[:new_h, :new_w] = resized
    return padded, (new_h, new_w)


def normalise(rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) -> float32 (3, H, W) with ImageNet mean/std."""
    image = rgb.astype(np.float32) / 255.0
    image = (image - np.array(IMAGE_MEAN, np.float32)) / np.array(IMAGE_STD, np.float32)
    return np.ascontiguousarray(image.transpose(2, 0, 1))


#: Head crop of the second pass (``refine``): margin on each side, as a share of the head's
#: long side, and the crop, as a share of the photo's long side, from which on a second pass is
#: skipped (1.0: whenever the crop is smaller than the photo; docs/experiments/model-history.md).
CROP_MARGIN = 0.25
CROP_MAX_SHARE = 1.0


def head_crop(mask: np.ndarray, margin: float = CROP_MARGIN, max_share: float = CROP_MAX_SHARE,
              photo_shape: tuple[int, int] | None = None) -> tuple[slice, slice] | None:
    """The square around the predicted head (classes > 0) plus ``margin``, clipped to the photo.

    ``mask`` is the photo's mask, or, with ``photo_shape`` (height, width), the same view at
    another scale (the network's output before it is resized to the photo): the square is then
    found on it and returned in the photo's pixels. None when no head was found or the crop
    would span ``max_share`` or more of the photo's long side: the head already fills the frame,
    and the crop would show it no larger.
    """
    rows, cols = np.nonzero(mask > 0)
    if rows.size == 0:
        return None
    height, width = photo_shape or mask.shape
    scale_y, scale_x = height / mask.shape[0], width / mask.shape[1]
    top, bottom = rows.min() * scale_y, (rows.max() + 1) * scale_y
    left, right = cols.min() * scale_x, (cols.max() + 1) * scale_x
    side = max(bottom - top, right - left) * (1 + 2 * margin)
    if side >= max_share * max(height, width):
        return None
    centre_y, centre_x = (top + bottom) / 2, (left + right) / 2
    y0, x0 = max(0, round(centre_y - side / 2)), max(0, round(centre_x - side / 2))
    y1, x1 = min(height, round(centre_y + side / 2)), min(width, round(centre_x + side / 2))
    return slice(int(y0), int(y1)), slice(int(x0), int(x1))


#: Upright pass: the least skin, as a share of the predicted scalp, that tells which way is down.
UPRIGHT_MIN_SKIN = 0.02


def upright_turns(mask: np.ndarray, min_skin: float = UPRIGHT_MIN_SKIN) -> int:
    """Quarter turns (``np.rot90``'s ``k``) that bring the photo upright: the predicted skin
    (face, ears, neck, forehead) below the predicted scalp, as in every view the network was
    trained on most. 0 when the photo is upright already, or when too little skin was found to
    tell (under ``min_skin`` of the scalp's pixels).
    """
    scalp, skin = scalp_pixels(mask[::4, ::4]), mask[::4, ::4] == CLASS_SKIN
    if not scalp.any() or skin.sum() < min_skin * scalp.sum():
        return 0
    scalp_y, scalp_x = np.argwhere(scalp).mean(axis=0)
    skin_y, skin_x = np.argwhere(skin).mean(axis=0)
    down, right = skin_y - scalp_y, skin_x - scalp_x
    if abs(down) >= abs(right):
        return 0 if down > 0 else 2
    return 3 if right > 0 else 1  # a quarter turn clockwise brings the right side down


@dataclass
class Prediction:
    mask: np.ndarray  # (H, W) uint8 class ids 0..3
    loss: np.ndarray  # (H, W) float32 loss fraction in [0, 1], zero off the predicted scalp
    confidence: float  # mean max class probability over the predicted head (0..1)


#: The confidence is averaged over every ``CONFIDENCE_STEP``-th row and column of the photo's
#: pixels: a mean over hundreds of thousands of pixels, as good from a quarter of them.
CONFIDENCE_STEP = 2


def decode_logits(logits: np.ndarray) -> Prediction:
    """The network's (H, W, 5) outputs at the photo's size -> class mask, loss map, confidence.

    The mask is the argmax of the class logits (the argmax of their softmax; ties keep the
    lower class), the confidence the mean top-class probability over the predicted head (on a
    grid of every ``CONFIDENCE_STEP``-th pixel). Done
    with torch's reductions over the last axis, which is faster on large photos than numpy's
    argmax and a softmax over (5, H, W) and gives the same result.
    """
    class_logits = torch.from_numpy(logits)[..., :NUM_CLASSES]
    best, index = class_logits.max(dim=-1)
    mask = index.to(torch.uint8).numpy()
    scalp = scalp_pixels(mask)
    fraction = torch.sigmoid(torch.from_numpy(np.ascontiguousarray(logits[..., NUM_CLASSES])))
    loss = torch.where(torch.from_numpy(scalp), fraction, 0.0).numpy()
    step = CONFIDENCE_STEP
    head = mask[::step, ::step] > 0
    pixels = int(np.count_nonzero(head))
    confidence = 0.0
    if pixels:
        top = best[::step, ::step].unsqueeze(-1)
        spread = torch.exp(class_logits[::step, ::step] - top).sum(dim=-1)  # 1 / top probability
        confidence = float(spread.reciprocal()[torch.from_numpy(head)].sum()) / pixels
    return Prediction(mask, loss, confidence)


class PhotoPredictor:
    """A network that turns RGB photos of any size into full-size masks and loss maps.

    The one interface every backend shares: :class:`Predictor` (a PyTorch checkpoint) and
    :class:`autosalt.inference.onnx_backend.OnnxPredictor` (an ONNX Runtime session) differ only
    in how they build ``model``, a callable from a normalised (B, 3, S, S) float tensor to
    (B, 5, S, S) logits; letterboxing, mirror averaging, the second pass and decoding are here.
    ``bf16``: bfloat16 autocast where ``device`` runs it natively (see
    :mod:`autosalt.model.precision`); elsewhere fp32. ``channels_last``: batches are sent in that
    memory format (the model's own format is the caller's choice).
    """

    def __init__(self, model, input_size: int, model_id: str, metrics: dict | None = None,
                 device: str = "cpu", bf16: bool = False, channels_last: bool = False) -> None:
        self.model = model
        self.input_size = int(input_size)
        self.model_id = model_id
        self.metrics = metrics or {}
        self.validated_on = ""  # what the model was validated on, where its file records it
        self.device = torch.device(device)
        self.channels_last = channels_last
        self.bf16 = resolve_bf16(bf16, self.device)

    def _autocast(self):
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def predict_batch(self, photos: list[np.ndarray], tta: bool = False, refine: bool = False,
                      upright: bool = False) -> list[Prediction]:
        """Predict masks for RGB uint8 photos (each (H, W, 3), any size).

        ``upright``: where the first prediction puts the skin beside or above the scalp (a phone
        photo turned by a quarter or half turn), predict again on the photo turned upright
        (:func:`upright_turns`) and turn that prediction back into the photo's frame; the
        masks keep the photo's own orientation and size. ``tta``, ``refine``: :meth:`_predict`.
        """
        predictions = self._predict(photos, tta, refine)
        if not upright:
            return predictions
        turns = [upright_turns(prediction.mask) for prediction in predictions]
        turned = [index for index, k in enumerate(turns) if k]
        if turned:
            again = self._predict([np.ascontiguousarray(np.rot90(photos[index], turns[index]))
                                   for index in turned], tta, refine)
            for index, prediction in zip(turned, again):
                back = -turns[index]
                predictions[index] = Prediction(np.ascontiguousarray(np.rot90(prediction.mask, back)),
                                                np.ascontiguousarray(np.rot90(prediction.loss, back)),
                                                prediction.confidence)
        return predictions

    def _predict(self, photos: list[np.ndarray], tta: bool, refine: bool) -> list[Prediction]:
        """One prediction per photo as it lies.

        ``tta``: average with the mirrored photo's prediction. ``refine``: where the head fills
        little of the frame, predict again on a crop around it (:func:`head_crop`), so a small or
        off-centre head reaches the network at the size it was trained on; the crop's prediction
        replaces the first one, and everything outside the crop is background. The first pass
        then only finds the head: it runs once, unmirrored, and is read at the network's size;
        a photo whose head fills the frame gets its mirrored pass (with ``tta``) and its
        full-size decoding only then.
        """
        if not refine:
            return self._decode(photos, *self._logits(photos, tta))
        boxes, batch = self._letterboxed(photos)
        (first,) = self._forward((batch, False))
        crops: dict[int, tuple[slice, slice]] = {}
        for index, ((_, (content_h, content_w)), photo) in enumerate(zip(boxes, photos)):
            head = first[index, :NUM_CLASSES, :content_h, :content_w].argmax(dim=0).numpy()
            crop = head_crop(head, photo_shape=photo.shape[:2])
            if crop is not None:
                crops[index] = crop
        whole = [index for index in range(len(photos)) if index not in crops]
        inner_photos = [np.ascontiguousarray(photos[i][crop]) for i, crop in crops.items()]
        inner_boxes, inner_batch = self._letterboxed(inner_photos) if crops else ([], None)
        # the second pass in one forward: the whole photos' mirror images (with ``tta``; they
        # are already letterboxed) and the crops (with ``tta``, also mirrored)
        inputs: list[tuple[torch.Tensor, bool]] = []
        if whole and tta:
            inputs.append((batch[whole], True))
        if crops:
            inputs.append((inner_batch, False))
            if tta:
                inputs.append((inner_batch, True))
        outputs = self._forward(*inputs) if inputs else []
        predictions: list[Prediction | None] = [None] * len(photos)
        if whole:
            logits = first[whole]
            if tta:
                logits = 0.5 * (logits + outputs.pop(0))
            decoded = self._decode([photos[i] for i in whole], [boxes[i] for i in whole], logits)
            for index, prediction in zip(whole, decoded):
                predictions[index] = prediction
        if crops:
            inner_logits = 0.5 * (outputs[0] + outputs[1]) if tta else outputs[0]
            second = self._decode(inner_photos, inner_boxes, inner_logits)
            for (index, crop), inner in zip(crops.items(), second):
                mask = np.zeros(photos[index].shape[:2], np.uint8)
                loss = np.zeros(photos[index].shape[:2], np.float32)
                mask[crop], loss[crop] = inner.mask, inner.loss
                predictions[index] = Prediction(mask, loss, inner.confidence)
        return predictions

    def _letterboxed(self, photos: list[np.ndarray]
                     ) -> tuple[list[tuple[np.ndarray, tuple[int, int]]], torch.Tensor]:
        """The photos letterboxed (image, content size) and as one normalised input batch."""
        boxes = [letterbox(photo, self.input_size) for photo in photos]
        batch = torch.from_numpy(np.stack([normalise(padded) for padded, _ in boxes])).to(self.device)
        return boxes, self._memory_format(batch)

    def _memory_format(self, batch: torch.Tensor) -> torch.Tensor:
        return batch.contiguous(memory_format=torch.channels_last) if self.channels_last else batch

    @torch.no_grad()
    def _forward(self, *batches: tuple[torch.Tensor, bool]) -> list[torch.Tensor]:
        """One forward pass over the input batches ``(batch, mirrored)`` stacked together: each
        batch's (B, 5, S, S) float logits on the CPU, in order. A mirrored batch is mirrored on
        the way in and its logits mirrored back."""
        inputs = [torch.flip(batch, dims=[3]) if mirrored else batch for batch, mirrored in batches]
        stacked = self._memory_format(torch.cat(inputs)) if len(inputs) > 1 else inputs[0]
        with self._autocast():
            logits = self.model(stacked).float().cpu()
        parts = logits.split([len(batch) for batch, _ in batches])
        return [part.flip(dims=[3]) if mirrored else part for part, (_, mirrored) in zip(parts, batches)]

    def _logits(self, photos: list[np.ndarray], tta: bool
                ) -> tuple[list[tuple[np.ndarray, tuple[int, int]]], torch.Tensor]:
        """Letterbox the photos and run the network: (letterboxes, logits); ``tta``: averaged
        with the mirrored batch's (both in one forward pass)."""
        boxes, batch = self._letterboxed(photos)
        if not tta:
            return boxes, self._forward((batch, False))[0]
        plain, mirrored = self._forward((batch, False), (batch, True))
        return boxes, 0.5 * (plain + mirrored)

    @staticmethod
    def _decode(photos: list[np.ndarray], boxes: list[tuple[np.ndarray, tuple[int, int]]],
                logits: torch.Tensor) -> list[Prediction]:
        """Each photo's logits, letterbox undone and resized to the photo, as a :class:`Prediction`."""
        results = []
        for (_, (content_h, content_w)), photo, sample in zip(boxes, photos, logits):
            cropped = sample[:, :content_h, :content_w].permute(1, 2, 0).numpy()
            full = cv2.resize(cropped, (photo.shape[1], photo.shape[0]), interpolation=cv2.INTER_LINEAR)
            results.append(decode_logits(full))
        return results

    def predict(self, photo: np.ndarray, tta: bool = False, refine: bool = False,
                upright: bool = False) -> Prediction:
        return self.predict_batch([photo], tta, refine, upright)[0]


class Predictor(PhotoPredictor):
    """:class:`PhotoPredictor` for an autosalt checkpoint file (``Predictor(path)``), its batch
    norms folded into the convolutions (:func:`autosalt.model.fold.fold_batchnorm`), or, with
    :meth:`from_model`, for a network already in memory as it is (validation during training)."""

    def __init__(self, checkpoint_path: str | os.PathLike, device: str = "cpu", bf16: bool = True,
                 channels_last: bool = True) -> None:
        checkpoint = load_checkpoint(checkpoint_path)
        model, _ = fold_batchnorm(model_from_checkpoint(checkpoint, checkpoint_path).to(device))
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        super().__init__(model,
                         int(checkpoint["input_size"]),
                         checkpoint.get("model_id") or os.path.basename(str(checkpoint_path)),
                         checkpoint.get("metrics", {}), device, bf16, channels_last)
        self.checkpoint_path = str(checkpoint_path)
        self.validated_on = str(checkpoint.get("validated_on", ""))

    @staticmethod
    def from_model(model: torch.nn.Module, input_size: int, device: str = "cpu", bf16: bool = True,
                   channels_last: bool = True, model_id: str = "in-memory") -> PhotoPredictor:
        """Predict with ``model`` as it is (no file round trip), e.g. to validate during training.

        The model is used in place, on its own device and memory format: the caller puts it on
        ``device`` and in eval mode.
        """
        return PhotoPredictor(model, input_size, model_id, None, device, bf16, channels_last)
