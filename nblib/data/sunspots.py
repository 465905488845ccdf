"""Yearly sunspot numbers, 1700-2008 (309 values), from the data that statsmodels ships.

The series (``statsmodels.datasets.sunspots``, the yearly mean sunspot number; nothing is
downloaded) has a quasi-periodic cycle of about 11 years whose amplitude varies from cycle to
cycle: a classic test of time-series forecasting. The held-out final stretch is the last
``n_test`` years (default 40: 1969-2008, about three and a half cycles); everything fitted
(model weights, AR coefficients, standardisation) must use the years before it only.

``lag_windows(series, lags)`` turns a series into (previous ``lags`` values, next value) pairs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from nblib import validate

__all__ = ["Sunspots", "load_sunspots", "lag_windows"]


@dataclass(frozen=True)
class Sunspots:
    """``years`` (309,) and ``values`` (309,) float64 tensors; the test stretch is the last
    ``n_test`` of them. ``train_values`` / ``test_values`` slice it; ``mean`` and ``std`` are
    the training years' statistics (for standardising)."""

    years: torch.Tensor
    values: torch.Tensor
    n_test: int

    @property
    def split(self) -> int:
        """Index of the first test year."""
        return len(self.values) - self.n_test

    @property
    def train_values(self) -> torch.Tensor:
        return self.values[:self.split]

    @property
    def test_values(self) -> torch.Tensor:
        return self.values[self.split:]

    @property
    def mean(self) -> float:
        return float(self.train_values.mean())

    @property
    def std(self) -> float:
        return float(self.train_values.std())

    def __repr__(self) -> str:
        y = self.years
        return (f"Sunspots({len(y)} years {int(y[0])}-{int(y[-1])}; train "
                f"{int(y[0])}-{int(y[self.split - 1])}, test {int(y[self.split])}-{int(y[-1])})")


def load_sunspots(n_test: int = 40) -> Sunspots:
    """The 309 yearly sunspot numbers (float64); the last ``n_test`` years are the test."""
    validate.integer("n_test", n_test, ge=1)
    import statsmodels.api as sm

    frame = sm.datasets.sunspots.load_pandas().data
    years = torch.tensor(frame["YEAR"].to_numpy(dtype=np.float64))
    values = torch.tensor(frame["SUNACTIVITY"].to_numpy(dtype=np.float64))
    if len(values) != 309:
        raise ValueError(f"expected 309 yearly values 1700-2008 from statsmodels, got "
                         f"{len(values)}")
    if n_test > len(values) - 30:
        raise ValueError(f"n_test must leave at least 30 training years, got n_test={n_test} "
                         f"of {len(values)} years")
    return Sunspots(years, values, n_test)


def lag_windows(series: torch.Tensor, lags: int, start: int | None = None):
    """Pairs (x_{t-lags}, ..., x_{t-1}) -> x_t for every t >= max(lags, start).

    Returns ``X`` (N, lags), oldest value first, and ``y`` (N,). ``start`` (default ``lags``)
    is the first target index: ``lag_windows(values, p, start=split)`` gives the test targets
    with their inputs reaching back into the training years.
    """
    validate.tensor("series", series, ndim=1)
    validate.positive_int("lags", lags)
    start = lags if start is None else validate.integer("start", start, ge=lags)
    if start >= len(series):
        raise ValueError(f"no window: the series has {len(series)} values and the first target "
                         f"would be index {start}")
    idx = torch.arange(start, len(series))                       # target indices (N,)
    X = series[idx[:, None] - torch.arange(lags, 0, -1)]          # (N, lags)
    return X, series[idx]
