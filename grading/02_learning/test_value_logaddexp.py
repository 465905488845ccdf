"""Graded tests of 02-value-logaddexp: log(e^a + e^b) as one new operation of the Value
engine, its forward value and both local derivatives, stable for large |a|, |b|.

The grader cannot send a Value over the channel: ``logaddexp_forward_backward`` (given code
in the same cell) builds ``logaddexp(Value(a), Value(b))``, backpropagates ``upstream`` and
reports the result, both gradients and whether the result is one node whose parents are
exactly (a, b)."""
import torch

from nblib.exercises.ch02 import torch_logaddexp
from nblib.grading import assert_close, question

FORBIDDEN = {"02-value-logaddexp": [
    "torch", "np", "numpy", "scipy", ".logaddexp", ".logsumexp", ".softplus", ".sigmoid",
    "getattr", "eval", "exec", "compile", "__import__"]}


def _check(student, a, b, upstream):
    out, da, db, one_node = student.logaddexp_forward_backward(a, b, upstream)
    if one_node is not True:
        raise AssertionError("logaddexp must be one new operation whose parents are (a, b), "
                             "not a composition of Value.exp, + and Value.log")
    assert_close([out, da, db], list(torch_logaddexp(a, b, upstream)), rtol=1e-9, atol=1e-12)


@question("02-value-logaddexp", points=2)
def test_forward_and_both_derivatives_on_random_inputs(student, reference, rng):
    for _ in range(5):
        a, b = (3 * torch.randn(2, dtype=torch.float64, generator=rng)).tolist()
        upstream = float(torch.randn((), dtype=torch.float64, generator=rng))
        _check(student, a, b, upstream)
    a = float(torch.randn((), dtype=torch.float64, generator=rng))
    _check(student, a, a, 1.0)              # a tie: each input gets half


@question("02-value-logaddexp", points=1)
def test_large_inputs_stay_finite(student, reference, rng):
    for sign in (1.0, -1.0):
        a, b = (sign * 900 + torch.randn(2, dtype=torch.float64, generator=rng)).tolist()
        upstream = float(torch.randn((), dtype=torch.float64, generator=rng))
        _check(student, a, b, upstream)
