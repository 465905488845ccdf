"""Positional encodings: how a transformer learns where each token sits.

Self-attention treats its input as a *set*: permute the tokens and the outputs permute the same
way (permutation equivariance). Order must be added to the tokens themselves.

* Sinusoidal (Vaswani et al. 2017, "Attention is all you need", section 3.5): for position
  ``pos`` and ``i = 0 .. d/2 - 1``::

      PE[pos, 2i]     = sin(pos / base^(2i / d))
      PE[pos, 2i + 1] = cos(pos / base^(2i / d))          base = 10000

  Each pair of features is a clock turning at its own rate (wavelengths 2*pi to base*2*pi), and
  ``PE[pos + k]`` is a fixed rotation of ``PE[pos]`` for every ``pos``, so relative offsets are
  linear maps. It needs no parameters and is defined at every position, though a model trained
  on short sequences has never *seen* the far ones.
* Learned (as in BERT, GPT and ViT): one trained vector per position, ``max_len`` of them, and
  nothing at all beyond ``max_len``.

Both modules add the encoding to ``x (B, T, C)`` starting at position ``offset`` (what a
key/value cache has already seen).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from nblib import validate

__all__ = ["sinusoidal_encoding", "PositionalEncoding", "LearnedPositionalEmbedding"]


def sinusoidal_encoding(T: int, d_model: int, base: float = 10000.0, *, device=None,
                        dtype=None) -> Tensor:
    """The ``(T, d_model)`` table of sinusoidal encodings for positions ``0 .. T-1``."""
    T = validate.positive_int("T (number of positions)", T)
    d_model = validate.positive_int("d_model", d_model)
    if d_model % 2:
        raise ValueError(f"sinusoidal encodings pair sin and cos: d_model must be even, "
                         f"got {d_model}")
    base = validate.number("base", base, gt=1)
    dtype = dtype or torch.get_default_dtype()
    pos = torch.arange(T, device=device, dtype=torch.float64)[:, None]        # (T, 1)
    i2 = torch.arange(0, d_model, 2, device=device, dtype=torch.float64)       # (d/2,)
    angle = pos * torch.exp(-math.log(base) * i2 / d_model)                    # (T, d/2)
    pe = torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(1)           # (T, d)
    return pe.to(dtype)


def _check_x(x: Tensor, d_model: int, offset: int, max_len: int) -> int:
    validate.tensor("x", x, floating=True)
    if x.ndim != 3 or x.shape[-1] != d_model:
        raise ValueError(f"x must have shape (B, T, C) with C = d_model = {d_model}, got "
                         f"{tuple(x.shape)}")
    offset = validate.integer("offset", offset)
    if offset + x.shape[1] > max_len:
        raise ValueError(f"positions {offset}..{offset + x.shape[1] - 1} lie beyond max_len = "
                         f"{max_len}")
    return offset


class PositionalEncoding(nn.Module):
    """Adds sinusoidal encodings to ``x (B, T, C)``, then dropout (the table is a buffer)."""

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0,
                 base: float = 10000.0) -> None:
        super().__init__()
        self.d_model, self.max_len = d_model, validate.positive_int("max_len", max_len)
        self.register_buffer("pe", sinusoidal_encoding(max_len, d_model, base), persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        offset = _check_x(x, self.d_model, offset, self.max_len)
        T = x.shape[1]
        return self.dropout(x + self.pe[offset:offset + T].to(x.dtype))  # (B, T, C)


class LearnedPositionalEmbedding(nn.Module):
    """Adds a learned vector per position to ``x (B, T, C)``; ``weight`` is (max_len, C)."""

    def __init__(self, max_len: int, d_model: int, init_std: float = 0.02) -> None:
        super().__init__()
        self.max_len = validate.positive_int("max_len", max_len)
        self.d_model = validate.positive_int("d_model", d_model)
        self.weight = nn.Parameter(torch.randn(max_len, d_model) * init_std)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        offset = _check_x(x, self.d_model, offset, self.max_len)
        return x + self.weight[offset:offset + x.shape[1]]                     # (B, T, C)
