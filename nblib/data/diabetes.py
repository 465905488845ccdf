"""scikit-learn's diabetes regression set (Efron et al. 2004), shipped inside scikit-learn.

442 patients, 10 baseline measurements (age, sex, body-mass index, blood pressure and six
blood serum values), target: a measure of disease progression one year later (25 to 346).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from nblib.data.splits import Splits

__all__ = ["DiabetesSplits", "load_diabetes"]

FEATURES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")


@dataclass(frozen=True, repr=False)
class DiabetesSplits(Splits):
    """``Splits`` of a regression set, standardised with statistics of the training split.

    ``x_* = (raw - x_mean) / x_std`` and ``y_* = (raw - y_mean) / y_std``; the statistics
    come from the training rows only, so nothing about validation or test leaks into them.
    ``to_original(y)`` maps standardised targets back to the original units.
    """

    x_mean: torch.Tensor  # (10,)
    x_std: torch.Tensor   # (10,)
    y_mean: float
    y_std: float

    def to_original(self, y: torch.Tensor) -> torch.Tensor:
        """Standardised targets or predictions back in the original units."""
        return y * self.y_std + self.y_mean


def load_diabetes(val_size: int = 80, test_size: int = 80) -> DiabetesSplits:
    """The 442 rows split at random, once and for all (``random_state=0``), into
    282 train, 80 validation and 80 test rows by default.

    ``x`` (N, 10) float32 and ``y`` (N, 1) float32, both standardised with the mean and
    standard deviation of the training split (``num_classes`` is 0: a regression set).
    The raw features are used (``scaled=False``), not sklearn's pre-scaled ones, whose
    scaling was computed on all 442 rows.
    """
    from sklearn.datasets import load_diabetes as _load
    from sklearn.model_selection import train_test_split

    if not (isinstance(val_size, int) and isinstance(test_size, int)
            and val_size > 0 and test_size > 0 and val_size + test_size <= 442 - 20):
        raise ValueError(f"val_size and test_size must be positive ints leaving at least 20 training "
                         f"rows of 442; got val_size={val_size!r}, test_size={test_size!r}")
    d = _load(scaled=False)
    x = d.data.astype(np.float64)
    y = d.target.astype(np.float64)[:, None]                       # (442, 1)
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=test_size, random_state=0)
    x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=val_size,
                                                      random_state=0)
    x_mean, x_std = x_train.mean(0), x_train.std(0)                 # training rows only
    y_mean, y_std = float(y_train.mean()), float(y_train.std())

    def fx(a):
        return torch.from_numpy((a - x_mean) / x_std).float()

    def fy(a):
        return torch.from_numpy((a - y_mean) / y_std).float()

    return DiabetesSplits("diabetes", fx(x_train), fy(y_train), fx(x_val), fy(y_val),
                          fx(x_test), fy(y_test), num_classes=0,
                          x_mean=torch.from_numpy(x_mean).float(),
                          x_std=torch.from_numpy(x_std).float(), y_mean=y_mean, y_std=y_std)
