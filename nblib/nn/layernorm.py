"""Layer normalisation from scratch (Ba, Kiros & Hinton, "Layer Normalization", 2016).

Batch normalisation (chapter 05) averages each feature over the batch; layer normalisation
averages each *example* over its own features, so it needs no batch statistics, behaves the same
in training and evaluation, and works one token at a time. For ``x`` of shape ``(*, D)`` (the
last dimensions given by ``normalized_shape``)::

    mu    = mean of x over the last dimensions              one per token
    var   = mean of (x - mu)^2                              biased: divides by D
    y     = (x - mu) / sqrt(var + eps) * weight + bias      weight, bias: (D,)

``LayerNorm`` has the constructor, parameters and ``state_dict`` keys of ``torch.nn.LayerNorm``.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from nblib import validate

__all__ = ["layer_norm", "LayerNorm"]


def _shape(normalized_shape) -> tuple[int, ...]:
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    shape = tuple(normalized_shape)
    if not shape or not all(isinstance(n, int) and n > 0 for n in shape):
        raise ValueError(f"normalized_shape must be a positive int or a tuple of them, got "
                         f"{normalized_shape!r}")
    return shape


def layer_norm(x: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """``F.layer_norm``: normalise ``x`` over its last ``len(normalized_shape)`` dimensions."""
    shape = _shape(normalized_shape)
    validate.tensor("x", x, floating=True)
    if tuple(x.shape[x.ndim - len(shape):]) != shape or x.ndim < len(shape):
        raise ValueError(f"layer_norm over {shape} needs x of shape (*, {', '.join(map(str, shape))})"
                         f", got {tuple(x.shape)}")
    dims = tuple(range(-len(shape), 0))
    mu = x.mean(dim=dims, keepdim=True)                         # (*, 1, ..., 1)
    var = (x - mu).pow(2).mean(dim=dims, keepdim=True)          # biased, like PyTorch
    y = (x - mu) * torch.rsqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


class LayerNorm(nn.Module):
    """``nn.LayerNorm`` from scratch: per-example normalisation, then a learned scale and shift
    (``weight`` initialised to 1, ``bias`` to 0)."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.eps = validate.number("eps", eps, gt=0)
        self.elementwise_affine = bool(elementwise_affine)
        kw = {"device": device, "dtype": dtype}
        affine, shape = self.elementwise_affine, self.normalized_shape
        self.weight = nn.Parameter(torch.ones(shape, **kw)) if affine else None
        self.bias = nn.Parameter(torch.zeros(shape, **kw)) if affine and bias else None

    def forward(self, x: Tensor) -> Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
