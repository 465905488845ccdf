"""Graded tests of 02-numerical-jacobian: central differences of the per-example squared
errors r(w) = (X w - y)^2, an (n, d) Jacobian, w unchanged, float64 kept."""
import torch

from nblib.grading import assert_close, assert_inputs_unchanged, question

FORBIDDEN = {"02-numerical-jacobian": [
    ".backward", "torch.autograd", ".grad", "torch.func", "functorch", "nblib",
    "getattr", "eval", "exec", "__import__"]}


def _problem(rng):
    n = int(torch.randint(3, 25, (), generator=rng))
    d = int(torch.randint(1, 7, (), generator=rng))
    X = torch.randn(n, d, dtype=torch.float64, generator=rng)
    y = torch.randn(n, dtype=torch.float64, generator=rng)
    w = torch.randn(d, dtype=torch.float64, generator=rng)
    return w, X, y, 2 * (X @ w - y)[:, None] * X


@question("02-numerical-jacobian", points=1)
def test_matches_reference_and_analytic(student, reference, rng):
    w, X, y, analytic = _problem(rng)
    out = student.numerical_jacobian(w, X, y, 1e-5)
    assert_inputs_unchanged(student, (w, X, y, 1e-5), positions=(0,))  # stated: w unchanged
    assert_close(out, reference.numerical_jacobian(w, X, y, 1e-5), rtol=1e-6, atol=1e-8,
                 check_dtype=True)
    assert_close(out, analytic, rtol=1e-6, atol=1e-8)


@question("02-numerical-jacobian", points=1)
def test_central_not_one_sided(student, reference, rng):
    # r is quadratic in w: central differences are exact for any h, one-sided ones are not
    w, X, y, analytic = _problem(rng)
    h = float(0.1 + torch.rand((), generator=rng))
    assert_close(student.numerical_jacobian(w, X, y, h), analytic, rtol=1e-8, atol=1e-8)
