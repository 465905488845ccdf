"""Public checks of chapter 13, language models and a pretrained transformer (registered on
import), and the references the graded tests share."""
import math

import torch
import torch.nn.functional as F

from nblib.exercises.ch11 import names_used
from nblib.exercises.expect import expect_close, expect_shape, expect_true
from nblib.exercises.registry import public_check

__all__ = ["windowed_attention_ref", "run_in_chunks", "empty_cache", "pooled_embedding",
           "pooled_embedding_grad", "ngram_bits_ref", "markov_text"]


# --- 13-sliding-window-cache -----------------------------------------------------------------
def windowed_attention_ref(x, w_qkv, n_head, window):
    """Sliding-window causal self-attention of a whole sequence x (B, T, C), no bias and no
    output projection: position p attends to positions p - window + 1 .. p. (B, T, C)."""
    B, T, C = x.shape
    hs = C // n_head
    q, k, v = (F.linear(x, w).view(B, T, n_head, hs).transpose(1, 2)
               for w in w_qkv.split(C))                                    # (B, nh, T, hs)
    p = torch.arange(T)
    allowed = (p[None, :] <= p[:, None]) & (p[None, :] > p[:, None] - window)  # (T, T)
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)         # (B, nh, T, hs)
    return y.transpose(1, 2).reshape(B, T, C)


def empty_cache(B, n_head, hs, dtype=torch.float64):
    """An empty key (or value) cache: (B, n_head, 0, hs)."""
    return torch.zeros(B, n_head, 0, hs, dtype=dtype)


def run_in_chunks(fn, x, w_qkv, n_head, window, chunks):
    """Feed x (B, T, C) to fn chunk by chunk, carrying the caches it returns: the outputs
    concatenated (B, T, C), and the cache lengths after each chunk."""
    B, T, C = x.shape
    k_cache = v_cache = empty_cache(B, n_head, C // n_head, x.dtype)
    outs, lengths, start = [], [], 0
    for n in chunks:
        y, k_cache, v_cache = fn(x[:, start:start + n], w_qkv, k_cache, v_cache, n_head, window)
        outs.append(torch.as_tensor(y))
        k_cache, v_cache = torch.as_tensor(k_cache), torch.as_tensor(v_cache)
        lengths.append((tuple(k_cache.shape), tuple(v_cache.shape)))
        start += n
    return torch.cat(outs, dim=1), lengths, (k_cache, v_cache)


IN_PLACE = ("an operation ending in _ (such as mul_ or masked_fill_), or an assignment into "
            "a slice, changed an input",
            "compute new tensors from the inputs instead of modifying them")

SWA_FORBIDDEN = {"scaled_dot_product_attention", "MultiheadAttention",
                 "multi_head_attention_forward"}


@public_check("13-sliding-window-cache")
def _(windowed_cached_attention):
    hints = ("the keys and values a new query may see are the cached ones followed by the new "
             "ones; in that joint list, each new query sees itself and at most window - 1 "
             "positions before it, never a later one",
             "concatenate along the time dimension, then build a boolean (t, S + t) mask from "
             "the positions of the queries and of the keys in the joint list (two aranges); "
             "the returned caches keep only the last window positions of the joint list")
    used = names_used(windowed_cached_attention) & SWA_FORBIDDEN
    expect_true(not used, f"no library attention (the code uses {sorted(used)})",
                hint=("write the scores, the mask, the softmax and the weighted sum yourself",
                      "chapter 11's five steps: scores q k^T, scaled, masked, softmax, "
                      "weighted sum of the values"))
    g = torch.Generator().manual_seed(13)
    for B, T, C, nh, window, chunks in ((1, 6, 4, 1, 3, (1,) * 6), (2, 7, 6, 2, 2, (3, 1, 3)),
                                        (1, 5, 4, 2, 10, (5,)), (2, 9, 8, 4, 4, (6, 2, 1)),
                                        (1, 4, 2, 1, 1, (2, 2))):
        x = torch.randn(B, T, C, dtype=torch.float64, generator=g)
        w = torch.randn(3 * C, C, dtype=torch.float64, generator=g) / math.sqrt(C)
        case = f"(B={B}, T={T}, C={C}, n_head={nh}, window={window}, chunks={chunks})"
        k0 = empty_cache(B, nh, C // nh)
        y, kc, vc = windowed_cached_attention(x[:, :chunks[0]], w, k0, k0.clone(), nh, window)
        expect_shape(y, (B, chunks[0], C), what=f"the output of the first chunk {case}",
                     hint=("one output per new position, heads side by side: (B, t, C)",
                           hints[1]))
        keep = min(chunks[0], window)
        expect_shape(kc, (B, nh, keep, C // nh), what=f"the key cache after the first chunk "
                     f"{case}", hint=("the cache holds the last min(S + t, window) positions",
                                      hints[1]))
        copies = [t.clone() for t in (x, w)]
        got, lengths, _ = run_in_chunks(windowed_cached_attention, x, w, nh, window, chunks)
        expect_close(got, windowed_attention_ref(x, w, nh, window), rtol=1e-10, atol=1e-12,
                     what=f"the outputs fed chunk by chunk {case}",
                     hint=hints if window < T else (
                         "with a window longer than the sequence this is ordinary causal "
                         "attention over the cached and the new positions", hints[0]))
        seen = 0
        for n, (ks, vs) in zip(chunks, lengths):
            seen += n
            want = (B, nh, min(seen, window), C // nh)
            expect_true(ks == want and vs == want, f"caches of shape {want} after {seen} "
                        f"positions {case}, got {ks} and {vs}",
                        hint=("keep only the keys and values of the last window positions: "
                              "older ones are never attended to again", hints[1]))
        expect_true(all(torch.equal(a, b) for a, b in zip(copies, (x, w))),
                    "x and w_qkv to be left unchanged",
                    hint=IN_PLACE)
    k = torch.randn(1, 2, 3, 2, dtype=torch.float64, generator=g)
    v = torch.randn(1, 2, 3, 2, dtype=torch.float64, generator=g)
    x = torch.randn(1, 2, 4, dtype=torch.float64, generator=g)
    copies = [t.clone() for t in (x, k, v)]
    windowed_cached_attention(x, torch.randn(12, 4, dtype=torch.float64, generator=g), k, v, 2, 2)
    expect_true(all(torch.equal(a, b) for a, b in zip(copies, (x, k, v))),
                "x, k_cache and v_cache to be left unchanged",
                hint=("return new caches; do not write into the ones you were given",
                      "torch.cat and slicing make new tensors; in-place operations (ending "
                      "in _) or slice assignment change the caller's"))


# --- 13-pooling-backward ------------------------------------------------------------------------
def pooled_embedding(hidden, attention_mask):
    """Sentence-BERT's embedding: the mean over the real tokens, scaled to length 1. (B, C)."""
    m = attention_mask.to(hidden.dtype).unsqueeze(-1)                        # (B, T, 1)
    return F.normalize((hidden * m).sum(1) / m.sum(1), dim=-1)


def pooled_embedding_grad(hidden, attention_mask, grad_e):
    """Autograd's dL/dhidden of pooled_embedding for the upstream grad_e (B, C)."""
    h = hidden.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(pooled_embedding(h, attention_mask), h, grad_e)
    return g


def _pooling_problem(g, B, T, C, lengths=None, scale=1.0):
    hidden = torch.randn(B, T, C, dtype=torch.float64, generator=g) * scale
    if lengths is None:
        lengths = torch.randint(1, T + 1, (B,), generator=g)
    mask = (torch.arange(T)[None, :] < torch.as_tensor(lengths)[:, None]).long()
    grad_e = torch.randn(B, C, dtype=torch.float64, generator=g)
    return hidden, mask, grad_e


@public_check("13-pooling-backward")
def _(pooled_embedding_backward):
    hints = ("two steps back from e: first through the normalisation e = u / |u|, then "
             "through the masked mean u; differentiate |u| too, not only the division",
             "the normalisation's Jacobian is symmetric: it removes the component along e and "
             "scales by 1 / |u| (apply it to the upstream gradient without forming a C x C "
             "matrix); the mean then hands every real token an equal share and the padding "
             "nothing")
    forbidden = names_used(pooled_embedding_backward) & {"backward", "autograd", "grad", "func"}
    expect_true(not forbidden, f"no autograd (the code uses {sorted(forbidden)})",
                hint=("derive the gradient by hand: the chain rule through two small steps",
                      "write e as a function of u and u as a function of hidden, and "
                      "differentiate each step on paper first"))
    g = torch.Generator().manual_seed(31)
    for B, T, C, lengths, scale in ((1, 3, 2, [3], 1.0), (2, 5, 4, [5, 2], 1.0),
                                    (3, 4, 6, [1, 4, 2], 1.0), (2, 3, 5, [3, 1], 1e4),
                                    (1, 1, 3, [1], 1e-4)):
        hidden, mask, grad_e = _pooling_problem(g, B, T, C, lengths, scale)
        copies = [t.clone() for t in (hidden, mask, grad_e)]
        got = pooled_embedding_backward(hidden, mask, grad_e)
        size = "" if scale == 1 else f", hidden scaled by {scale:g}"
        case = f"(B={B}, T={T}, C={C}, lengths={lengths}{size})"
        expect_shape(got, (B, T, C), what=f"the gradient {case}",
                     hint=("the gradient has the shape of hidden", hints[0]))
        pad = ~mask.bool()
        expect_true(bool((torch.as_tensor(got)[pad] == 0).all()),
                    f"exactly zero gradient at the padding positions {case}",
                    hint=("padding tokens do not enter the mean", "multiply by the mask"))
        expect_close(got, pooled_embedding_grad(hidden, mask, grad_e), rtol=1e-7, atol=1e-12,
                     what=f"the gradient {case}",
                     hint=hints if scale == 1 else (
                         "the embedding does not change when hidden is scaled: its gradient "
                         "scales inversely; divide by |u| computed from the data", hints[1]))
        expect_true(all(torch.equal(a, b) for a, b in zip(copies, (hidden, mask, grad_e))),
                    "hidden, attention_mask and grad_e to be left unchanged",
                    hint=IN_PLACE)


# --- 13-ngram-bits ------------------------------------------------------------------------------
def ngram_bits_ref(train_ids, val_ids, n, k, vocab_size):
    """Bits per character of the add-k n-gram model counted on train_ids, scoring val_ids[n-1:]
    each given its n - 1 previous characters."""
    train_ids, val_ids = torch.as_tensor(train_ids).long(), torch.as_tensor(val_ids).long()
    V = vocab_size

    def codes(ids):  # the (context, next) pairs of a text as integers, base V
        T = len(ids) - n + 1
        ctx = torch.zeros(T, dtype=torch.int64)
        for j in range(n - 1):
            ctx = ctx * V + ids[j:j + T]
        return ctx, ids[n - 1:]

    ctx_tr, nxt_tr = codes(train_ids)
    ctx_va, nxt_va = codes(val_ids)
    pair_counts = {}
    for key in (ctx_tr * V + nxt_tr).tolist():
        pair_counts[key] = pair_counts.get(key, 0) + 1
    ctx_counts = {}
    for key in ctx_tr.tolist():
        ctx_counts[key] = ctx_counts.get(key, 0) + 1
    total = 0.0
    for c, x in zip(ctx_va.tolist(), nxt_va.tolist()):
        p = (pair_counts.get(c * V + x, 0) + k) / (ctx_counts.get(c, 0) + k * V)
        total -= math.log2(p)
    return total / len(nxt_va)


def markov_text(g, V, order, length):
    """A text of ``length`` symbols from a random Markov chain of the given order."""
    logits = torch.randn(V ** order, V, dtype=torch.float64, generator=g) * 2.5
    cdf = torch.softmax(logits, dim=-1).cumsum(-1)          # (contexts, V), peaked rows
    ids = torch.randint(V, (order,), generator=g).tolist()
    u = torch.rand(length, dtype=torch.float64, generator=g)
    for i in range(length - order):
        ctx = 0
        for s in ids[-order:]:
            ctx = ctx * V + s
        ids.append(min(int(torch.searchsorted(cdf[ctx], u[i])), V - 1))
    return torch.tensor(ids[:length])


@public_check("13-ngram-bits")
def _(ngram_bits_per_char):
    hints = ("count, in the training text, every (context, next character) pair and every "
             "context, where a context is the n - 1 characters before a position; then average "
             "-log2 p over the validation positions that have a full context",
             "p(c | ctx) = (count(ctx, c) + k) / (count(ctx) + k V), where count(ctx) counts "
             "the training positions that follow ctx (so n = 1 has the empty context, counted "
             "at every position); an unseen context gives the uniform 1 / V")
    small = torch.tensor([0, 1, 0, 1, 1, 2, 0, 1, 0, 0])
    val = torch.tensor([0, 1, 1, 0, 2, 2, 1])
    for n, k in ((1, 1.0), (2, 1.0), (2, 0.5), (3, 0.1), (4, 2.0)):
        got = ngram_bits_per_char(small, val, n, k, 3)
        expect_true(isinstance(got, float), f"a Python float (n={n}, k={k}); got "
                    f"{type(got).__name__}", hint=("return a plain Python number",
                                              "convert with float(...) or .item()"))
        expect_close(got, ngram_bits_ref(small, val, n, k, 3), rtol=1e-9, atol=1e-12,
                     what=f"the bits per character for n = {n}, k = {k} on a 10-symbol text",
                     hint=hints)
    for n in (1, 2, 3):   # symbol 3 occurs only in the validation text
        got = ngram_bits_per_char(small, torch.tensor([0, 3, 1, 3, 3, 2]), n, 0.5, 4)
        expect_close(got, ngram_bits_ref(small, torch.tensor([0, 3, 1, 3, 3, 2]), n, 0.5, 4),
                     rtol=1e-9, atol=1e-12, what=f"the bits per character for n = {n} with a "
                     "symbol never seen in training (vocab_size 4)", hint=hints)
    g = torch.Generator().manual_seed(7)
    text = markov_text(g, 4, 2, 3000)
    for n in (1, 3, 5):
        expect_close(ngram_bits_per_char(text[:2500], text[2500:], n, 0.1, 4),
                     ngram_bits_ref(text[:2500], text[2500:], n, 0.1, 4), rtol=1e-9,
                     atol=1e-12, what=f"the bits per character for n = {n} on a Markov text",
                     hint=hints)
    copies = [small.clone(), val.clone()]
    ngram_bits_per_char(small, val, 2, 1.0, 3)
    expect_true(torch.equal(copies[0], small) and torch.equal(copies[1], val),
                "train_ids and val_ids to be left unchanged",
                hint=IN_PLACE)
