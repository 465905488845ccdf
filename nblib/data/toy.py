"""Toy 2-D classification sets, generated from a seed: XOR, moons, circles, spirals, blobs."""
from __future__ import annotations

import math

import numpy as np
import torch

from nblib import validate

__all__ = ["toy_2d", "TOY_DATASETS"]

TOY_DATASETS = ("xor", "moons", "circles", "spirals", "blobs")


def toy_2d(name: str, n: int = 400, noise: float = 0.1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A toy 2-D classification set: ``x`` (n, 2) float32, ``y`` (n,) int64.

    * ``xor``: four Gaussian clusters at (+-1, +-1), label = sign(x1) != sign(x2).
    * ``moons``, ``circles``: sklearn's generators (2 classes).
    * ``spirals``: two interleaved spirals (2 classes).
    * ``blobs``: two linearly separable Gaussian blobs (for the perceptron).
    """
    if name not in TOY_DATASETS:
        raise ValueError(f"unknown toy dataset {name!r}; expected one of {', '.join(TOY_DATASETS)}")
    validate.integer("n", n, ge=4)
    if not (isinstance(noise, (int, float)) and 0 <= noise):
        raise ValueError(f"noise must be a number >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    if name == "xor":
        centres = rng.choice([-1.0, 1.0], size=(n, 2))
        x = centres + noise * rng.standard_normal((n, 2))
        y = (centres[:, 0] != centres[:, 1]).astype(np.int64)
    elif name == "spirals":
        k = np.arange(n) % 2
        r = np.sqrt(rng.uniform(0.0, 1.0, n))  # uniform density along the arms
        theta = 3.5 * math.pi * r + k * math.pi
        x = np.stack([r * np.cos(theta), r * np.sin(theta)], 1) + noise * rng.standard_normal((n, 2))
        y = k.astype(np.int64)
    else:
        from sklearn import datasets

        state = int(rng.integers(2**31))
        if name == "moons":
            x, y = datasets.make_moons(n, noise=noise, random_state=state)
        elif name == "circles":
            x, y = datasets.make_circles(n, noise=noise, factor=0.5, random_state=state)
        else:
            x, y = datasets.make_blobs(n, centers=[(-1.5, -1.0), (1.5, 1.0)], cluster_std=0.5 + noise,
                                       random_state=state)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)
