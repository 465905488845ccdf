"""A multilayer perceptron of scalar :class:`~nblib.autograd.Value`s: the whole of training,
with nothing hidden.

This is the ``nn.py`` of Karpathy's micrograd (2020, github.com/karpathy/micrograd), with
PyTorch's names: a :class:`Module` has ``parameters()`` and ``zero_grad()``; a :class:`Neuron`
computes ``act(w . x + b)``; a :class:`Layer` is a list of neurons that read the same input; an
:class:`MLP` chains layers, the last one linear (its outputs are logits or scores). Every weight
is one ``Value``, so ``loss.backward()`` is the scalar engine of :mod:`nblib.autograd`, and a
training step is the loop a learner can read in full::

    model.zero_grad()
    loss = ...                    # built from model(x) with Value arithmetic
    loss.backward()
    for p in model.parameters():
        p.data -= lr * p.grad

Weights follow ``nn.Linear``'s convention (one row of ``weight`` per output neuron) and its
default initialisation, uniform in ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]``, so
:meth:`MLP.from_torch`, :meth:`MLP.to_torch` and :meth:`MLP.state` move weights between
this model and an ``nn.Sequential`` of ``nn.Linear`` layers (tests/lib/test_value_mlp.py compares the two,
forward and gradients).

It is slow (one Python object per number): a 2-16-16-1 network on 100 points takes a few
hundred milliseconds per step. That is the point of the next chapters' tensors.
"""
from __future__ import annotations

import math
import random
from collections.abc import Sequence

import torch
from torch import nn

from nblib.autograd import Value

__all__ = ["Module", "Neuron", "Layer", "MLP"]

NONLINEARITIES = ("tanh", "relu", "linear")


class Module:
    """What every model has: its parameters, and a way to forget their gradients."""

    def parameters(self) -> list[Value]:
        return []

    def zero_grad(self) -> None:
        """``p.grad = 0`` for every parameter (``Value.backward`` accumulates, like torch)."""
        for p in self.parameters():
            p.grad = 0.0


class Neuron(Module):
    """One unit: ``act(sum_i w_i x_i + b)``, ``act`` in ``NONLINEARITIES``."""

    def __init__(self, n_in: int, nonlin: str = "tanh",
                 rng: random.Random | None = None):
        if nonlin not in NONLINEARITIES:
            raise ValueError(f"nonlin must be one of {NONLINEARITIES}, "
                             f"got {nonlin!r}")
        if not isinstance(n_in, int) or n_in < 1:
            raise ValueError(f"n_in must be a positive int, got {n_in!r}")
        rng = rng or random.Random(0)
        bound = 1 / math.sqrt(n_in)    # nn.Linear's default initialisation
        self.w = [Value(rng.uniform(-bound, bound)) for _ in range(n_in)]
        self.b = Value(rng.uniform(-bound, bound))
        self.nonlin = nonlin

    def __call__(self, x: Sequence[Value | float]) -> Value:
        if len(x) != len(self.w):
            raise ValueError(f"this neuron takes {len(self.w)} inputs, "
                             f"got {len(x)}")
        z = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        if self.nonlin == "tanh":
            return z.tanh()
        if self.nonlin == "relu":
            return z.relu()
        return z

    def parameters(self) -> list[Value]:
        return self.w + [self.b]

    def __repr__(self) -> str:
        return f"Neuron({len(self.w)}, {self.nonlin})"


class Layer(Module):
    """``n_out`` neurons reading the same ``n_in`` inputs; returns a list of ``n_out`` Values."""

    def __init__(self, n_in: int, n_out: int, nonlin: str = "tanh",
                 rng: random.Random | None = None):
        rng = rng or random.Random(0)
        self.neurons = [Neuron(n_in, nonlin, rng) for _ in range(n_out)]

    def __call__(self, x: Sequence[Value | float]) -> list[Value]:
        return [n(x) for n in self.neurons]

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer([{', '.join(map(repr, self.neurons[:1]))}] x {len(self.neurons)})"


class MLP(Module):
    """Fully connected layers of widths ``sizes = [n_in, hidden..., n_out]``; ``nonlin`` after
    every layer but the last, which is linear. ``model(x)`` maps one example (a sequence of
    ``n_in`` numbers or Values) to a list of ``n_out`` Values."""

    def __init__(self, sizes: Sequence[int], nonlin: str = "tanh", seed: int = 0):
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least [n_in, n_out], got {sizes}")
        rng = random.Random(seed)
        self.sizes = sizes
        self.layers = [Layer(a, b, nonlin if i < len(sizes) - 2 else "linear", rng)
                       for i, (a, b) in enumerate(zip(sizes, sizes[1:]))]

    def __call__(self, x: Sequence[Value | float]) -> list[Value]:
        if len(x) != self.sizes[0]:
            raise ValueError(f"the MLP takes {self.sizes[0]} inputs per "
                             f"example, got {len(x)}")
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    # ---------------------------------------------------------------- to and from PyTorch
    def state(self) -> list[tuple[list[list[float]], list[float]]]:
        """``[(weight (n_out, n_in), bias (n_out,)), ...]`` as nested lists, one per layer:
        ``torch.tensor`` of each is what ``nn.Linear`` holds."""
        return [([[w.data for w in n.w] for n in layer.neurons],
                 [n.b.data for n in layer.neurons]) for layer in self.layers]

    @classmethod
    def from_torch(cls, linears: Sequence, nonlin: str = "tanh") -> "MLP":
        """An MLP holding copies of the weights of ``linears`` (``nn.Linear`` layers, in order)."""
        sizes = [linears[0].in_features] + [lin.out_features for lin in linears]
        model = cls(sizes, nonlin)
        for layer, lin in zip(model.layers, linears):
            weight, bias = lin.weight.detach().tolist(), lin.bias.detach().tolist()
            for neuron, row, b in zip(layer.neurons, weight, bias):
                for w, value in zip(neuron.w, row):
                    w.data = float(value)
                neuron.b.data = float(b)
        return model

    def to_torch(self, dtype: torch.dtype = torch.float32) -> nn.Sequential:
        """The same network as an ``nn.Sequential`` of ``nn.Linear`` layers holding copies of
        this model's current weights (for fast plotting, or to train it with ``torch.optim``)."""
        act = {"tanh": nn.Tanh, "relu": nn.ReLU, "linear": nn.Identity}[
            self.layers[0].neurons[0].nonlin]
        modules: list[nn.Module] = []
        for i, (weight, bias) in enumerate(self.state()):
            lin = nn.Linear(len(weight[0]), len(weight), dtype=dtype)
            with torch.no_grad():
                lin.weight.copy_(torch.tensor(weight, dtype=dtype))
                lin.bias.copy_(torch.tensor(bias, dtype=dtype))
            modules.append(lin)
            if i < len(self.layers) - 1:
                modules.append(act())
        return nn.Sequential(*modules)

    def __repr__(self) -> str:
        return f"MLP({self.sizes}, {self.layers[0].neurons[0].nonlin})"
