"""Multilayer perceptrons: one written from scratch with a hand-derived backward pass, and the
PyTorch modules the book trains.

* ``ScratchMLP``: fully connected layers as plain tensors. ``forward(x)`` keeps what the backward
  pass needs; ``backward(dlogits)`` applies the chain rule in matrix form, one layer at a time
  (Rumelhart, Hinton & Williams 1986). Weights follow ``nn.Linear``'s convention, ``W`` of shape
  (out_features, in_features), so for a layer ``Z = X W^T + b``::

      dW = dZ^T X        (out, in)   summed over the batch by the matrix product
      db = sum_n dZ      (out,)
      dX = dZ W          (N, in)     what flows on to the layer below
      ReLU:  dZ = dA * (Z > 0)       tanh:  dZ = dA * (1 - tanh(Z)^2)

* ``softmax_cross_entropy_grad(logits, target)``: the mean cross-entropy and its gradient with
  respect to the logits, ``(softmax(logits) - onehot(target)) / N``.
* ``MLP(sizes, activation, dropout)``: the same network as an ``nn.Module``.
* ``LogisticRegression`` and ``Mnist1dMLP``: the MNIST-1D baselines of Greydanus & Kobak,
  "Scaling down deep learning with MNIST-1D" (2020/2024): ``Linear(40, 10)``, and
  ``Linear(40, 100)`` + one residual ``relu(Linear(100, 100))`` + ``Linear(100, 10)``, 15,210
  parameters.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nblib import validate

__all__ = ["ScratchMLP", "softmax_cross_entropy_grad", "MLP", "LogisticRegression", "Mnist1dMLP",
           "ACTIVATIONS", "count_parameters"]

ACTIVATIONS = ("relu", "tanh")


def _layer_sizes(sizes) -> list[int]:
    """The widths ``[in, hidden..., out]`` of a fully connected network, checked."""
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or len(sizes) < 2:
        raise ValueError(f"sizes must list at least an input and an output width, e.g. [2, 16, 2]; "
                         f"got {sizes!r}")
    for i, width in enumerate(sizes):
        validate.positive_int(f"sizes[{i}] of {list(sizes)}", width)
    return list(sizes)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def softmax_cross_entropy_grad(logits: torch.Tensor, target: torch.Tensor
                               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy of ``logits`` (N, C) against class indices ``target``
    (N,), and its gradient with respect to the logits::

        dloss/dlogits = (softmax(logits) - onehot(target)) / N      # (N, C)
    """
    validate.tensor("logits", logits, floating=True, shape=("N", "C"))
    n, c = logits.shape
    target = validate.class_indices("target", target, n, c, dtype=None).long()
    log_p = logits - torch.logsumexp(logits, dim=1, keepdim=True)   # (N, C)
    loss = -log_p[torch.arange(n, device=logits.device), target].mean()
    onehot = F.one_hot(target, c).to(logits.dtype)                  # (N, C)
    return loss, (log_p.exp() - onehot) / n


class ScratchMLP:
    """A fully connected network ``sizes[0] -> ... -> sizes[-1]`` written with plain tensors.

    Hidden layers use ``activation`` ('relu' or 'tanh'); the last layer is linear (it outputs
    logits or a regression value). Parameters are initialised like ``nn.Linear``:
    ``U(-1/sqrt(in), 1/sqrt(in))``. After ``forward(x)`` and ``backward(dlogits)``, ``grads``
    holds one gradient per entry of ``parameters()``, in the same order ``[W1, b1, W2, b2, ...]``.
    """

    def __init__(self, sizes: Sequence[int], activation: str = "relu", dtype: torch.dtype = torch.float32,
                 device=None, generator: torch.Generator | None = None):
        self.sizes = _layer_sizes(sizes)
        self.activation = validate.choice("activation", activation, ACTIVATIONS)
        self.weights: list[torch.Tensor] = []
        self.biases: list[torch.Tensor] = []
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:]):
            bound = 1 / math.sqrt(fan_in)
            w = (torch.rand(fan_out, fan_in, generator=generator, dtype=dtype) * 2 - 1) * bound  # (out, in)
            b = (torch.rand(fan_out, generator=generator, dtype=dtype) * 2 - 1) * bound  # (out,)
            self.weights.append(w.to(device))
            self.biases.append(b.to(device))
        self.grads: list[torch.Tensor] | None = None
        self._cache: list[tuple[torch.Tensor, torch.Tensor]] | None = None

    @property
    def in_features(self) -> int:
        return self.sizes[0]

    def parameters(self) -> list[torch.Tensor]:
        """``[W1, b1, W2, b2, ...]``, the order ``grads`` follows."""
        return [t for pair in zip(self.weights, self.biases) for t in pair]

    def _act(self, z: torch.Tensor) -> torch.Tensor:
        return z.clamp_min(0) if self.activation == "relu" else torch.tanh(z)

    def _act_backward(self, z: torch.Tensor, a: torch.Tensor, da: torch.Tensor) -> torch.Tensor:
        if self.activation == "relu":
            return da * (z > 0).to(da.dtype)  # the ReLU mask: gradient flows only where z > 0
        return da * (1 - a * a)  # d tanh(z) / dz = 1 - tanh(z)^2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, sizes[-1]) of a batch ``x`` (N, sizes[0]); caches each layer's input and
        pre-activation for ``backward``."""
        w0 = self.weights[0]
        validate.tensor("ScratchMLP input", x, shape=("N", self.in_features), dtype=w0.dtype,
                        device=w0.device, hint=f" (the weights' dtype); use x.to({w0.dtype})")
        cache = []
        a = x
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            z = a @ w.T + b  # (N, out)
            cache.append((a, z))  # layer input (N, in), pre-activation (N, out)
            a = z if i == last else self._act(z)
        self._cache = cache
        return a

    __call__ = forward

    def backward(self, dlogits: torch.Tensor) -> torch.Tensor:
        """Given dLoss/dlogits (N, sizes[-1]), fill ``grads`` ([dW1, db1, ...])
        and return dLoss/dx (N, sizes[0]). For each layer, from the last::

            dW = dZ^T X,   db = sum_n dZ,   dX = dZ W,
            dZ_below = dX * f'(Z_below)
        """
        cache = self._forward_cache()                # [(X, Z) of each layer]
        n = len(cache[0][0])
        validate.tensor("dlogits", dlogits, shape=(n, self.sizes[-1]))
        grads: list[torch.Tensor] = []
        dz = dlogits                                 # the last layer is linear
        for i in reversed(range(len(self.weights))):
            x_in, _ = cache[i]                       # (N, in)
            grads[:0] = [dz.T @ x_in, dz.sum(0)]     # dW (out, in), db (out,)
            dx = dz @ self.weights[i]                # (N, in)
            if i > 0:                                # through f' below
                dz = self._act_backward(cache[i - 1][1], x_in, dx)
        self.grads = grads
        return dx

    def _forward_cache(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        if self._cache is None:
            raise RuntimeError("call forward(x) before backward(dlogits): backward needs the "
                               "cached activations")
        return self._cache

    def zero_grad(self) -> None:
        self.grads = None

    @torch.no_grad()
    def step(self, lr: float) -> None:
        """One step of plain gradient descent: ``p -= lr * grad``."""
        if self.grads is None:
            raise RuntimeError("no gradients: call forward and backward before step")
        for p, g in zip(self.parameters(), self.grads):
            p -= lr * g

    def to_module(self) -> MLP:
        """An ``MLP`` (nn.Module) with copies of these weights, for checking against autograd."""
        w0 = self.weights[0]
        module = MLP(self.sizes, activation=self.activation).to(dtype=w0.dtype, device=w0.device)
        with torch.no_grad():
            for layer, w, b in zip(module.linears, self.weights, self.biases):
                layer.weight.copy_(w)
                layer.bias.copy_(b)
        return module

    def __repr__(self) -> str:
        return f"ScratchMLP(sizes={self.sizes}, activation={self.activation!r})"


class MLP(nn.Module):
    """Fully connected ``sizes[0] -> ... -> sizes[-1]``: Linear, activation (and
    Dropout, Srivastava et al. 2014) for each hidden layer, a linear output."""

    def __init__(self, sizes: Sequence[int], activation: str = "relu",
                 dropout: float = 0.0):
        super().__init__()
        self.sizes = _layer_sizes(sizes)
        self.activation = validate.choice("activation", activation, ACTIVATIONS)
        validate.number("dropout", dropout, ge=0, lt=1)
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(self.sizes[:-2], self.sizes[1:-1]):  # hidden
            layers.append(nn.Linear(fan_in, fan_out))
            layers.append(nn.ReLU() if activation == "relu" else nn.Tanh())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(self.sizes[-2], self.sizes[-1]))       # output
        self.net = nn.Sequential(*layers)

    @property
    def linears(self) -> list[nn.Linear]:
        return [m for m in self.net if isinstance(m, nn.Linear)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        validate.tensor("x", x, shape=("N", self.sizes[0]))
        return self.net(x)                                   # (N, sizes[-1])


class LogisticRegression(nn.Module):
    """Multinomial logistic regression: one ``Linear(in_features, num_classes)``; the softmax
    lives in the cross-entropy loss. The MNIST-1D 'logistic' baseline is ``LogisticRegression(40, 10)``."""

    def __init__(self, in_features: int = 40, num_classes: int = 10):
        super().__init__()
        self.linear = nn.Linear(in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        validate.tensor("x", x, shape=("N", self.linear.in_features))
        return self.linear(x)  # (N, num_classes)


class Mnist1dMLP(nn.Module):
    """The MLP baseline of MNIST-1D (Greydanus & Kobak 2020)::

        h = relu(W1 x),   h = h + relu(W2 h),   logits = W3 h

    15,210 parameters with the defaults."""

    def __init__(self, in_features: int = 40, hidden: int = 100,
                 num_classes: int = 10):
        super().__init__()
        self.linear1 = nn.Linear(in_features, hidden)
        self.linear2 = nn.Linear(hidden, hidden)
        self.linear3 = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        validate.tensor("x", x, shape=("N", self.linear1.in_features))
        h = F.relu(self.linear1(x))          # (N, hidden)
        h = h + F.relu(self.linear2(h))      # (N, hidden), residual
        return self.linear3(h)               # (N, num_classes)
