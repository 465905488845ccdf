"""Graded tests of 08-relu-bptt: BPTT for the ReLU RNN h_t = relu(x_t W_xh^T + h_{t-1} W_hh^T + b)
with a loss gradient at the last state only; (dW_xh, dW_hh, db, dh0) against autograd."""
import math

import torch

from nblib.exercises.ch08 import relu_bptt_autograd
from nblib.grading import assert_close, question

FORBIDDEN = {"08-relu-bptt": [".backward", "torch.autograd", ".grad", "torch.func", "functorch",
                              "nblib", "getattr", "eval", "exec", "__import__"]}


def _problem(rng, T=None):
    T = T or int(torch.randint(1, 15, (), generator=rng))
    N, D, H = (int(torch.randint(lo, hi, (), generator=rng)) for lo, hi in ((1, 5), (1, 5), (2, 9)))
    return [torch.randn(T, N, D, dtype=torch.float64, generator=rng),
            torch.randn(N, H, dtype=torch.float64, generator=rng),
            torch.randn(H, D, dtype=torch.float64, generator=rng),
            torch.randn(H, H, dtype=torch.float64, generator=rng) / math.sqrt(H),
            torch.randn(H, dtype=torch.float64, generator=rng) * 0.2,
            torch.randn(N, H, dtype=torch.float64, generator=rng)]


@question("08-relu-bptt", points=2)
def test_matches_autograd_on_random_shapes(student, reference, rng):
    for _ in range(3):
        args = _problem(rng)
        out = student.relu_bptt_last(*args)
        assert_close(list(out), relu_bptt_autograd(*args), rtol=1e-9, atol=1e-12)
        assert_close(list(out), list(reference.relu_bptt_last(*args)), rtol=1e-9, atol=1e-12)


@question("08-relu-bptt", points=1)
def test_one_step_and_long_sequences(student, rng):
    for T in (1, 30):
        args = _problem(rng, T)
        assert_close(list(student.relu_bptt_last(*args)), relu_bptt_autograd(*args),
                     rtol=1e-9, atol=1e-12)
