"""Graded tests of 03-train-xor-anywhere: a classifier trained on XOR-like points (rotated,
scaled and shifted at random per run) generalises to new points of the same distribution.

A hand-written rule such as ``(x0 > 0) != (x1 > 0)`` scores about 50 %: the shift puts all
four clusters in one quadrant. Standardising first and then applying the rule scores at most
about 92 % (the rotation puts the clusters within 11.25 degrees of the axes) and the class of
each diagonal is drawn per run, so only a model trained on ``x, y`` passes.
"""
import numpy as np
import torch

from nblib.exercises.ch03 import xor_anywhere
from nblib.grading import question


def _accuracy(pred, y):
    pred = torch.as_tensor(pred)
    if tuple(pred.shape) != tuple(y.shape):
        raise AssertionError(f"train_xor must return one label per new point, shape {tuple(y.shape)}; "
                             f"got shape {tuple(pred.shape)}")
    return (pred.long() == y).float().mean().item()


@question("03-train-xor-anywhere", points=2)
def test_generalises_on_fresh_points(student, seed):
    rng = np.random.default_rng(seed)
    x, y, transform = xor_anywhere(200, rng, 0.2)
    x_new, y_new, _ = xor_anywhere(500, rng, 0.2, transform)
    acc = _accuracy(student.train_xor(x, y, x_new, int(rng.integers(1000))), y_new)
    if acc < 0.97:
        raise AssertionError(f"accuracy on 500 new points is {100 * acc:.1f} %, needs at least 97 %")


@question("03-train-xor-anywhere", points=1)
def test_small_and_noisier_training_set(student, seed):
    rng = np.random.default_rng(seed + 1)
    x, y, transform = xor_anywhere(60, rng, 0.3)
    x_new, y_new, _ = xor_anywhere(500, rng, 0.2, transform)
    acc = _accuracy(student.train_xor(x, y, x_new, 0), y_new)
    if acc < 0.93:
        raise AssertionError(f"trained on 60 noisier points, accuracy on new points is {100 * acc:.1f} %, "
                             "needs at least 93 %")
