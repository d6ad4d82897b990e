"""The network factory, checkpoints and the predictor, on tiny tensors."""

import pickle

import numpy as np
import pytest
import torch

from autosalt.contract import CLASS_HAIR, CLASS_SKIN
from autosalt.model import precision
from autosalt.model.checkpoint import (
    CheckpointError,
    load_checkpoint,
    make_checkpoint,
    model_from_checkpoint,
    save_checkpoint,
)
from autosalt.model.factory import OUTPUT_CHANNELS, PretrainedWeightsError, create_model
from autosalt.model.fold import fold_batchnorm
from autosalt.model.predictor import (
    CONFIDENCE_STEP,
    Predictor,
    decode_logits,
    head_crop,
    letterbox,
    upright_turns,
)
from autosalt.training.engine import AREA_MIN_PIXELS, area_loss, segmentation_loss

ARGS = {"arch": "unet", "encoder": "mobilenet_v2"}


@pytest.mark.parametrize("arch, encoder", [("unet", "mobilenet_v2"), ("fpn", "mobilenet_v2"),
                                           ("unet", "efficientnet_lite0"), ("unet", "resnet18")])
def test_forward_shapes(arch, encoder):
    model = create_model(arch, encoder).eval()
    with torch.no_grad():
        logits = model(torch.zeros(2, 3, 64, 96))
    assert logits.shape == (2, OUTPUT_CHANNELS, 64, 96)


def test_factory_errors_list_choices():
    with pytest.raises(ValueError, match="choose from unet"):
        create_model("segformer", "mobilenet_v2")
    with pytest.raises(ValueError, match="mobilenet_v2, efficientnet_lite0"):
        create_model("unet", "vit_huge")
    with pytest.raises(PretrainedWeightsError, match="resnet18"):
        create_model("unet", "resnet18", pretrained=True)


def test_pretrained_weights_load_from_packages():
    plain = create_model("unet", "mobilenet_v2")
    pretrained = create_model("unet", "mobilenet_v2", pretrained=True)
    key = "net.encoder.features.0.0.weight"
    assert not torch.equal(plain.state_dict()[key], pretrained.state_dict()[key])


def test_overfits_one_batch():
    torch.manual_seed(0)
    model = create_model("unet", "mobilenet_v2")
    image = torch.randn(2, 3, 64, 64)
    mask = torch.zeros(2, 64, 64, dtype=torch.long)
    mask[:, 16:48, 16:48] = 2
    mask[:, 24:40, 24:40] = 3
    mask[:, 50:, :] = 1
    fraction = (mask == 3).float()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(40):
        loss, _ = segmentation_loss(model(image), mask, fraction)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        first = first if first is not None else loss.item()
    # Judged with batch statistics: 40 steps are too few for BatchNorm's running means to
    # settle, and the point here is that the loss and the network can fit, not BN warm-up.
    with torch.no_grad():
        predicted = model(image)[:, :4].argmax(1)
    assert loss.item() < 0.3 * first
    assert (predicted == mask).float().mean() > 0.95


def test_area_loss_charges_a_views_percent_error_not_its_pixel_errors():
    scalp = torch.zeros(3, 16, 16, dtype=torch.bool)
    scalp[:, 2:14, 2:14] = True  # 144 scalp pixels per image
    truth = torch.full((3, 16, 16), 0.4)
    # Image 0 right on average with every pixel wrong (0.2 and 0.6 alternating); image 1
    # under-called by 0.1 everywhere; image 2 has too little scalp to count.
    predicted = torch.full((3, 16, 16), 0.3)
    predicted[0] = 0.2
    predicted[0, :, ::2] = 0.6
    scalp[2] = False
    scalp[2, :4, :4] = True
    assert 16 < AREA_MIN_PIXELS
    logits = torch.logit(predicted).requires_grad_()
    area = area_loss(logits, truth, scalp)
    assert area.item() == pytest.approx(0.05, abs=1e-5)  # (0 + 0.1) / 2 images
    area.backward()
    assert (logits.grad[1][scalp[1]] < 0).all()  # descending the loss raises image 1's fraction
    assert float(logits.grad[2].abs().sum()) == 0.0
    # Switched off by default: the total is CE + Dice + BCE, whatever the area error.
    mask = torch.where(scalp, 3, 0)
    full = torch.cat([torch.zeros(3, 4, 16, 16), torch.logit(predicted)[:, None]], 1)
    plain, parts = segmentation_loss(full, mask, truth)
    weighted, _ = segmentation_loss(full, mask, truth, area_weight=2.0)
    assert (weighted - plain).item() == pytest.approx(2.0 * parts["area"], abs=1e-5)


def test_checkpoint_round_trip(tmp_path):
    model = create_model(**ARGS)
    path = tmp_path / "m.pt"
    save_checkpoint(path, make_checkpoint(model, ARGS, 64, {"out": "x"}, {"salt_mae": 1.5}, "tiny"))
    checkpoint = load_checkpoint(path)
    assert checkpoint["model_id"] == "tiny" and checkpoint["metrics"]["salt_mae"] == 1.5
    rebuilt = model_from_checkpoint(checkpoint).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model.eval()(x), rebuilt(x))


def test_wrong_truncated_and_foreign_checkpoints(tmp_path):
    model = create_model(**ARGS)
    good = tmp_path / "good.pt"
    save_checkpoint(good, make_checkpoint(model, ARGS, 64, {}))
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match="not an autosalt checkpoint"):
        load_checkpoint(foreign)

    class Evil:  # a pickle that would run code on load
        def __reduce__(self):
            return (print, ("code ran",))

    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as stream:
        pickle.dump(Evil(), stream)
    with pytest.raises(CheckpointError):
        load_checkpoint(evil)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    mismatched = make_checkpoint(model, {"arch": "unet", "encoder": "resnet18"}, 64, {})
    with pytest.raises(CheckpointError, match="do not fit"):
        model_from_checkpoint(mismatched)


@pytest.fixture
def tiny_checkpoint(tmp_path):
    """A randomly initialised checkpoint with a 64 px input."""
    path = tmp_path / "m.pt"
    save_checkpoint(path, make_checkpoint(create_model(**ARGS), ARGS, 64, {}))
    return path


def test_predictor_full_size_outputs(tiny_checkpoint):
    predictor = Predictor(tiny_checkpoint)
    photo = np.random.default_rng(0).integers(0, 255, (90, 120, 3), dtype=np.uint8)
    before = photo.copy()
    prediction = predictor.predict(photo, tta=True)
    assert prediction.mask.shape == (90, 120) and prediction.loss.shape == (90, 120)
    assert prediction.mask.max() <= 3 and 0 <= prediction.loss.min() <= prediction.loss.max() <= 1
    assert np.array_equal(photo, before)


def test_a_head_cut_in_two_by_a_finger_keeps_both_parts(tiny_checkpoint):
    # The generator's fingers (and real ones) can cross the whole head: the scalp on both
    # sides must still be scored (a "largest region only" clean-up once dropped one side).
    predictor = Predictor(tiny_checkpoint, bf16=False, channels_last=False)

    def network(batch: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros((batch.shape[0], 5, 64, 64))
        logits[:, 0] = 5.0
        logits[:, CLASS_HAIR, 8:56, 8:56] = 10.0  # the head's scalp
        logits[:, CLASS_HAIR, 28:36, :] = -10.0  # a finger across it: background
        return logits

    predictor.model = network
    prediction = predictor.predict(np.zeros((64, 64, 3), np.uint8))
    assert (prediction.mask[10:26, 10:54] == CLASS_HAIR).all()
    assert (prediction.mask[38:54, 10:54] == CLASS_HAIR).all()


def test_mirror_tta_maps_the_mirrored_prediction_back(tiny_checkpoint):
    # A network that only looks at each pixel's own colour sees the mirrored photo's pixels at
    # mirrored places; mapped back, the average must equal the plain prediction exactly. Scalp
    # on the left only (an asymmetric photo): a prediction left mirrored would split it.
    predictor = Predictor(tiny_checkpoint, bf16=False, channels_last=False)

    def network(batch: torch.Tensor) -> torch.Tensor:
        red = batch[:, :1]
        return torch.cat([-red, 0 * red, red, 0 * red, red - 0.5], dim=1)

    predictor.model = network
    photo = np.zeros((48, 64, 3), np.uint8)
    photo[8:40, 4:30, 0] = 255
    plain, mirrored = predictor.predict(photo), predictor.predict(photo, tta=True)
    assert (plain.mask[10:38, 6:28] == CLASS_HAIR).all() and (plain.mask[:, 36:] == 0).all()
    assert np.array_equal(plain.mask, mirrored.mask)
    assert np.allclose(plain.loss, mirrored.loss, atol=1e-6)


def test_decode_logits_is_softmax_argmax_and_mean_top_probability():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (37, 53, OUTPUT_CHANNELS)).astype(np.float32)
    logits[:5, :, 1] = logits[:5, :, 2] = 9.0  # exact ties: the lower class wins, as argmax
    logits[30:, :, 0] = 20.0  # background rows: off the head
    decoded = decode_logits(logits)
    probabilities = torch.softmax(torch.from_numpy(logits[..., :4]), dim=-1).numpy()
    assert np.array_equal(decoded.mask, probabilities.argmax(axis=-1))
    assert (decoded.mask[:5] == 1).all() and (decoded.mask[30:] == 0).all()
    head, top = decoded.mask > 0, probabilities.max(axis=-1)
    grid = (slice(None, None, CONFIDENCE_STEP),) * 2  # the confidence is measured on this grid
    assert decoded.confidence == pytest.approx(top[grid][head[grid]].mean(), abs=1e-6)
    assert decoded.confidence == pytest.approx(top[head].mean(), abs=0.02)
    scalp = (decoded.mask == 2) | (decoded.mask == 3)
    sigmoid = 1 / (1 + np.exp(-logits[..., 4].astype(np.float64)))
    assert np.allclose(decoded.loss[scalp], sigmoid[scalp], atol=1e-6)
    assert (decoded.loss[~scalp] == 0).all() and decoded.loss.dtype == np.float32
    assert decode_logits(np.where(np.arange(5) == 0, 9.0, 0.0).astype(np.float32)
                         * np.ones((4, 4, 1), np.float32)).confidence == 0.0  # no head


def test_head_crop_squares_a_small_head_with_its_margin_and_skips_a_large_one():
    mask = np.zeros((200, 300), np.uint8)
    mask[80:120, 100:140] = 2  # a 40 px head: the crop is 40 * 1.5 = 60 px around its centre
    rows, cols = head_crop(mask)
    assert (rows.start, rows.stop, cols.start, cols.stop) == (70, 130, 90, 150)
    mask[:] = 0
    mask[0:30, 280:300] = 1  # in a corner: the square is clipped to the photo
    rows, cols = head_crop(mask)
    assert (rows.start, rows.stop, cols.start, cols.stop) == (0, 38, 268, 300)
    assert head_crop(np.zeros((50, 50), np.uint8)) is None  # no head found
    mask[:] = 0
    mask[0:200, 40:250] = 2  # fills the frame: a 315 px crop, larger than the photo
    assert head_crop(mask) is None
    assert head_crop(mask, max_share=1.1) is not None


def test_refine_predicts_a_small_head_again_on_a_crop_around_it(tiny_checkpoint):
    # A network that finds red pixels as head skin everywhere, but calls them scalp only where a
    # 13 x 13 neighbourhood of its input is all red: a head a few input pixels wide yields no
    # scalp; on the crop it is large enough. Refine must find the scalp the single pass missed.
    predictor = Predictor(tiny_checkpoint, bf16=False, channels_last=False)
    seen = []

    def network(batch: torch.Tensor) -> torch.Tensor:
        red = (batch[:, :1] > 0).float()
        solid = -torch.nn.functional.max_pool2d(-red, 13, stride=1, padding=6)  # erosion
        seen.append(float(red.mean()))
        return torch.cat([1 - 2 * red, 2 * red, 4 * solid, 0 * red, 0 * red], dim=1)

    predictor.model = network
    photo = np.zeros((200, 200, 3), np.uint8)
    photo[90:120, 120:150, 0] = 255  # a 30 px head: 10 px at the 64 px input, 43 px on the crop
    plain = predictor.predict(photo)
    assert len(seen) == 1 and not (plain.mask == CLASS_HAIR).any() and (plain.mask == 1).any()
    refined = predictor.predict(photo, refine=True)
    assert len(seen) == 3 and seen[2] > 5 * seen[1]  # the second pass sees the head larger
    assert refined.mask.shape == (200, 200)
    assert (refined.mask[100:110, 130:140] == CLASS_HAIR).all()
    assert (refined.mask[:80] == 0).all() and (refined.mask[:, :110] == 0).all()
    seen.clear()
    photo[:] = 0
    photo[10:190, 10:190, 0] = 255  # a head that fills the frame: one pass only
    assert (predictor.predict(photo, refine=True).mask[40:160, 40:160] == CLASS_HAIR).all()
    assert len(seen) == 1


def test_head_crop_found_on_a_smaller_mask_is_returned_in_the_photos_pixels():
    photo_mask = np.zeros((400, 600), np.uint8)
    photo_mask[160:240, 200:280] = 2
    small = photo_mask[::4, ::4]  # the same view at the network's size
    assert head_crop(small, photo_shape=(400, 600)) == head_crop(photo_mask)
    assert head_crop(small, photo_shape=(400, 600)) != head_crop(small)


def test_refine_finds_the_head_with_one_plain_pass_and_mirrors_only_the_pass_kept(tiny_checkpoint):
    # With mirror TTA and the second pass: a small head costs one plain pass (to find it) and the
    # crop's two; a head that fills the frame the plain pass and its mirror, averaged. The network
    # runs twice: the plain passes, then everything else stacked in one batch.
    predictor = Predictor(tiny_checkpoint, bf16=False, channels_last=False)
    calls = []

    def network(batch: torch.Tensor) -> torch.Tensor:
        calls.append(batch.shape[0])
        red = (batch[:, :1] > 0).float()
        left = torch.zeros_like(red)
        left[..., : red.shape[-1] // 2] = 1.0  # not mirror-symmetric: shows whether TTA averaged
        return torch.cat([1 - 2 * red, 0 * red, 2 * red + left, 0 * red, 0 * red], dim=1)

    predictor.model = network
    small = np.zeros((200, 200, 3), np.uint8)
    small[90:120, 120:150, 0] = 255
    large = np.zeros((200, 200, 3), np.uint8)
    large[5:195, 5:195, 0] = 255
    predictions = predictor.predict_batch([small, large], tta=True, refine=True)
    assert calls == [2, 3]  # both plain; then the large one's mirror, the small crop and its mirror
    assert (predictions[0].mask[:80] == 0).all() and (predictions[0].mask[100:110, 130:140] == 2).all()
    once = predictor.predict_batch([large], tta=True, refine=False)[0]
    assert np.array_equal(predictions[1].mask, once.mask)
    assert np.allclose(predictions[1].loss, once.loss)


@pytest.mark.parametrize(("skin_at", "turns"), [("below", 0), ("above", 2), ("left", 1), ("right", 3)])
def test_upright_turns_bring_the_skin_below_the_scalp(skin_at, turns):
    mask = np.zeros((120, 200), np.uint8)
    mask[40:80, 60:140] = CLASS_HAIR
    skin = {"below": (slice(80, 100), slice(60, 140)), "above": (slice(20, 40), slice(60, 140)),
            "left": (slice(40, 80), slice(30, 60)), "right": (slice(40, 80), slice(140, 170))}[skin_at]
    mask[skin] = CLASS_SKIN
    assert upright_turns(mask) == turns
    assert upright_turns(np.ascontiguousarray(np.rot90(mask, turns))) == 0  # turned, it is upright


def test_upright_turns_leave_a_photo_with_too_little_skin_or_no_scalp():
    mask = np.zeros((120, 200), np.uint8)
    mask[40:80, 60:140] = CLASS_HAIR
    mask[36:40, 96:100] = CLASS_SKIN  # 16 pixels above 3200 of scalp: too little to tell
    assert upright_turns(mask) == 0
    assert upright_turns(np.where(mask == CLASS_HAIR, 0, mask).astype(np.uint8)) == 0


def test_upright_pass_predicts_again_on_the_turned_photo_and_keeps_the_photos_frame(tiny_checkpoint):
    # A network that reads skin from red and scalp with hair from green, whichever way the photo
    # lies: the second prediction, on the photo turned upright and turned back, must land on the
    # same pixels as the first (the photo's frame and size kept), at the cost of one more pass.
    predictor = Predictor(tiny_checkpoint, bf16=False, channels_last=False)
    calls = []

    def network(batch: torch.Tensor) -> torch.Tensor:
        calls.append(batch.shape[0])
        red, green = (batch[:, :1] > 0).float(), (batch[:, 1:2] > 0).float()
        return torch.cat([0 * red, 4 * red, 4 * green, 0 * red, 0 * red], dim=1)

    predictor.model = network
    turned = np.zeros((120, 200, 3), np.uint8)  # lying on its side: the skin left of the scalp
    turned[:, :60, 0] = 255
    turned[:, 60:, 1] = 255
    upright = np.zeros((120, 200, 3), np.uint8)  # the skin below the scalp
    upright[:80, :, 1] = 255
    upright[80:, :, 0] = 255
    plain = predictor.predict_batch([turned, upright])
    calls.clear()
    predictions = predictor.predict_batch([turned, upright], upright=True)
    assert calls == [2, 1]  # both once, then only the turned photo again
    for before, after in zip(plain, predictions):
        assert after.mask.shape == after.loss.shape == (120, 200)
        assert np.array_equal(before.mask, after.mask)
    assert (predictions[0].mask[:, :50] == CLASS_SKIN).all()
    assert (predictions[0].mask[:, 70:] == CLASS_HAIR).all()


def test_letterbox_keeps_aspect():
    padded, (h, w) = letterbox(np.ones((50, 100, 3), np.uint8), 64)
    assert padded.shape == (64, 64, 3) and (h, w) == (32, 64)
    assert padded[:32].all() and not padded[32:].any()


@pytest.mark.parametrize("native", [False, True])
def test_bf16_only_where_native(tiny_checkpoint, monkeypatch, capsys, native):
    """Emulated bf16 is ~12x slower than fp32 on an AVX2-only CPU: a bf16 request falls back
    to fp32 there, with a notice; where bf16 is native it is kept; fp32 is always fp32."""
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(precision, "_noticed", set())
    assert precision.resolve_bf16(True, "cpu") is native
    assert precision.resolve_bf16(False, "cpu") is False
    assert ("no native bfloat16" in capsys.readouterr().err) is not native
    assert Predictor(tiny_checkpoint, bf16=True).bf16 is native
    assert Predictor(tiny_checkpoint, bf16=False).bf16 is False


def test_from_model_predicts_like_the_checkpoint_it_was_saved_to(tmp_path):
    # Validation in training wraps the in-memory network with Predictor.from_model; it must
    # score photos exactly as the checkpoint of that network does when loaded from disk.
    model = create_model(**ARGS).eval()
    save_checkpoint(tmp_path / "m.pt", make_checkpoint(model, ARGS, 64, {}))
    photo = np.random.default_rng(3).integers(0, 255, (70, 90, 3), dtype=np.uint8)
    in_memory = Predictor.from_model(model, 64, bf16=False, channels_last=False)
    loaded = Predictor(tmp_path / "m.pt", bf16=False, channels_last=False)
    first, second = in_memory.predict(photo, tta=True), loaded.predict(photo, tta=True)
    assert in_memory.model is model and in_memory.input_size == 64
    assert np.array_equal(first.mask, second.mask) and np.allclose(first.loss, second.loss, atol=1e-6)


def test_both_backends_share_one_predictor_interface():
    from autosalt.inference.onnx_backend import OnnxPredictor
    from autosalt.model.predictor import PhotoPredictor

    assert issubclass(Predictor, PhotoPredictor) and issubclass(OnnxPredictor, PhotoPredictor)
    assert OnnxPredictor.predict_batch is Predictor.predict_batch is PhotoPredictor.predict_batch


@pytest.mark.parametrize("native", [False, True])
def test_infer_precision_auto_is_bf16_only_where_native(tiny_checkpoint, tmp_path, monkeypatch, capsys,
                                                        native):
    from autosalt.inference.batch import load_predictor

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(precision, "_noticed", set())
    predictor, _ = load_predictor(tiny_checkpoint, "torch", "auto", tmp_path)
    assert predictor.bf16 is native
    assert "no native bfloat16" not in capsys.readouterr().err  # auto falls back silently
    assert load_predictor(tiny_checkpoint, "torch", "fp32", tmp_path)[0].bf16 is False


def _trained_like(module: torch.nn.Module) -> torch.nn.Module:
    """Batch norms with running statistics and affine terms far from their initial values."""
    generator = torch.Generator().manual_seed(5)
    for norm in module.modules():
        if isinstance(norm, torch.nn.BatchNorm2d):
            size = norm.num_features
            norm.running_mean.copy_(torch.randn(size, generator=generator))
            norm.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
            norm.weight.data.copy_(torch.randn(size, generator=generator))
            norm.bias.data.copy_(torch.randn(size, generator=generator))
    return module.eval()


def test_fold_batchnorm_computes_the_same_network_without_its_batch_norms():
    model = _trained_like(create_model("unet", "efficientnet_lite0"))
    norms = sum(isinstance(module, torch.nn.BatchNorm2d) for module in model.modules())
    folded, pairs = fold_batchnorm(model)
    assert pairs == norms > 0 and folded is not model
    assert not any(isinstance(module, torch.nn.BatchNorm2d) for module in folded.modules())
    assert any(isinstance(module, torch.nn.BatchNorm2d) for module in model.modules())  # untouched
    images = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        assert torch.allclose(folded(images), model(images), atol=1e-4)


class _NormFirst(torch.nn.Module):
    """Registers a conv, then a batch norm, but runs the norm first: not a foldable pair."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)
        self.norm = torch.nn.BatchNorm2d(3)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.conv(self.norm(images))


def test_fold_batchnorm_keeps_a_network_whose_layers_run_out_of_their_order():
    model = _trained_like(_NormFirst())
    folded, pairs = fold_batchnorm(model)
    assert folded is model and pairs == 0 and isinstance(model.norm, torch.nn.BatchNorm2d)


def test_predictor_runs_the_checkpoint_with_its_batch_norms_folded(tmp_path):
    model = _trained_like(create_model(**ARGS))
    save_checkpoint(tmp_path / "m.pt", make_checkpoint(model, ARGS, 64, {}))
    loaded = Predictor(tmp_path / "m.pt", bf16=False, channels_last=False)
    as_is = Predictor.from_model(model, 64, bf16=False, channels_last=False)
    assert not any(isinstance(module, torch.nn.BatchNorm2d) for module in loaded.model.modules())
    photo = np.random.default_rng(4).integers(0, 255, (70, 90, 3), dtype=np.uint8)
    first, second = loaded.predict(photo, tta=True), as_is.predict(photo, tta=True)
    assert (first.mask == second.mask).mean() > 0.999 and np.allclose(first.loss, second.loss, atol=1e-3)
