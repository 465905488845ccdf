"""Faces against non-faces: scikit-image's ``lfw_subset`` (shipped with the wheel, offline).

100 grey 25x25 face crops from Labeled Faces in the Wild (Huang, Ramesh, Berg &
Learned-Miller 2007) and 100 crops of the same size that are not faces. Chapter 06 uses it
as a small target task for transfer learning: a few labelled images per class.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from nblib import validate

__all__ = ["load_faces", "few_shot_split", "FACE_CLASSES"]

FACE_CLASSES = ("not a face", "face")


def load_faces() -> tuple[Tensor, Tensor]:
    """x (200, 1, 25, 25) float32 in [0, 1], y (200,) int64: 1 = face, 0 = not a face."""
    from skimage.data import lfw_subset

    images = np.asarray(lfw_subset(), dtype=np.float32)  # (200, 25, 25), faces first
    if images.shape != (200, 25, 25):
        raise ValueError(f"expected skimage's lfw_subset of shape (200, 25, 25), "
                         f"got {images.shape}")
    y = torch.cat([torch.ones(100, dtype=torch.int64), torch.zeros(100, dtype=torch.int64)])
    return torch.from_numpy(images)[:, None], y


def few_shot_split(y: Tensor, k: int, pool: int, seed: int) -> tuple[Tensor, Tensor]:
    """Indices (train, test): ``k`` labelled examples per class, drawn from a per-seed pool.

    For each class, a seeded permutation puts ``pool`` examples aside as the labelled pool
    (its first ``k`` are the training set) and the rest of the class into the test set, so
    for one seed every ``k`` shares one test set, and larger ``k`` add to smaller ones.
    """
    validate.tensor("y", y, ndim=1, floating=False)
    validate.positive_int("k", k)
    if k > pool:
        raise ValueError(f"k (labels per class) must be at most pool = {pool}, got {k}")
    g = torch.Generator().manual_seed(seed)
    train, test = [], []
    for c in torch.unique(y).tolist():
        members = torch.nonzero(y == c).flatten()
        if len(members) <= pool:
            raise ValueError(f"class {c} has {len(members)} examples; a pool of {pool} "
                             f"leaves none to test on")
        members = members[torch.randperm(len(members), generator=g)]
        train.append(members[:k])
        test.append(members[pool:])
    return torch.cat(train), torch.cat(test)
