"""Graded tests of 02-numerical-jacobian: the Jacobian of the per-example binary cross-entropies
r(w) = BCE(X w, y), once by central differences (``numerical_jacobian``) and once exactly, from a
hand-derived formula (``bce_jacobian``); both (n, d), in w's dtype, w unchanged.

The tolerances (``JACOBIAN_TOLERANCES``, stated in the exercise) separate the methods: on 3,000
random problems of these sizes, central differences stay within 0.17 of the h = 1e-3 tolerance
while one-sided ones exceed it at least 4-fold, and ``(sigmoid(X w) - y) X`` stays within 0.04 of
the float64 tolerance of the exact Jacobian while central differences (steps 1e-5 and 6e-6, near
the best one) exceed it at least 5-fold, so a numerical Jacobian cannot pass as the exact one.
"""
import torch

from nblib.exercises.ch02 import JACOBIAN_TOLERANCES, exact_bce_jacobian
from nblib.grading import assert_close, assert_inputs_unchanged, question

FORBIDDEN = {"02-numerical-jacobian": [
    ".backward", "torch.autograd", ".grad", "torch.func", "functorch", "nblib",
    "getattr", "eval", "exec", "__import__"]}


def _problem(rng, dtype=torch.float64):
    n = int(torch.randint(3, 25, (), generator=rng))
    d = int(torch.randint(1, 7, (), generator=rng))
    X = torch.randn(n, d, dtype=torch.float64, generator=rng)
    w = torch.randn(d, dtype=torch.float64, generator=rng)
    y = torch.randint(0, 2, (n,), generator=rng).double()
    exact = exact_bce_jacobian(w, X, y)
    return w.to(dtype), X.to(dtype), y.to(dtype), exact.to(dtype)


@question("02-numerical-jacobian", points=1)
def test_numerical_matches_the_exact_jacobian(student, reference, rng):
    w, X, y, exact = _problem(rng)
    out = student.numerical_jacobian(w, X, y, 1e-5)
    assert_inputs_unchanged(student, (w, X, y, 1e-5), positions=(0,))  # stated: w unchanged
    rtol, atol = JACOBIAN_TOLERANCES["numerical, h = 1e-5"]
    assert_close(out, exact, rtol=rtol, atol=atol, check_dtype=True)


@question("02-numerical-jacobian", points=0.5)
def test_numerical_is_central(student, rng):
    w, X, y, exact = _problem(rng)
    rtol, atol = JACOBIAN_TOLERANCES["numerical, h = 1e-3"]
    assert_close(student.numerical_jacobian(w, X, y, 1e-3), exact, rtol=rtol, atol=atol)


@question("02-numerical-jacobian", points=1)
def test_bce_jacobian_is_exact_in_float64(student, reference, rng):
    rtol, atol = JACOBIAN_TOLERANCES["exact, float64"]
    for _ in range(2):
        w, X, y, exact = _problem(rng)
        out = student.bce_jacobian(w, X, y)
        assert_inputs_unchanged(student, (w, X, y), positions=(0,))
        assert_close(out, exact, rtol=rtol, atol=atol, check_dtype=True)


@question("02-numerical-jacobian", points=0.5)
def test_bce_jacobian_in_float32(student, reference, rng):
    w, X, y, exact = _problem(rng, dtype=torch.float32)
    rtol, atol = JACOBIAN_TOLERANCES["exact, float32"]
    assert_close(student.bce_jacobian(w, X, y), exact, rtol=rtol, atol=atol, check_dtype=True)
