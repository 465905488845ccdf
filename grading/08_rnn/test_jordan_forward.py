"""Graded tests of 08-jordan-forward: a Jordan network feeds its previous output back,
h_t = tanh(x_t W_xh^T + y_{t-1} W_yh^T + b_h), y_t = h_t W_hy^T + b_y, from y_0 = y0."""
import torch

from nblib.exercises.ch08 import jordan_reference
from nblib.grading import assert_close, question

FORBIDDEN = {"08-jordan-forward": ["nblib", "getattr", "eval", "exec", "__import__"]}


def _problem(rng, dtype=torch.float64):
    T, N, D, H, O = (int(torch.randint(lo, hi, (), generator=rng)) for lo, hi in
                     ((1, 12), (1, 5), (1, 5), (1, 8), (1, 4)))
    return [torch.randn(*s, dtype=dtype, generator=rng) for s in
            ((T, N, D), (N, O), (H, D), (H, O), (H,), (O, H), (O,))]


@question("08-jordan-forward", points=1)
def test_matches_the_recurrence_on_random_shapes(student, reference, rng):
    for _ in range(3):
        args = _problem(rng)
        ys = student.jordan_forward(*args)
        assert_close(ys, jordan_reference(*args), rtol=1e-9, atol=1e-12)
        assert_close(ys, reference.jordan_forward(*args), rtol=1e-9, atol=1e-12)


@question("08-jordan-forward", points=1)
def test_float32_stays_float32_and_the_feedback_matters(student, rng):
    args = _problem(rng, torch.float32)
    ys = student.jordan_forward(*args)
    assert ys.dtype == torch.float32, f"float32 inputs gave {ys.dtype} outputs"
    assert_close(ys, jordan_reference(*args), rtol=1e-4, atol=1e-5)
    # A large y0 must change the outputs through the feedback (an Elman net ignores it).
    args = _problem(rng)
    args[1] = args[1] * 10
    assert_close(student.jordan_forward(*args), jordan_reference(*args), rtol=1e-9, atol=1e-12)
