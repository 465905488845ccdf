"""Deterministic mini-batches of in-memory tensors (a fast ``DataLoader`` for small data)."""
from __future__ import annotations

import torch

from nblib import validate

__all__ = ["TensorBatches", "make_loader"]


class TensorBatches:
    """Mini-batches ``(x[idx], y[idx])`` of in-memory tensors, one indexing operation per batch.

    Yields what ``DataLoader(TensorDataset(x, y), batch_size, shuffle)`` yields, without its
    per-sample collation, which costs more than a whole training step of a small model. With
    ``shuffle``, each pass draws a new permutation from a generator seeded with ``seed``, so the
    order of batches depends only on the seed. ``drop_last`` drops a final, smaller batch.
    ``.to(device)`` moves the data once, instead of every batch at every step.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False):
        validate.tensor("x", x)
        validate.tensor("y", y)
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"x and y must have the same first dimension, got x {tuple(x.shape)} and y {tuple(y.shape)}")
        validate.positive_int("batch_size", batch_size)
        if drop_last and batch_size > x.shape[0]:
            raise ValueError(f"batch_size {batch_size} is larger than the {x.shape[0]} examples, and drop_last "
                             "would leave no batch")
        self.x, self.y, self.batch_size = x, y, batch_size
        self.shuffle, self.seed, self.drop_last = shuffle, seed, drop_last
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n = self.x.shape[0]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = self.x.shape[0]
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        order = order.to(self.x.device)
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]  # (B,)
            yield self.x[idx], self.y[idx]

    def to(self, device) -> "TensorBatches":
        """The same batches, with the data on ``device`` (a new object with a fresh generator)."""
        return TensorBatches(self.x.to(device), self.y.to(device), self.batch_size, self.shuffle, self.seed,
                             self.drop_last)

    def __repr__(self) -> str:
        return (f"TensorBatches(x={tuple(self.x.shape)}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"seed={self.seed}, drop_last={self.drop_last})")


def make_loader(x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool = True, seed: int = 0,
                drop_last: bool = False) -> TensorBatches:
    """Mini-batches over ``(x, y)`` whose shuffling depends only on ``seed`` (see ``TensorBatches``)."""
    return TensorBatches(x, y, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)
