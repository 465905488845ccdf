"""Synthetic long-memory tasks for recurrent networks, generated from a seed.

* :func:`adding_problem` (Hochreiter & Schmidhuber 1997, experiment 4; the setting of Le,
  Jaitly & Hinton 2015 and Arjovsky, Shah & Bengio 2016): a sequence of ``T`` pairs
  ``(value, marker)``; the values are uniform on [0, 1), exactly two markers are 1, one in
  each half of the sequence, and the target is the sum of the two marked values. Predicting
  the mean, 1, always gives the trivial MSE ``Var(u1 + u2) = 2/12 = 1/6 = 0.167``.
* :func:`copy_task` (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016): ``n_symbols``
  symbols drawn from ``1..n_categories``, then ``delay`` blanks (0), a delimiter, and blanks
  while the network must reproduce the symbols. Inputs and targets have length
  ``delay + 2 * n_symbols``; the target is blank (0) everywhere except the last
  ``n_symbols`` steps. A memoryless model that outputs blank until the delimiter and then a
  uniform guess among the categories scores the cross-entropy
  ``n_symbols * ln(n_categories) / (delay + 2 * n_symbols)``, which is Arjovsky et al.'s
  ``10 ln 8 / (T + 20)`` for ten symbols from eight categories and ``T`` blanks.

Both are deterministic: the same ``seed`` (an int) or the same state of a
``torch.Generator`` gives the same tensors.
"""
from __future__ import annotations

import math

import torch

from nblib import validate

__all__ = ["adding_problem", "copy_task", "copy_baseline", "ADDING_TRIVIAL_MSE"]

ADDING_TRIVIAL_MSE = 1.0 / 6.0  # MSE of always predicting 1: Var(u1 + u2) = 2 * (1/12)


def _generator(seed) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    validate.integer("seed", seed, ge=0)
    return torch.Generator().manual_seed(seed)


def adding_problem(n: int, T: int = 100, seed: int | torch.Generator = 0,
                   dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` adding-problem sequences of length ``T``, batch first.

    Returns ``x`` (n, T, 2): channel 0 the values ~ U[0, 1), channel 1 the markers (one 1 at a
    uniform position in ``[0, T//2)`` and one in ``[T//2, T)``), and ``y`` (n,), the sum of the
    two marked values. ``seed`` is an int or a ``torch.Generator`` (whose state advances).
    """
    validate.positive_int("n", n)
    validate.integer("T", T, ge=2)
    g = _generator(seed)
    values = torch.rand(n, T, generator=g, dtype=torch.float64)
    half = T // 2
    first = torch.randint(0, half, (n,), generator=g)
    second = torch.randint(half, T, (n,), generator=g)
    markers = torch.zeros(n, T, dtype=torch.float64)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = torch.stack([values, markers], dim=-1)                      # (n, T, 2)
    y = values[rows, first] + values[rows, second]                  # (n,)
    return x.to(dtype), y.to(dtype)


def copy_task(n: int, delay: int = 10, n_symbols: int = 10, n_categories: int = 8,
              seed: int | torch.Generator = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` copy-task sequences, batch first, as int64 tokens.

    Tokens: 0 is the blank, ``1..n_categories`` the symbols, ``n_categories + 1`` the
    delimiter. Returns ``x`` and ``y``, both (n, L) int64 with ``L = delay + 2 * n_symbols``:

    * ``x``: the symbols, ``delay - 1`` blanks, the delimiter, then ``n_symbols`` blanks;
    * ``y``: blanks everywhere except the last ``n_symbols`` steps, which hold the symbols.

    (Arjovsky et al. 2016 count ``T`` blanks between the symbols and the end of the
    delimiter's step; here ``delay = T``.) One-hot ``x`` with ``n_categories + 2`` classes.
    """
    validate.positive_int("n", n)
    validate.positive_int("delay", delay)
    validate.positive_int("n_symbols", n_symbols)
    validate.integer("n_categories", n_categories, ge=2)
    g = _generator(seed)
    length = delay + 2 * n_symbols
    symbols = torch.randint(1, n_categories + 1, (n, n_symbols), generator=g)
    x = torch.zeros(n, length, dtype=torch.int64)
    y = torch.zeros(n, length, dtype=torch.int64)
    x[:, :n_symbols] = symbols
    x[:, n_symbols + delay - 1] = n_categories + 1               # the delimiter
    y[:, -n_symbols:] = symbols
    return x, y


def copy_baseline(delay: int = 10, n_symbols: int = 10, n_categories: int = 8) -> float:
    """Cross-entropy per step (nats) of the memoryless strategy: blank with certainty until
    the delimiter, then a uniform guess, ``n_symbols ln(n_categories) / (delay + 2 n_symbols)``."""
    validate.positive_int("delay", delay)
    validate.positive_int("n_symbols", n_symbols)
    validate.integer("n_categories", n_categories, ge=2)
    return n_symbols * math.log(n_categories) / (delay + 2 * n_symbols)
