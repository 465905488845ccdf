"""Weight initialisation, and what it does to signals travelling through depth.

- Glorot & Bengio (2010), *Understanding the difficulty of training deep feedforward neural
  networks*: keep the variance of activations (forward) and of gradients (backward) equal
  across layers; for a linear-like activation, ``Var W = 2 / (fan_in + fan_out)``.
- He, Zhang, Ren & Sun (2015), *Delving deep into rectifiers*: ReLU zeroes half of its input,
  so the variance halves at each layer unless ``Var W = 2 / fan_in``.

Names follow ``torch.nn.init`` (``xavier_normal_``, ``kaiming_normal_``); the schemes here
draw Gaussian weights of the given standard deviation.
"""
from __future__ import annotations

import math

import torch

__all__ = ["SCHEMES", "init_std", "pytorch_linear_default_std", "signal_through_depth"]

SCHEMES = ("std 1", "small", "xavier", "he")


def init_std(scheme: str, fan_in: int, fan_out: int) -> float:
    """The standard deviation of a weight matrix ``(fan_out, fan_in)`` under ``scheme``.

    ``'std 1'``: 1 (a naive choice); ``'small'``: 0.01; ``'xavier'`` (Glorot 2010):
    ``sqrt(2 / (fan_in + fan_out))``; ``'he'`` (He 2015, ReLU): ``sqrt(2 / fan_in)``.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown initialisation scheme {scheme!r}; expected one of "
                         f"{', '.join(map(repr, SCHEMES))}")
    if not (isinstance(fan_in, int) and isinstance(fan_out, int) and fan_in > 0 and fan_out > 0):
        raise ValueError(f"fan_in and fan_out must be positive ints, got {fan_in!r}, {fan_out!r}")
    return {"std 1": 1.0, "small": 0.01, "xavier": math.sqrt(2.0 / (fan_in + fan_out)),
            "he": math.sqrt(2.0 / fan_in)}[scheme]


def pytorch_linear_default_std(fan_in: int) -> float:
    """The std of ``nn.Linear``'s default weights: ``kaiming_uniform_(a=sqrt(5))`` draws from
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), whose std is ``1 / sqrt(3 fan_in)``."""
    if not (isinstance(fan_in, int) and fan_in > 0):
        raise ValueError(f"fan_in must be a positive int, got {fan_in!r}")
    return 1.0 / math.sqrt(3.0 * fan_in)


def signal_through_depth(scheme: str, activation: str = "relu", depth: int = 20, width: int = 256,
                         batch: int = 512, generator: torch.Generator | None = None,
                         dtype: torch.dtype = torch.float32) -> dict[str, list[float]]:
    """Push a standard-normal batch (batch, width) through ``depth`` bias-free layers
    ``A_l = act(A_{l-1} W_l^T)`` with weights drawn under ``scheme``, then a random
    upstream gradient back down.

    Returns ``{'act_std': [std of A_1, ..., A_depth], 'grad_std': [std of dL/dA_0, ...,
    dL/dA_{depth-1}]}`` (gradients by autograd, with ``dL/dA_depth`` standard normal).
    """
    if activation not in ("relu", "tanh"):
        raise ValueError(f"activation must be 'relu' or 'tanh', got {activation!r}")
    if not all(isinstance(v, int) and v > 0 for v in (depth, width, batch)):
        raise ValueError(f"depth, width and batch must be positive ints, got {depth!r}, {width!r}, {batch!r}")
    act = torch.relu if activation == "relu" else torch.tanh
    std = init_std(scheme, width, width)
    a = torch.randn(batch, width, generator=generator, dtype=dtype).requires_grad_(True)
    inputs, outputs = [], []
    h = a
    for _ in range(depth):
        w = torch.randn(width, width, generator=generator, dtype=dtype) * std  # (out, in)
        h.retain_grad()
        inputs.append(h)
        h = act(h @ w.T)                                          # (batch, width)
        outputs.append(h)
    upstream = torch.randn(batch, width, generator=generator, dtype=dtype)
    h.backward(upstream)
    finite = [float(t.detach().std()) for t in outputs]
    grads = [float(t.grad.std()) for t in inputs]
    return {"act_std": finite, "grad_std": grads}
