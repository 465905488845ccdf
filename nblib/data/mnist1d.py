"""MNIST-1D (Greydanus & Kobak, "Scaling down deep learning with MNIST-1D", 2020/2024),
generated offline by the ``mnist1d`` package from its own defaults (identical to the paper's
frozen file) and cached as ``.npz``."""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import torch

from nblib.data.splits import Splits, cache_dir

__all__ = ["load_mnist1d"]


def _mnist1d_arrays(cache: bool) -> dict[str, np.ndarray]:
    # Generated from the package's own defaults: identical to the frozen file of the paper.
    # get_dataset() is never used: with its defaults it downloads.
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    key = hashlib.sha256(json.dumps(vars(args), sort_keys=True, default=str).encode()).hexdigest()[:12]
    path = cache_dir() / f"mnist1d-{key}.npz"
    if cache and path.exists():
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    data = make_dataset(args)
    arrays = {k: np.asarray(data[k]) for k in ("x", "y", "x_test", "y_test", "t")}
    if cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez(tmp, **arrays)
            os.replace(tmp, path)  # atomic: parallel runs never read a half-written file
        except OSError:
            pass  # a read-only home is fine: we just regenerate next time (about 1 s)
    return arrays


def load_mnist1d(spatial_shuffle: bool = False, cache: bool = True) -> Splits:
    """MNIST-1D (Greydanus & Kobak 2020): 4000 train and 1000 test signals of length 40.

    ``spatial_shuffle=True`` applies one fixed permutation to the 40 positions of every signal,
    the paper's test of spatial inductive bias (an MLP does not care; a CNN does).
    """
    a = _mnist1d_arrays(cache)
    x, x_test = a["x"], a["x_test"]
    if spatial_shuffle:
        perm = np.random.default_rng(0).permutation(x.shape[1])
        x, x_test = x[:, perm], x_test[:, perm]
    return Splits(
        name="mnist1d" + ("-shuffled" if spatial_shuffle else ""),
        x_train=torch.tensor(x, dtype=torch.float32), y_train=torch.tensor(a["y"], dtype=torch.int64),
        x_val=None, y_val=None,
        x_test=torch.tensor(x_test, dtype=torch.float32), y_test=torch.tensor(a["y_test"], dtype=torch.int64),
        num_classes=10,
    )
