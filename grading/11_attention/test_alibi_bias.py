"""Graded tests of 11-alibi-bias: ALiBi's causal bias (Press et al. 2022), float32
(n_heads, T, T), bias[h, i, j] = -m_h (i - j) for j <= i and -inf above, m_h = 2^(-8(h+1)/H)."""
import torch
import torch.nn.functional as F

from nblib.grading import assert_close, question

FORBIDDEN = {"11-alibi-bias": ["nblib", "getattr", "eval", "exec", "__import__"]}


def _sizes(rng):
    n_heads = 2 ** int(torch.randint(0, 5, (), generator=rng))   # 1 .. 16
    T = int(torch.randint(1, 13, (), generator=rng))
    return n_heads, T


@question("11-alibi-bias", points=1)
def test_values_and_dtype_on_random_sizes(student, reference, rng):
    for _ in range(3):
        n_heads, T = _sizes(rng)
        got = student.alibi_bias(n_heads, T)
        assert_close(got, reference.alibi_bias(n_heads, T), rtol=1e-6, atol=1e-7,
                     check_dtype=True)


@question("11-alibi-bias", points=1)
def test_as_the_mask_of_attention(student, reference, rng):
    n_heads, T = _sizes(rng)
    T = max(T, 2)
    q, k, v = (torch.randn(2, n_heads, T, 8, generator=rng) for _ in range(3))
    got = F.scaled_dot_product_attention(q, k, v, attn_mask=student.alibi_bias(n_heads, T))
    want = F.scaled_dot_product_attention(q, k, v, attn_mask=reference.alibi_bias(n_heads, T))
    assert_close(got, want, rtol=1e-5, atol=1e-6)
