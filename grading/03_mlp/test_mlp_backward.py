"""Graded tests of 03-mlp-backward: all four gradients of the mean cross-entropy of a
2-layer tanh MLP, against autograd, on random shapes, and stable for huge logits."""
import math

import torch

from nblib.exercises.ch03 import mlp_autograd
from nblib.grading import assert_close, assert_inputs_unchanged, question

FORBIDDEN = {"03-mlp-backward": [".backward", "torch.autograd", ".grad", "torch.func", "functorch",
                                 "nblib", "getattr", "eval", "exec", "__import__"]}


def _problem(rng, scale=1.0):
    n, d, h, c = (int(torch.randint(lo, hi, (), generator=rng)) for lo, hi in ((1, 20), (1, 8), (1, 12), (2, 8)))
    X = torch.randn(n, d, dtype=torch.float64, generator=rng)
    y = torch.randint(0, c, (n,), generator=rng)
    params = [torch.randn(h, d, dtype=torch.float64, generator=rng) * scale / math.sqrt(d),
              torch.randn(h, dtype=torch.float64, generator=rng),
              torch.randn(c, h, dtype=torch.float64, generator=rng) * scale / math.sqrt(h),
              torch.randn(c, dtype=torch.float64, generator=rng)]
    return X, y, params


@question("03-mlp-backward", points=2)
def test_matches_autograd_on_random_shapes(student, reference, rng):
    for _ in range(3):
        X, y, params = _problem(rng)
        out = student.mlp_backward(X, y, *params)
        assert_inputs_unchanged(student, (X, y, *params),  # stated: parameters unchanged
                                positions=tuple(range(2, 2 + len(params))))
        assert_close(list(out), mlp_autograd(X, y, *params), rtol=1e-7, atol=1e-10)
        assert_close(list(out), list(reference.mlp_backward(X, y, *params)), rtol=1e-7, atol=1e-10)


@question("03-mlp-backward", points=1)
def test_stable_for_huge_logits(student, rng):
    X, y, params = _problem(rng, scale=1000.0)
    out = student.mlp_backward(X, y, *params)
    assert_close(list(out), mlp_autograd(X, y, *params), rtol=1e-7, atol=1e-10)
