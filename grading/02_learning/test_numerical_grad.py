"""Graded tests of 02-numerical-grad: central differences of a mean squared error."""
import torch

from nblib.grading import assert_close, question

FORBIDDEN = {"02-numerical-grad": [".backward", "torch.autograd", ".grad", "torch.func", "functorch",
                                   "nblib", "getattr", "eval", "exec", "__import__"]}


def _problem(rng):
    n, d = int(torch.randint(5, 30, (), generator=rng)), int(torch.randint(1, 7, (), generator=rng))
    X = torch.randn(n, d, dtype=torch.float64, generator=rng)
    y = torch.randn(n, dtype=torch.float64, generator=rng)
    w = torch.randn(d, dtype=torch.float64, generator=rng)
    return w, X, y, 2 * X.T @ (X @ w - y) / n


@question("02-numerical-grad", points=1)
def test_matches_reference_and_analytic(student, reference, rng):
    w, X, y, analytic = _problem(rng)
    out = student.numerical_grad_mse(w, X, y, 1e-6)
    assert_close(out, reference.numerical_grad_mse(w, X, y, 1e-6), rtol=1e-5, atol=1e-7)
    assert_close(out, analytic, rtol=1e-5, atol=1e-7)


@question("02-numerical-grad", points=1)
def test_central_not_one_sided(student, reference, rng):
    # L is quadratic: central differences are exact for any eps, one-sided ones are off by O(eps)
    w, X, y, analytic = _problem(rng)
    eps = float(0.1 + torch.rand((), generator=rng))
    assert_close(student.numerical_grad_mse(w, X, y, eps), analytic, rtol=1e-8, atol=1e-8)
