"""Graded tests of 13-sliding-window-cache: multi-head self-attention of new positions against
a key/value cache, each position seeing itself and the window - 1 positions before it, the
returned caches holding the last min(S + t, window) positions. Fed chunk by chunk (sizes drawn
from the grader's seed), it must equal sliding-window causal attention over the whole sequence
(float64), leave its inputs unchanged and use no library attention (FORBIDDEN).

Returning the new positions' values unchanged, or plain causal attention without the window,
scores 0 on the first test (the window is shorter than the sequence there)."""
import math

import torch

from nblib.exercises.ch13 import run_in_chunks, windowed_attention_ref
from nblib.grading import assert_close, question
from nblib.grading.api import assert_inputs_unchanged

FORBIDDEN = {"13-sliding-window-cache": [
    "scaled_dot_product_attention", ".scaled_dot_product_attention", "MultiheadAttention",
    "multi_head_attention_forward", "nblib", "getattr", "eval", "exec", "__import__"]}


def _problem(rng, window=None):
    B = int(torch.randint(1, 4, (), generator=rng))
    n_head = int(torch.randint(1, 4, (), generator=rng))
    hs = int(torch.randint(1, 5, (), generator=rng))
    T = int(torch.randint(4, 14, (), generator=rng))
    C = n_head * hs
    window = window or int(torch.randint(1, T, (), generator=rng))   # shorter than T
    chunks, left = [], T
    while left:
        chunks.append(min(left, int(torch.randint(1, 5, (), generator=rng))))
        left -= chunks[-1]
    x = torch.randn(B, T, C, dtype=torch.float64, generator=rng)
    w = torch.randn(3 * C, C, dtype=torch.float64, generator=rng) / math.sqrt(C)
    return x, w, n_head, window, tuple(chunks)


def _cache_shapes(B, n_head, hs, window, chunks):
    seen, shapes = 0, []
    for n in chunks:
        seen += n
        shape = (B, n_head, min(seen, window), hs)
        shapes.append((shape, shape))
    return shapes


@question("13-sliding-window-cache", points=2)
def test_chunk_by_chunk_equals_sliding_window_attention(student, reference, rng):
    for _ in range(3):
        x, w, n_head, window, chunks = _problem(rng)
        got, lengths, _ = run_in_chunks(student.windowed_cached_attention, x, w, n_head, window,
                                        chunks)
        assert_close(got, windowed_attention_ref(x, w, n_head, window), rtol=1e-10, atol=1e-12)
        want, _, _ = run_in_chunks(reference.windowed_cached_attention, x, w, n_head, window,
                                   chunks)
        assert_close(got, want, rtol=1e-10, atol=1e-12)
        B, _, C = x.shape
        assert lengths == _cache_shapes(B, n_head, C // n_head, window, chunks), (
            f"cache shapes after each chunk {lengths}, expected "
            f"{_cache_shapes(B, n_head, C // n_head, window, chunks)} (the last min(S + t, "
            f"window) positions)")


@question("13-sliding-window-cache", points=1)
def test_a_long_window_is_causal_attention_and_inputs_stay(student, reference, rng):
    x, w, n_head, _, chunks = _problem(rng, window=50)
    got, _, _ = run_in_chunks(student.windowed_cached_attention, x, w, n_head, 50, chunks)
    assert_close(got, windowed_attention_ref(x, w, n_head, x.shape[1]), rtol=1e-10, atol=1e-12)
    B, T, C = x.shape
    hs = C // n_head
    k = torch.randn(B, n_head, 3, hs, dtype=torch.float64, generator=rng)
    v = torch.randn(B, n_head, 3, hs, dtype=torch.float64, generator=rng)
    args = (x[:, :2].clone(), w, k, v, n_head, 2)
    y, k2, v2 = student.windowed_cached_attention(*args)
    assert_inputs_unchanged(student, args)
    assert tuple(torch.as_tensor(k2).shape) == (B, n_head, 2, hs)
    assert_close([y, k2, v2], list(reference.windowed_cached_attention(*args)), rtol=1e-10,
                 atol=1e-12)
