"""Graded tests of 10-local-attention: Luong et al. (2015) local-p attention around given
positions, with a padding mask, against the reference on random shapes."""
import torch

from nblib.exercises.ch10 import local_attention_ref, local_problem
from nblib.grading import assert_close, question

FORBIDDEN = {"10-local-attention": ["nblib", "scaled_dot_product_attention", "getattr", "eval",
                                    "exec", "__import__"]}


def _sizes(rng):
    return [int(torch.randint(lo, hi, (), generator=rng)) for lo, hi in ((1, 6), (2, 15), (1, 6), (1, 5))]


@question("10-local-attention", points=2)
def test_matches_the_reference_on_random_shapes(student, reference, rng):
    for _ in range(3):
        B, S, d, D = _sizes(rng)
        args = local_problem(rng, B, S, d, D)
        context, weights = student.local_attention(*args)
        ref_c, ref_w = local_attention_ref(*args)
        assert_close(weights, ref_w, rtol=1e-10, atol=1e-12)
        assert_close(context, ref_c, rtol=1e-10, atol=1e-12)
        assert_close(list(student.local_attention(*args)), list(reference.local_attention(*args)),
                     rtol=1e-10, atol=1e-12)


@question("10-local-attention", points=1)
def test_zero_outside_the_window_and_stable_for_huge_scores(student, rng):
    B, S, d, D = _sizes(rng)
    args = local_problem(rng, B, S + 3, d, D, scale=500.0)
    context, weights = student.local_attention(*args)
    ref_c, ref_w = local_attention_ref(*args)
    q, keys, mask, pos, _ = args
    outside = ~(mask & ((torch.arange(S + 3)[None] - pos[:, None]).abs() <= D))
    assert (torch.as_tensor(weights)[outside] == 0).all(), "a weight outside the window or on padding is not 0"
    assert_close(weights, ref_w, rtol=1e-10, atol=1e-12)
    assert_close(context, ref_c, rtol=1e-10, atol=1e-12)
