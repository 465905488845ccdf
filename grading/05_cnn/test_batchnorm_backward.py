"""Graded tests of 05-batchnorm-backward: the hand-derived backward pass of batch norm in
training mode, against autograd, on random shapes; float32 keeps its dtype."""
import torch

from nblib.exercises.ch05 import bn_autograd
from nblib.grading import assert_close, question

FORBIDDEN = {"05-batchnorm-backward": [".backward", "torch.autograd", ".grad", "torch.func", "functorch",
                                       ".batch_norm", "torch.nn.functional.batch_norm", "torch.batch_norm", ".BatchNorm1d", ".BatchNorm2d", "nblib", "getattr", "eval", "exec",
                                       "__import__"]}


def _problem(rng, dtype=torch.float64):
    n, c, h, w = (int(torch.randint(lo, hi, (), generator=rng)) for lo, hi in ((2, 7), (1, 6), (1, 5), (1, 5)))
    x = torch.randn(n, c, h, w, dtype=dtype, generator=rng) * 3 + torch.randn((), generator=rng).item()
    gamma = torch.randn(c, dtype=dtype, generator=rng)
    dy = torch.randn(n, c, h, w, dtype=dtype, generator=rng)
    eps = 10.0 ** int(torch.randint(-5, -1, (), generator=rng))
    return x, gamma, dy, eps


@question("05-batchnorm-backward", points=2)
def test_matches_autograd_on_random_shapes(student, reference, rng):
    for _ in range(3):
        x, gamma, dy, eps = _problem(rng)
        out = student.batchnorm_backward(x, gamma, dy, eps)
        assert_close(list(out), bn_autograd(x, gamma, dy, eps), rtol=1e-7, atol=1e-9)
        assert_close(list(out), list(reference.batchnorm_backward(x, gamma, dy, eps)), rtol=1e-7, atol=1e-9)


@question("05-batchnorm-backward", points=1)
def test_float32_and_one_position_per_channel(student, rng):
    x = torch.randn(8, 3, 1, 1, generator=rng) * 2
    gamma, dy = torch.randn(3, generator=rng), torch.randn(8, 3, 1, 1, generator=rng)
    out = student.batchnorm_backward(x, gamma, dy, 1e-5)
    assert_close(list(out), bn_autograd(x, gamma, dy, 1e-5), rtol=1e-3, atol=1e-4, check_dtype=True)
