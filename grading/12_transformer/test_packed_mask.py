"""Graded tests of 12-packed-mask: a (B, T, T) boolean mask, True where query i may attend to
key j (same sequence, j <= i; padding (segment 0) attends to itself only), on segment layouts
drawn from the grader's seed; used as the attn_mask of F.scaled_dot_product_attention each
packed sequence attends as if alone. A plain causal mask scores 0 (tests/grading shows it)."""
import torch
import torch.nn.functional as F

from nblib.exercises.ch12 import packed_mask_reference
from nblib.grading import assert_close, assert_inputs_unchanged, question

FORBIDDEN = {"12-packed-mask": ["nblib", "getattr", "eval", "exec", "__import__"]}


def _segments(rng, B=None, T=None):
    """Rows of contiguous sequences with random positive ids, then padding (0)."""
    B = B or int(torch.randint(1, 4, (), generator=rng))
    T = T or int(torch.randint(2, 13, (), generator=rng))
    rows, spans = [], []
    for _ in range(B):
        row, sp, t = [], [], 0
        ids = torch.randperm(20, generator=rng)[:T] + 1
        n = 0
        while t < T:
            if t > 0 and bool(torch.rand((), generator=rng) < 0.15):
                row += [0] * (T - t)                                  # padding to the end
                break
            length = min(T - t, int(torch.randint(1, 5, (), generator=rng)))
            row += [int(ids[n])] * length
            sp.append((t, t + length))
            t, n = t + length, n + 1
        rows.append(row)
        spans.append(sp)
    return torch.tensor(rows), spans


@question("12-packed-mask", points=1)
def test_exact_mask_on_random_layouts(student, reference, rng):
    for B, T in ((None, None), (None, None), (1, 1), (None, None)):
        seg, _ = _segments(rng, B, T)
        got = student.packed_causal_mask(seg)
        assert_inputs_unchanged(student, (seg,))
        assert_close(got, packed_mask_reference(seg), check_dtype=True)
        assert_close(got, reference.packed_causal_mask(seg))


@question("12-packed-mask", points=1)
def test_each_packed_sequence_attends_as_if_alone(student, rng):
    seg, spans = _segments(rng, B=2, T=12)
    mask = student.packed_causal_mask(seg)
    q, k, v = (torch.randn(2, 2, 12, 4, dtype=torch.float64, generator=rng) for _ in range(3))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None])
    for b in range(2):
        for a, e in spans[b]:
            alone = F.scaled_dot_product_attention(q[b:b + 1, :, a:e], k[b:b + 1, :, a:e],
                                                   v[b:b + 1, :, a:e], is_causal=True)
            assert_close(out[b:b + 1, :, a:e], alone, rtol=1e-7, atol=1e-9)
