"""Graded tests of 12-rotary: RoPE (Su et al. 2021), each pair (2i, 2i+1) of x (..., T, d)
turned by (offset + t) * base ** (-2i / d), against the formula written one pair at a time, on
shapes, offsets and bases drawn from the grader's seed; dtype kept; inputs unchanged; the score
of a rotated query and key depends on their offset only. Returning x unchanged scores 0."""
import torch

from nblib.exercises.ch12 import rotary_reference
from nblib.grading import assert_close, assert_inputs_unchanged, question

FORBIDDEN = {"12-rotary": ["nblib", "getattr", "eval", "exec", "__import__"]}


def _problem(rng, T=None, d=None):
    ndim = int(torch.randint(0, 3, (), generator=rng))
    lead = [int(torch.randint(1, 4, (), generator=rng)) for _ in range(ndim)]
    T = T or int(torch.randint(1, 9, (), generator=rng))
    d = d or 2 * int(torch.randint(1, 7, (), generator=rng))
    x = torch.randn(*lead, T, d, dtype=torch.float64, generator=rng)
    offset = int(torch.randint(0, 40, (), generator=rng))
    return x, offset


@question("12-rotary", points=2)
def test_equals_the_formula_on_random_shapes_and_offsets(student, reference, rng):
    for T, d in ((None, None), (None, None), (1, None), (None, 2)):
        x, offset = _problem(rng, T, d)
        base = [100.0, 10000.0][int(torch.randint(0, 2, (), generator=rng))]
        got = student.rotary(x, offset, base)
        assert_inputs_unchanged(student, (x, offset, base))
        assert_close(got, rotary_reference(x, offset, base), rtol=1e-7, atol=1e-9,
                     check_dtype=True)
        assert_close(got, reference.rotary(x, offset, base), rtol=1e-7, atol=1e-9)


@question("12-rotary", points=1)
def test_float32_and_relative_scores(student, rng):
    x, offset = _problem(rng)
    x32 = x.float()
    got = student.rotary(x32, offset)
    assert_close(got, rotary_reference(x32, offset).float(), rtol=1e-5, atol=1e-5,
                 check_dtype=True)
    d = 2 * int(torch.randint(2, 6, (), generator=rng))
    q, k = (torch.randn(1, d, dtype=torch.float64, generator=rng) for _ in range(2))
    gap = int(torch.randint(1, 10, (), generator=rng))
    scores = []
    for m in (gap, gap + int(torch.randint(5, 60, (), generator=rng))):
        scores.append((student.rotary(q, m) * student.rotary(k, m - gap)).sum().item())
    assert abs(scores[0] - scores[1]) < 1e-9 * (1 + abs(scores[0])), \
        f"the score changes with the absolute position: {scores}"
    assert_close(student.rotary(q, gap), rotary_reference(q, gap), rtol=1e-7, atol=1e-9)
