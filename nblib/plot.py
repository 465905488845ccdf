"""Plots in one consistent style: learning curves, decision boundaries, image grids, heatmaps.

Every function draws on an ``ax`` you pass (or a new figure), labels its axes, and returns the
``Axes`` so a chapter can add to it. ``use_style()`` applies the book's matplotlib style to a
chapter's own plots too.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from nblib import validate

__all__ = ["STYLE", "use_style", "learning_curves", "decision_boundary", "image_grid", "heatmap", "new_axes"]

STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "legend.frameon": False,
    "font.size": 10,
    "image.cmap": "viridis",
    "axes.prop_cycle": plt.cycler(color=["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00",
                                         "#56B4E9", "#F0E442", "#000000"]),  # Okabe-Ito: colour-blind safe
}


def use_style() -> None:
    """Apply the book's style to every following matplotlib plot."""
    plt.rcParams.update(STYLE)


def new_axes(ax=None, figsize=None):
    """``ax`` if given, else the axes of a new figure."""
    if ax is not None:
        return ax
    with plt.rc_context(STYLE):
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _np(a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def learning_curves(history, keys: Sequence[str] | None = None, ax=None, title: str = "Learning curves",
                    xlabel: str = "optimizer step", logy: bool = False):
    """Plot metrics of an ``nblib.train.History`` (default: every loss) against the step."""
    keys = [k for k in history.metrics if "loss" in k] if keys is None else list(keys)
    missing = [k for k in keys if k not in history]
    if missing:
        raise KeyError(f"history has no {missing}; recorded: {', '.join(history.metrics)}")
    ax = new_axes(ax)
    with plt.rc_context(STYLE):
        for key in keys:
            ax.plot(history.step, history[key], label=key.replace("_", " "), marker="." if len(history.step) < 40 else None)
        ax.set(xlabel=xlabel, ylabel="value", title=title)
        if logy:
            ax.set_yscale("log")
        ax.legend()
    return ax


def decision_boundary(predict: Callable | torch.nn.Module, x, y, ax=None, title: str = "Decision boundary",
                      resolution: int = 200, margin: float = 0.5):
    """Shade the class ``predict`` assigns over the plane and scatter the points ``x`` (n, 2), ``y`` (n,).

    ``predict`` maps a float32 tensor (m, 2) to logits (m, C), one score per point (m,) or (m, 1)
    (thresholded at 0), or class labels (m,).
    """
    x = validate.array("decision_boundary: the 2-D points x", _np(x), shape=("n", 2))
    y = validate.array("y (one label per point of x)", _np(y), shape=(len(x),))
    (x0, y0), (x1, y1) = x.min(0) - margin, x.max(0) + margin
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    grid = torch.tensor(np.c_[gx.ravel(), gy.ravel()], dtype=torch.float32)
    if isinstance(predict, torch.nn.Module):
        param = next(predict.parameters(), None)
        if param is not None:
            grid = grid.to(param.device)
        was_training = predict.training
        predict.eval()
    try:
        with torch.no_grad():
            out = predict(grid)
    finally:  # also after an error: a model left in eval mode would train without dropout
        if isinstance(predict, torch.nn.Module):
            predict.train(was_training)
    out = _np(out)
    if out.ndim == 2 and out.shape[1] > 1:
        labels = out.argmax(1)
    else:
        out = out.reshape(-1)
        labels = (out > 0).astype(int) if out.dtype.kind == "f" else out
    ax = new_axes(ax)
    with plt.rc_context(STYLE):
        classes = np.unique(np.concatenate([np.unique(y), np.unique(labels)]))
        ax.contourf(gx, gy, labels.reshape(gx.shape), levels=np.arange(classes.min(), classes.max() + 2) - 0.5,
                    cmap="coolwarm", alpha=0.25)
        ax.scatter(x[:, 0], x[:, 1], c=y, cmap="coolwarm", s=12, edgecolors="k", linewidths=0.3)
        ax.set(xlabel="$x_1$", ylabel="$x_2$", title=title, xlim=(x0, x1), ylim=(y0, y1))
        ax.grid(False)
    return ax


def image_grid(images, labels=None, preds=None, ncols: int = 8, title: str | None = None, cmap: str = "gray",
               size: float = 1.2):
    """Show images (n, H, W) or (n, 1, H, W) in a grid; titles show label (and prediction, red if wrong)."""
    images = _np(images)
    if images.ndim == 4 and images.shape[1] in (1, 3):
        images = images[:, 0] if images.shape[1] == 1 else images.transpose(0, 2, 3, 1)
    if images.ndim not in (3, 4):
        raise ValueError(f"image_grid expects (n, H, W), (n, 1, H, W) or (n, 3, H, W), got {images.shape}")
    n = len(images)
    for name, arr in (("labels", labels), ("preds", preds)):
        if arr is not None and len(arr) != n:
            raise ValueError(f"{name} must have one entry per image ({n}), got {len(arr)}")
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if title else 0)),
                                 squeeze=False)
        for i, ax in enumerate(axes.flat):
            ax.axis("off")
            if i >= n:
                continue
            ax.imshow(images[i], cmap=cmap)
            if labels is not None:
                text, colour = f"{labels[i]}", "black"
                if preds is not None:
                    text += f" / {preds[i]}"
                    colour = "black" if preds[i] == labels[i] else "red"
                ax.set_title(text, fontsize=9, color=colour, fontweight="normal")
        if title:
            fig.suptitle(title, fontweight="bold")
        fig.tight_layout()
    return axes


def heatmap(matrix, xlabels=None, ylabels=None, ax=None, title: str = "", xlabel: str = "", ylabel: str = "",
            annotate: bool | None = None, fmt: str = ".2g", cmap: str = "viridis", colorbar: bool = True):
    """Heatmap of a 2-D array (confusion matrices, weights, attention), optionally annotated."""
    m = validate.array("heatmap: the 2-D matrix", _np(matrix), shape=("rows", "columns"))
    for name, labels, size in (("xlabels", xlabels, m.shape[1]), ("ylabels", ylabels, m.shape[0])):
        if labels is not None and len(labels) != size:
            raise ValueError(f"{name} needs {size} entries for a matrix of shape {m.shape}, got {len(labels)}")
    annotate = m.size <= 144 if annotate is None else annotate
    ax = new_axes(ax)
    with plt.rc_context(STYLE):
        im = ax.imshow(m, cmap=cmap, aspect="auto")
        if colorbar:
            ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        ax.set_xticks(range(m.shape[1]), xlabels if xlabels is not None else range(m.shape[1]))
        ax.set_yticks(range(m.shape[0]), ylabels if ylabels is not None else range(m.shape[0]))
        ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
        ax.grid(False)
        if annotate:
            mid = (np.nanmax(m) + np.nanmin(m)) / 2
            for (i, j), v in np.ndenumerate(m):
                ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize=8,
                        color="white" if v < mid else "black")
    return ax
