"""Graded tests of 03-train-xor-anywhere: a classifier trained on XOR-like points generalises
to new points of the same pattern, for patterns drawn from the secret seed.

Each test draws 5 patterns (``nblib.exercises.ch03.xor_pattern``): two lines crossing at 60 to
120 degrees, up to 0.25 from the centre of the base square, opposite regions sharing a class
(which pair is class 1 is drawn), then a rotation drawn uniformly over the whole circle, a
stretch, a shear, a scale and a shift. ``train_xor`` is trained on each and must return int64
labels for 500 new points; the test needs the mean accuracy over the 5 patterns.

No rule written in advance passes: a fixed pair of lines through the data's centre (the
quadrant rule ``(z0 > 0) != (z1 > 0)`` or ``|z0| > |z1|``, with or without a majority vote on
``y`` for the class of each side) applied to the raw inputs, to inputs standardised with the
training mean and std (the shortcut of the old, near-diagonal patterns) or whitened, reaches the
threshold on one pattern in at most 7 % of patterns and has a mean accuracy of at most 77 %
(measured on 2,000 patterns per test); its mean over 5 patterns reached the threshold in at most
5 of 100,000 resampled draws. ``tests/grading/test_grade.py`` grades these rules on 50 seeds:
0 points each. The reference (a small MLP trained on ``x, y``) has a mean accuracy of 99.97 %
(200 points) and 99.8 % (100 noisier points) on 400 patterns, and its lowest mean over 5 of
them in 100,000 resampled draws is 98.9 % and 97.6 %.
"""
import numpy as np
import torch

from nblib.exercises.ch03 import XOR_NEW, XOR_PATTERNS, XOR_TESTS, xor_pattern, xor_points
from nblib.grading import question


def _accuracy(pred, y):
    if not isinstance(pred, torch.Tensor) or pred.dtype != torch.int64:
        raise AssertionError("train_xor must return the labels as an int64 tensor; got "
                             + (f"dtype {pred.dtype}" if isinstance(pred, torch.Tensor)
                                else type(pred).__name__))
    if tuple(pred.shape) != tuple(y.shape):
        raise AssertionError(f"train_xor must return one label per new point, shape {tuple(y.shape)}; "
                             f"got shape {tuple(pred.shape)}")
    return (pred == y).float().mean().item()


def _mean_accuracy(student, seed, test):
    n, noise, needed = XOR_TESTS[test]
    rng = np.random.default_rng(seed)
    accs = []
    for _ in range(XOR_PATTERNS):
        pattern = xor_pattern(rng)
        x, y = xor_points(n, pattern, rng, noise)
        x_new, y_new = xor_points(XOR_NEW, pattern, rng)
        accs.append(_accuracy(student.train_xor(x, y, x_new, int(rng.integers(1000))), y_new))
    mean = sum(accs) / len(accs)
    if mean < needed:
        raise AssertionError(f"trained on {n} points (noise {noise}), the mean accuracy on new points of "
                             f"{XOR_PATTERNS} patterns is {100 * mean:.1f} % (per pattern: "
                             f"{', '.join(f'{100 * a:.1f}' for a in accs)}); it needs at least "
                             f"{100 * needed:.0f} %")


@question("03-train-xor-anywhere", points=2)
def test_generalises_on_fresh_points(student, seed):
    _mean_accuracy(student, seed, "train")


@question("03-train-xor-anywhere", points=1)
def test_small_and_noisier_training_set(student, seed):
    _mean_accuracy(student, seed, "small")
