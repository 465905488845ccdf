"""The ImageNet architectures that shaped CNN design, defined (not trained) at their original
input sizes, and counters of their parameters and multiply-accumulates.

* ``AlexNet``: Krizhevsky, Sutskever & Hinton, "ImageNet classification with deep convolutional
  neural networks" (NeurIPS 2012), as published: 96-256-384-384-256 channels, the layers that
  were split over two GPUs as grouped convolutions (``groups=2``), local response normalisation,
  overlapping max pooling, dropout in the two 4096-wide layers; input 3x227x227 (the paper's
  "224" does not fit its own first layer: (224 - 11) / 4 + 1 is not an integer).
* ``VGG``: Simonyan & Zisserman, "Very deep convolutional networks for large-scale image
  recognition" (ICLR 2015): stacks of 3x3 convolutions; ``VGG("16")`` is configuration D.
* ``ResNet``: He, Zhang, Ren & Sun, "Deep residual learning for image recognition" (CVPR 2016):
  ``resnet18`` (basic blocks, [2, 2, 2, 2]) and ``resnet50`` (bottleneck blocks, [3, 4, 6, 3]),
  with the stride in the first 1x1 convolution of a bottleneck as in the paper (torchvision
  moved it to the 3x3 one, which costs more multiply-adds but has the same parameters).
* ``count_parameters`` and ``count_macs``: multiply-accumulates of every convolution and linear
  layer, counted by forward hooks on a "meta" tensor (shapes only, no memory, no arithmetic).
  Papers that report "FLOPs" for these networks count multiply-adds, i.e. MACs.
"""
from __future__ import annotations

import torch
from torch import nn

from nblib import validate

__all__ = ["AlexNet", "VGG", "ResNet", "resnet18", "resnet50", "count_parameters", "count_macs"]


class AlexNet(nn.Module):
    """AlexNet as published (2012): 5 convolutions, 3 fully connected layers, 60,965,224 parameters."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        lrn = dict(size=5, alpha=1e-4, beta=0.75, k=2.0)  # the paper's constants
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(),                  # (N, 96, 55, 55)
            nn.LocalResponseNorm(**lrn), nn.MaxPool2d(3, stride=2),     # (N, 96, 27, 27)
            nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(),      # two GPUs: two groups
            nn.LocalResponseNorm(**lrn), nn.MaxPool2d(3, stride=2),     # (N, 256, 13, 13)
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),               # the GPUs communicate
            nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(),
            nn.MaxPool2d(3, stride=2),                                  # (N, 256, 6, 6)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),
            nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        validate.tensor("x", x, shape=("N", 3, 227, 227))
        return self.classifier(self.features(x))


VGG_CONFIGS = {  # output channels of each 3x3 convolution; "M" is a 2x2 max pooling
    "11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
           512, 512, 512, 512, "M"],
}


class VGG(nn.Module):
    """VGG (2015) on 3x224x224 images: ``VGG("16")`` has 138,357,544 parameters."""

    def __init__(self, config: str = "16", num_classes: int = 1000):
        super().__init__()
        validate.choice("config", config, tuple(VGG_CONFIGS))
        layers, c = [], 3
        for v in VGG_CONFIGS[config]:
            if v == "M":
                layers.append(nn.MaxPool2d(2))              # halves height and width
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU()]
                c = v
        self.features = nn.Sequential(*layers)            # (N, 512, 7, 7)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        validate.tensor("x", x, shape=("N", 3, 224, 224))
        return self.classifier(self.features(x))


def _conv_bn(c_in: int, c_out: int, k: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False), nn.BatchNorm2d(c_out)]


class _Basic(nn.Module):
    """3x3 -> 3x3, plus the shortcut: ``relu(x + F(x))``."""

    expansion = 1

    def __init__(self, c_in: int, c: int, stride: int):
        super().__init__()
        self.f = nn.Sequential(*_conv_bn(c_in, c, 3, stride), nn.ReLU(), *_conv_bn(c, c, 3))
        # a 1x1 projection where the shape changes (the paper's option B), else the identity
        self.shortcut = (nn.Sequential(*_conv_bn(c_in, c, 1, stride)) if stride != 1 or c_in != c
                         else nn.Identity())

    def forward(self, x):
        return torch.relu(self.shortcut(x) + self.f(x))


class _Bottleneck(nn.Module):
    """1x1 (reduce) -> 3x3 -> 1x1 (expand 4x), plus the shortcut."""

    expansion = 4

    def __init__(self, c_in: int, c: int, stride: int):
        super().__init__()
        self.f = nn.Sequential(*_conv_bn(c_in, c, 1, stride), nn.ReLU(), *_conv_bn(c, c, 3), nn.ReLU(),
                               *_conv_bn(c, 4 * c, 1))
        self.shortcut = (nn.Sequential(*_conv_bn(c_in, 4 * c, 1, stride)) if stride != 1 or c_in != 4 * c
                         else nn.Identity())

    def forward(self, x):
        return torch.relu(self.shortcut(x) + self.f(x))


class ResNet(nn.Module):
    """ResNet (2016) on 3x224x224 images: a 7x7 stem, four stages of residual blocks (64, 128, 256
    and 512 base channels, each stage after the first halving the resolution), global average
    pooling and one linear layer."""

    def __init__(self, block: str, layers: list[int], num_classes: int = 1000):
        super().__init__()
        kind = {"basic": _Basic, "bottleneck": _Bottleneck}[validate.choice("block", block,
                                                                           ("basic", "bottleneck"))]
        stem = [*_conv_bn(3, 64, 7, stride=2), nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1)]
        blocks, c_in = [], 64
        for stage, n in enumerate(layers):
            c = 64 * 2 ** stage
            for i in range(n):
                blocks.append(kind(c_in, c, stride=2 if stage > 0 and i == 0 else 1))
                c_in = c * kind.expansion
        self.features = nn.Sequential(*stem, *blocks)     # (N, 512 * expansion, 7, 7)
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        validate.tensor("x", x, shape=("N", 3, 224, 224))
        return self.fc(self.features(x).mean(dim=(2, 3)))  # global average pooling


def resnet18(num_classes: int = 1000) -> ResNet:
    """ResNet-18: basic blocks [2, 2, 2, 2], 11,689,512 parameters."""
    return ResNet("basic", [2, 2, 2, 2], num_classes)


def resnet50(num_classes: int = 1000) -> ResNet:
    """ResNet-50: bottleneck blocks [3, 4, 6, 3], 25,557,032 parameters."""
    return ResNet("bottleneck", [3, 4, 6, 3], num_classes)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars in ``model`` (works on "meta" models too)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_macs(model: nn.Module, input_shape: tuple[int, ...], by_layer: bool = False):
    """Multiply-accumulates of one forward pass of ``model`` on an input of ``input_shape``
    (batch dimension included, e.g. ``(1, 3, 224, 224)``), counted over convolutions and linear
    layers (normalisation, activations and pooling add well under 1 % for these networks).

    A convolution costs ``(output elements) * (C_in / groups) * (kernel area)``, a linear layer
    ``(output elements) * in_features``. The model is copied to the "meta" device, so nothing is
    computed and no memory is used. With ``by_layer``, also returns ``[(name, macs), ...]``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"count_macs needs an nn.Module, got {type(model).__name__}")
    if not (isinstance(input_shape, (tuple, list)) and all(isinstance(s, int) and s > 0 for s in input_shape)):
        raise ValueError(f"input_shape must be a tuple of positive ints with the batch first, got {input_shape!r}")
    meta = model if all(p.is_meta for p in model.parameters()) else _to_meta(model)
    rows: list[tuple[str, int]] = []

    def hook(name):
        def count(module, inputs, output):
            if isinstance(module, nn.modules.conv._ConvNd):
                k = int(torch.tensor(module.kernel_size).prod())
                rows.append((name, output.numel() * (module.in_channels // module.groups) * k))
            else:
                rows.append((name, output.numel() * module.in_features))
        return count

    handles = [m.register_forward_hook(hook(n)) for n, m in meta.named_modules()
               if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear))]
    was_training = meta.training
    try:
        meta.eval()
        with torch.no_grad():
            meta(torch.empty(*input_shape, device="meta"))
    finally:
        meta.train(was_training)
        for h in handles:
            h.remove()
    total = sum(m for _, m in rows)
    return (total, rows) if by_layer else total


def _to_meta(model: nn.Module) -> nn.Module:
    """A shape-only copy of ``model`` (the original is left where it is)."""
    import copy

    return copy.deepcopy(model).to("meta")
