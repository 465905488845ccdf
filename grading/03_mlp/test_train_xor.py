"""Graded tests of 03-train-xor: a classifier trained on XOR points generalises to new ones."""
import numpy as np
import torch

from nblib.grading import question


def _xor_points(n, rng, noise=0.2):
    centres = rng.choice([-1.0, 1.0], size=(n, 2))
    x = centres + noise * rng.standard_normal((n, 2))
    y = (centres[:, 0] != centres[:, 1]).astype(np.int64)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


def _accuracy(pred, y):
    pred = torch.as_tensor(pred)
    if tuple(pred.shape) != tuple(y.shape):
        raise AssertionError(f"train_xor must return one label per new point, shape {tuple(y.shape)}; "
                             f"got shape {tuple(pred.shape)}")
    return (pred.long() == y).float().mean().item()


@question("03-train-xor", points=2)
def test_generalises_on_fresh_points(student, seed):
    rng = np.random.default_rng(seed)
    x, y = _xor_points(200, rng)
    x_new, y_new = _xor_points(500, rng)
    acc = _accuracy(student.train_xor(x, y, x_new, int(rng.integers(1000))), y_new)
    if acc < 0.98:
        raise AssertionError(f"accuracy on 500 new XOR points is {100 * acc:.1f} %, needs at least 98 %")


@question("03-train-xor", points=1)
def test_small_and_noisier_training_set(student, seed):
    rng = np.random.default_rng(seed + 1)
    x, y = _xor_points(60, rng, noise=0.3)
    x_new, y_new = _xor_points(500, rng, noise=0.2)
    acc = _accuracy(student.train_xor(x, y, x_new, 0), y_new)
    if acc < 0.95:
        raise AssertionError(f"trained on 60 noisier points, accuracy on new points is {100 * acc:.1f} %, "
                             "needs at least 95 %")
