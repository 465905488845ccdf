"""Graded tests of 11-attention-backward: (dq, dk, dv) of O = softmax(q k^T / sqrt(d)) v,
against autograd on random shapes, and stable when the scores are in the thousands."""
import torch

from nblib.exercises.ch11 import attention_autograd
from nblib.grading import assert_close, question

FORBIDDEN = {"11-attention-backward": [".backward", "torch.autograd", ".grad", "torch.func",
                                       "functorch", "nblib", "getattr", "eval", "exec",
                                       "__import__"]}


def _problem(rng, scale=1.0):
    B, T, S, d, dv = (int(torch.randint(1, 7, (), generator=rng)) for _ in range(5))
    q = torch.randn(B, T, d, dtype=torch.float64, generator=rng) * scale
    k = torch.randn(B, S, d, dtype=torch.float64, generator=rng) * scale
    v = torch.randn(B, S, dv, dtype=torch.float64, generator=rng)
    dout = torch.randn(B, T, dv, dtype=torch.float64, generator=rng)
    return q, k, v, dout


@question("11-attention-backward", points=2)
def test_matches_autograd_on_random_shapes(student, reference, rng):
    for _ in range(3):
        q, k, v, dout = _problem(rng)
        out = list(student.attention_backward(q, k, v, dout))
        assert_close(out, attention_autograd(q, k, v, dout), rtol=1e-7, atol=1e-9)
        assert_close(out, list(reference.attention_backward(q, k, v, dout)), rtol=1e-7,
                     atol=1e-9)


@question("11-attention-backward", points=1)
def test_stable_for_huge_scores(student, rng):
    q, k, v, dout = _problem(rng, scale=60.0)
    out = list(student.attention_backward(q, k, v, dout))
    assert all(torch.isfinite(t).all() for t in out), "a gradient is not finite"
    assert_close(out, attention_autograd(q, k, v, dout), rtol=1e-7, atol=1e-9)
