"""scikit-learn's 8x8 handwritten digits (UCI), shipped inside scikit-learn: no download."""
from __future__ import annotations

import numpy as np
import torch

from nblib.data.splits import Splits

__all__ = ["load_digits"]


def load_digits(flatten: bool = True) -> Splits:
    """sklearn's 1797 handwritten digits (8x8, UCI), scaled to [0, 1], split 60/20/20.

    The split is stratified and fixed (it does not depend on a chapter's seed), so every
    chapter and every reader sees the same test set: 1077 train, 360 validation, 360 test.
    """
    from sklearn.datasets import load_digits as _load
    from sklearn.model_selection import train_test_split

    d = _load()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=360, stratify=y, random_state=0)
    x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=360, stratify=y_rest, random_state=0)
    shape = (-1, 64) if flatten else (-1, 1, 8, 8)

    def t(a):
        return torch.from_numpy(a).reshape(shape)

    return Splits("digits", t(x_train), torch.from_numpy(y_train), t(x_val), torch.from_numpy(y_val),
                  t(x_test), torch.from_numpy(y_test), num_classes=10)
