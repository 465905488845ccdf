"""Experiment recipes: the published training protocols the chapters reproduce, kept apart from
the model definitions in :mod:`nblib.nn` (a model does not know how a paper trained it).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nblib.data import make_loader
from nblib.train import evaluate, fit

__all__ = ["train_mnist1d_baseline", "fit_full_batch", "adam"]


def adam(params, lr: float) -> torch.optim.Adam:
    """``torch.optim.Adam`` with its fused kernel where this torch has one (CPU since 2.4).

    The same algorithm (Kingma & Ba 2015) in one update for all parameters at once,
    instead of a loop of small ones: for the book's small models a whole training step
    is faster on a CPU (chapter 03 times it: 1.4 times faster for its MLP). The result
    agrees with the default implementation up to floating-point rounding.
    """
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):  # an old torch, or a device without it
        return torch.optim.Adam(params, lr=lr)


def train_mnist1d_baseline(model: nn.Module, splits, *, steps: int = 6000,
                           batch_size: int = 100, lr: float = 1e-2,
                           seed: int = 0, device=None):
    """Train ``model`` with the published MNIST-1D settings (Greydanus & Kobak
    2020: Adam, lr 1e-2, batch 100, 6000 steps, no schedule, no weight decay)
    and return ``(test accuracy in %, History)``.

    Uses ``nblib.train.fit``; the final model is evaluated once on the test
    set (no model selection on it).
    """
    device = _device_of(model, device)
    model.to(device)
    batches = make_loader(splits.x_train, splits.y_train, batch_size, seed=seed,
                          drop_last=True).to(device)
    optimizer = adam(model.parameters(), lr)
    history = fit(model, batches, loss_fn=F.cross_entropy, optimizer=optimizer,
                  steps=steps, eval_every=max(1, steps // 24), progress=False)
    test = [(splits.x_test.to(device), splits.y_test.to(device))]   # one batch
    return 100 * evaluate(model, test, F.cross_entropy)["acc"], history


def _device_of(model: nn.Module, device=None) -> torch.device:
    """``device`` if given, else the device of the model's parameters."""
    return torch.device(device) if device is not None else next(model.parameters()).device


def fit_full_batch(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, *, lr: float = 1e-2,
                   loss_fn=F.cross_entropy, device=None):
    """Adam on the whole data set at every step (small 2-D sets); returns ``fit``'s History.

    The model and the data go to ``device`` (default: the model's device) once, before training.
    """
    device = _device_of(model, device)
    model.to(device)
    batch = [(x.to(device), y.to(device))]  # a "loader" with one batch: the full data
    optimizer = adam(model.parameters(), lr)
    return fit(model, batch, loss_fn=loss_fn, optimizer=optimizer, steps=steps, eval_every=steps,
               progress=False)
