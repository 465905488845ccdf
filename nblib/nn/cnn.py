"""Convolutional classifiers the book trains, and the blocks of its depth experiment.

* ``LeNet``: LeCun, Bottou, Bengio & Haffner, "Gradient-based learning applied to document
  recognition" (1998), in its usual modern form: two 5x5 convolutions (6 and 16 channels), each
  followed by ReLU and 2x2 max pooling, then fully connected layers 400 -> 120 -> 84 -> 10. The
  original took 32x32 inputs; a 28x28 digit gets 2 pixels of zero padding on the first
  convolution, which gives the same shapes (and the same 61,706 parameters).
* ``Mnist1dCNN``: the CNN of Greydanus & Kobak, "Scaling down deep learning with MNIST-1D"
  (2020/2024): three ``Conv1d`` with 25 channels and stride 2, ReLU, then ``Linear(125, 10)``;
  5,210 parameters.
* ``ResidualBlock`` and ``DeepConvNet``: He, Zhang, Ren & Sun, "Deep residual learning for image
  recognition" (CVPR 2016). A basic block computes ``relu(x + F(x))`` with
  ``F = conv-BN-ReLU-conv-BN``; the *plain* block is the same without the ``x +``. Both work in
  1-D (signals) or 2-D (images), with or without batch normalisation.

The historical ImageNet architectures (AlexNet, VGG, ResNet-18/50) and the parameter and FLOP
counters are in :mod:`nblib.nn.architectures`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nblib import validate

__all__ = ["LeNet", "Mnist1dCNN", "ResidualBlock", "DeepConvNet"]


class LeNet(nn.Module):
    """LeNet-5 (LeCun et al. 1998) with ReLU and max pooling, for ``(N, 1, S, S)`` images.

    ``in_size`` is 32 (the original) or 28 (MNIST, padded by 2 pixels in the first convolution).
    ``features`` (conv, ReLU, pool, conv, ReLU, pool) and ``classifier`` are ``nn.Sequential``,
    so ``model.features[:2](x)`` gives the first layer's feature maps.
    """

    def __init__(self, in_size: int = 28, num_classes: int = 10, channels: tuple[int, int] = (6, 16),
                 hidden: tuple[int, int] = (120, 84)):
        super().__init__()
        validate.choice("in_size", in_size, (28, 32))
        validate.positive_int("num_classes", num_classes)
        c1, c2 = channels
        self.in_size = in_size
        pad = (32 - in_size) // 2                          # 28x28 + 2 + 2 = 32x32
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 5, padding=pad), nn.ReLU(),   # (N, c1, 28, 28)
            nn.MaxPool2d(2),                               # (N, c1, 14, 14)
            nn.Conv2d(c1, c2, 5), nn.ReLU(),               # (N, c2, 10, 10)
            nn.MaxPool2d(2),                               # (N, c2, 5, 5)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),                                  # (N, c2 * 25)
            nn.Linear(c2 * 25, hidden[0]), nn.ReLU(),
            nn.Linear(hidden[0], hidden[1]), nn.ReLU(),
            nn.Linear(hidden[1], num_classes),             # (N, num_classes) logits
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.in_size
        validate.tensor("x", x, floating=True, shape=("N", 1, s, s))
        return self.classifier(self.features(x))


class Mnist1dCNN(nn.Module):
    """The MNIST-1D CNN of Greydanus & Kobak (2020): ``(N, 40)`` or ``(N, 1, 40)`` -> ``(N, 10)``.

    Conv1d(1, 25, 5, stride 2, padding 1) -> 19 positions, Conv1d(25, 25, 3, stride 2, padding 1)
    -> 10, the same again -> 5, each with ReLU; ``Linear(25 * 5, 10)``. 5,210 parameters.
    """

    def __init__(self, channels: int = 25, length: int = 40, num_classes: int = 10):
        super().__init__()
        validate.positive_int("channels", channels)
        self.length = validate.positive_int("length", length)
        self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        out = length
        for k in (5, 3, 3):
            out = (out + 2 - k) // 2 + 1                   # the output-size formula, stride 2
        self.linear = nn.Linear(channels * out, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        validate.tensor("x", x, floating=True)
        if x.ndim == 2:
            x = x.unsqueeze(1)                             # (N, 40) -> (N, 1, 40)
        validate.tensor("x", x, shape=("N", 1, self.length))
        h = F.relu(self.conv1(x))                          # (N, 25, 19)
        h = F.relu(self.conv2(h))                          # (N, 25, 10)
        h = F.relu(self.conv3(h))                          # (N, 25, 5)
        return self.linear(h.flatten(1))                   # (N, 10)


def _conv(dims: int):
    return {1: nn.Conv1d, 2: nn.Conv2d}[validate.choice("dims", dims, (1, 2))]


def _norm(dims: int, channels: int, batch_norm: bool) -> nn.Module:
    if not batch_norm:
        return nn.Identity()
    return {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}[dims](channels)


class ResidualBlock(nn.Module):
    """A basic block of He et al. (2016): ``relu(x + F(x))``, ``F`` = conv-BN-ReLU-conv-BN.

    ``residual=False`` gives the *plain* block ``relu(F(x))`` with the same layers and
    parameters; ``batch_norm=False`` drops the BN layers (the convolutions then get biases).
    3x3 (or length-3) convolutions with padding 1 keep the shape: ``(N, C, *) -> (N, C, *)``.
    """

    def __init__(self, channels: int, *, dims: int = 2, residual: bool = True, batch_norm: bool = True):
        super().__init__()
        validate.positive_int("channels", channels)
        conv = _conv(dims)
        self.residual = residual
        self.conv1 = conv(channels, channels, 3, padding=1, bias=not batch_norm)
        self.bn1 = _norm(dims, channels, batch_norm)
        self.conv2 = conv(channels, channels, 3, padding=1, bias=not batch_norm)
        self.bn2 = _norm(dims, channels, batch_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))                    # F(x), same shape as x
        return F.relu(x + out if self.residual else out)


class DeepConvNet(nn.Module):
    """A stem convolution, ``blocks`` residual (or plain) blocks, global average pooling and a
    linear classifier: ``2 * blocks + 2`` weight layers in all.

    ``dims=1`` for signals ``(N, L)`` or ``(N, in_channels, L)``, ``dims=2`` for images
    ``(N, in_channels, H, W)``. ``residual=False`` is the plain network of the same depth.
    """

    def __init__(self, blocks: int, *, channels: int = 16, in_channels: int = 1, num_classes: int = 10,
                 dims: int = 1, residual: bool = True, batch_norm: bool = True):
        super().__init__()
        validate.integer("blocks", blocks, ge=0)
        self.dims, self.in_channels = dims, in_channels
        self.stem = _conv(dims)(in_channels, channels, 3, padding=1, bias=not batch_norm)
        self.stem_norm = _norm(dims, channels, batch_norm)
        self.blocks = nn.Sequential(*[ResidualBlock(channels, dims=dims, residual=residual,
                                                    batch_norm=batch_norm) for _ in range(blocks)])
        self.head = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        validate.tensor("x", x, floating=True)
        if self.dims == 1 and x.ndim == 2:
            x = x.unsqueeze(1)                             # (N, L) -> (N, 1, L)
        shape = ("N", self.in_channels) + ("L",) * self.dims
        validate.tensor("x", x, shape=shape)
        h = F.relu(self.stem_norm(self.stem(x)))           # (N, channels, *)
        h = self.blocks(h)
        return self.head(h.flatten(2).mean(dim=2))         # global average pool -> (N, classes)
