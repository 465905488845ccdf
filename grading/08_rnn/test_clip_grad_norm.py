"""Graded tests of 08-clip-grad-norm: torch.nn.utils.clip_grad_norm_ without torch's helper:
the total norm of all gradients together (2-norm or max-norm), and every gradient scaled by
max_norm / (total + 1e-6) when that is below 1, unchanged otherwise."""
import math

import torch

from nblib.exercises.ch08 import clip_reference
from nblib.grading import assert_close, question

FORBIDDEN = {"08-clip-grad-norm": ["torch.nn.utils", ".clip_grad_norm_", "nblib", "getattr",
                                   "eval", "exec", "__import__"]}


def _grads(rng):
    k = int(torch.randint(1, 5, (), generator=rng))
    shapes = [tuple(int(s) for s in torch.randint(1, 6, (int(torch.randint(1, 3, (), generator=rng)),),
                                                  generator=rng)) for _ in range(k)]
    scale = float(torch.rand((), generator=rng)) * 10
    return [torch.randn(*s, dtype=torch.float64, generator=rng) * scale for s in shapes]


def _check(student, grads, max_norm, norm_type):
    clipped, total = student.clip_grad_norm(grads, max_norm, norm_type)
    want, want_total = clip_reference(grads, max_norm, norm_type)
    assert_close(float(total), want_total, rtol=1e-9)
    assert_close(list(clipped), want, rtol=1e-5, atol=1e-12)


@question("08-clip-grad-norm", points=1)
def test_two_norm_above_and_below_max(student, rng):
    for _ in range(3):
        grads = _grads(rng)
        total = math.sqrt(sum(float((g ** 2).sum()) for g in grads))
        for max_norm in (total * float(torch.rand((), generator=rng)) + 1e-3, total * 2 + 1):
            _check(student, grads, max_norm, 2.0)


@question("08-clip-grad-norm", points=1)
def test_max_norm_type_inf(student, rng):
    for _ in range(3):
        grads = _grads(rng)
        top = max(float(g.abs().max()) for g in grads)
        for max_norm in (top * 0.3 + 1e-3, top * 3 + 1):
            _check(student, grads, max_norm, math.inf)
