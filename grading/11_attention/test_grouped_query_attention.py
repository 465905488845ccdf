"""Graded tests of 11-grouped-query-attention: q (B, H, T, d) against G shared key/value heads
(B, G, S, d), query head h using group h // (H // G); causal or not; no copies of k and v per
query head and no library attention (FORBIDDEN)."""
import torch
import torch.nn.functional as F

from nblib.grading import assert_close, question

FORBIDDEN = {"11-grouped-query-attention": [
    ".repeat_interleave", "torch.repeat_interleave", ".repeat", ".tile", "torch.tile",
    "scaled_dot_product_attention", ".scaled_dot_product_attention", "nblib", "getattr",
    "eval", "exec", "__import__"]}


def _problem(rng, G=None, H=None):
    G = G or int(torch.randint(1, 4, (), generator=rng))
    H = H or G * int(torch.randint(1, 4, (), generator=rng))
    B, T, S, d, dv = (int(torch.randint(1, 6, (), generator=rng)) for _ in range(5))
    q = torch.randn(B, H, T, d, dtype=torch.float64, generator=rng)
    k = torch.randn(B, G, S, d, dtype=torch.float64, generator=rng)
    v = torch.randn(B, G, S, dv, dtype=torch.float64, generator=rng)
    return q, k, v


@question("11-grouped-query-attention", points=2)
def test_matches_the_definition_on_random_groups(student, reference, rng):
    for causal in (False, True, False, True):
        q, k, v = _problem(rng)
        got = student.grouped_query_attention(q, k, v, causal)
        want = F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
        assert_close(got, want, rtol=1e-7, atol=1e-9)
        assert_close(got, reference.grouped_query_attention(q, k, v, causal), rtol=1e-7,
                     atol=1e-9)


@question("11-grouped-query-attention", points=1)
def test_multi_query_and_ordinary_multi_head(student, rng):
    for G, H in ((1, 4), (3, 3)):
        q, k, v = _problem(rng, G=G, H=H)
        for causal in (False, True):
            got = student.grouped_query_attention(q, k, v, causal)
            want = F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
            assert_close(got, want, rtol=1e-7, atol=1e-9)
