"""``Splits``: the train / validation / test tensors of one dataset, and where datasets are cached."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from nblib import validate
from nblib.data.loader import TensorBatches, make_loader

__all__ = ["Splits", "cache_dir"]


@dataclass(frozen=True)
class Splits:
    """Train / validation / test tensors of one dataset. ``x_val`` is ``None`` when absent."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor | None
    y_val: torch.Tensor | None
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int

    def loader(self, split: str, batch_size: int, shuffle: bool | None = None, seed: int = 0,
               drop_last: bool = False) -> TensorBatches:
        """Mini-batches of ``split`` ('train', 'val' or 'test'); shuffles only 'train' by default."""
        validate.choice("split", split, ("train", "val", "test"))
        x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
        if x is None:
            raise ValueError(f"{self.name} has no {split!r} split")
        return make_loader(x, y, batch_size, shuffle=split == "train" if shuffle is None else shuffle, seed=seed,
                           drop_last=drop_last)

    def __repr__(self) -> str:
        def shape(t):
            return "None" if t is None else "x".join(map(str, t.shape))

        return (f"Splits({self.name!r}, train={shape(self.x_train)}, val={shape(self.x_val)}, "
                f"test={shape(self.x_test)}, num_classes={self.num_classes})")


def cache_dir() -> Path:
    """``$NBLIB_CACHE``, else ``$XDG_CACHE_HOME/nblib``, else ``~/.cache/nblib``."""
    if os.environ.get("NBLIB_CACHE"):
        return Path(os.environ["NBLIB_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nblib"
