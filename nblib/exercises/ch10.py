"""Public checks of chapter 10, sequence applications and attention (registered on import)."""
import math

import torch

from nblib.exercises.expect import expect_close, expect_dtype, expect_shape, expect_true
from nblib.exercises.registry import public_check

__all__ = ["nucleus", "top_p_frequencies", "local_attention_ref", "ar_forecast_ref"]


# --- 10-top-p-sampling ----------------------------------------------------------------------
def nucleus(logits: torch.Tensor, p: float) -> torch.Tensor:
    """(B, V) bool: the smallest set of most probable tokens whose probability reaches p."""
    probs = torch.softmax(logits.double(), dim=-1)
    sorted_p, order = probs.sort(dim=-1, descending=True)
    before = sorted_p.cumsum(-1) - sorted_p           # probability of the tokens ranked above
    keep_sorted = before < p
    return torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)


def top_p_frequencies(samples: torch.Tensor, V: int) -> torch.Tensor:
    """(B, V) relative frequencies of the samples (B, n)."""
    counts = torch.zeros(samples.shape[0], V, dtype=torch.float64)
    counts.scatter_add_(1, samples.long(), torch.ones_like(samples, dtype=torch.float64))
    return counts / samples.shape[1]


def top_p_target(logits: torch.Tensor, p: float) -> torch.Tensor:
    """(B, V) the distribution top-p sampling draws from: renormalised inside the nucleus."""
    probs = torch.softmax(logits.double(), dim=-1) * nucleus(logits, p)
    return probs / probs.sum(-1, keepdim=True)


def check_top_p_sample(sample_top_p, logits, p, n, seed, case, hint):
    """Shape, dtype, support, frequencies (total variation) of one call; returns the samples."""
    out = sample_top_p(logits, p, n, seed)
    B, V = logits.shape
    expect_shape(out, (B, n), what=f"sample_top_p(logits {tuple(logits.shape)}, p={p}, "
                 f"num_samples={n}, seed={seed})", hint=("one row of num_samples token indices "
                                                         "per row of logits",
                                                         "torch.multinomial(probs, n, "
                                                         "replacement=True) returns (B, n)"))
    expect_dtype(out, torch.int64, what=f"the samples {case}",
                 hint="token indices are int64 (what torch.multinomial returns)")
    inside = nucleus(logits, p).gather(1, out.long().clamp(0, V - 1))
    expect_true(bool(((out >= 0) & (out < V)).all()) and bool(inside.all()),
                f"every sample {case} to lie in the nucleus (the smallest set of most probable "
                "tokens whose probability reaches p)", hint=hint)
    tv = 0.5 * (top_p_frequencies(out, V) - top_p_target(logits, p)).abs().sum(-1).max().item()
    expect_true(tv < 0.03, f"the sample frequencies {case} to match the renormalised nucleus "
                f"distribution (total variation {tv:.3f}, needs < 0.03)",
                hint=("inside the nucleus, keep the tokens' relative probabilities: divide by "
                      "the nucleus's total probability",
                      "sample with replacement, and from the probabilities, not the logits"))
    return out


@public_check("10-top-p-sampling")
def _(sample_top_p):
    hint = ("sort the probabilities in decreasing order and accumulate them: a token is kept "
            "while the probability of the tokens ranked above it is still below p",
            "the most probable token is always kept, even when its own probability exceeds "
            "p; map the kept set back to the original token order before sampling")
    g = torch.Generator().manual_seed(10)
    logits = torch.randn(3, 12, generator=g, dtype=torch.float64) * 2
    copy = logits.clone()
    for p in (0.5, 0.9, 1.0):
        check_top_p_sample(sample_top_p, logits, p, 20000, 7, f"for p = {p}", hint)
    expect_true(torch.equal(logits, copy), "the logits to be left unchanged",
                hint=("an in-place operation (sort_, masked_fill_, ...) changed the input",
                      "compute new tensors"))
    a, b = sample_top_p(logits, 0.9, 50, 3), sample_top_p(logits, 0.9, 50, 3)
    c = sample_top_p(logits, 0.9, 50, 4)
    expect_true(torch.equal(a, b) and not torch.equal(a, c),
                "the same seed to give the same samples and another seed other samples",
                hint=("make a torch.Generator().manual_seed(seed) and pass it to the sampler",
                      "torch.multinomial(..., generator=g); never reseed the global RNG"))
    huge = torch.tensor([[1000.0, 999.0, -1000.0, 998.0]], dtype=torch.float32)
    check_top_p_sample(sample_top_p, huge, 0.8, 20000, 1, "for logits in the thousands",
                       ("compute the probabilities with a stable softmax",
                        "torch.softmax subtracts the maximum for you; exp(1000) overflows"))
    one = check_top_p_sample(sample_top_p, logits, 0.01, 100, 0, "for a tiny p", hint)
    expect_true(bool((one == logits.argmax(-1, keepdim=True)).all()),
                "a tiny p to keep only the most probable token", hint=hint)


# --- 10-local-attention ---------------------------------------------------------------------
def local_attention_ref(query, keys, mask, positions, D):
    """Luong et al. (2015) local-p attention around given positions (float64 reference)."""
    B, S, _ = keys.shape
    s = torch.arange(S, dtype=keys.dtype)[None, :]                  # (1, S)
    inside = mask & ((s - positions[:, None]).abs() <= D)            # (B, S)
    scores = (keys @ query[:, :, None]).squeeze(-1)                  # (B, S)
    align = torch.softmax(scores.masked_fill(~inside, float("-inf")), dim=-1)
    sigma = D / 2
    weights = align * torch.exp(-(s - positions[:, None]) ** 2 / (2 * sigma ** 2))
    return (weights[:, :, None] * keys).sum(1), weights


def local_problem(g, B, S, d, D, dtype=torch.float64, scale=1.0):
    keys = torch.randn(B, S, d, dtype=dtype, generator=g)
    query = torch.randn(B, d, dtype=dtype, generator=g) * scale
    lengths = torch.randint(1, S + 1, (B,), generator=g)
    mask = torch.arange(S)[None, :] < lengths[:, None]
    positions = (torch.rand(B, generator=g, dtype=dtype) * (lengths - 1)).to(dtype)
    return query, keys, mask, positions, D


@public_check("10-local-attention")
def _(local_attention):
    hints = {
        "weights": ("three factors: dot-product scores, a softmax over the positions that are "
                    "both inside the window and real (mask), then a Gaussian centred on p_t",
                    "positions outside [p_t - D, p_t + D] or padded get score -inf before the "
                    "softmax; sigma = D / 2; the Gaussian multiplies after the softmax"),
        "context": ("the context is the weighted sum of the keys with these weights",
                    "weights (B, S) times keys (B, S, d), summed over S"),
    }
    g = torch.Generator().manual_seed(11)
    cases = [(2, 7, 3, 2, 1.0), (3, 9, 4, 1, 1.0), (1, 5, 2, 4, 1.0), (2, 8, 3, 2, 300.0)]
    for B, S, d, D, scale in cases:
        args = local_problem(g, B, S, d, D, scale=scale)
        copies = [a.clone() for a in args[:4]]
        out = local_attention(*args)
        case = f"(B={B}, S={S}, d={d}, D={D}{', huge scores' if scale > 1 else ''})"
        expect_true(isinstance(out, (tuple, list)) and len(out) == 2,
                    "local_attention to return (context, weights)",
                    hint="return the pair (context (B, d), weights (B, S))")
        context, weights = out
        ref_c, ref_w = local_attention_ref(*args)
        expect_shape(weights, (B, S), what=f"weights {case}", hint=hints["weights"])
        expect_shape(context, (B, d), what=f"context {case}", hint=hints["context"])
        outside = ~(args[2] & ((torch.arange(S)[None] - args[3][:, None]).abs() <= D))
        expect_true(bool((weights[outside] == 0).all()),
                    f"weights {case} to be exactly 0 outside the window and on padding",
                    hint=hints["weights"])
        h = hints["weights"] if scale == 1 else (
            "with large scores exp overflows: use a softmax that subtracts the maximum",
            "torch.softmax on scores where excluded positions are -inf is stable")
        expect_close(weights, ref_w, rtol=1e-10, atol=1e-12, what=f"weights {case}", hint=h)
        expect_close(context, ref_c, rtol=1e-10, atol=1e-12, what=f"context {case}",
                     hint=hints["context"])
        expect_true(all(torch.equal(a, b) for a, b in zip(args[:4], copies)),
                    "the inputs to be left unchanged",
                    hint=("an in-place operation changed an input", "compute new tensors"))
    q, k, m, _, _ = local_problem(g, 2, 6, 3, 2, dtype=torch.float32)
    pos = torch.tensor([1.5, 0.0])
    context, weights = local_attention(q, k, m, pos, 2)
    expect_dtype(weights, torch.float32, what="weights for float32 inputs",
                 hint="keep the inputs' dtype: build index tensors with dtype=keys.dtype")


# --- 10-ar-forecast -------------------------------------------------------------------------
def ar_forecast_ref(history, intercept, coefs, horizon):
    """Recursive (free-running) AR(p) forecasts; coefs[i] multiplies the value i + 1 steps back."""
    p = len(coefs)
    values = list(history[-p:].tolist()) if p else []
    out = []
    for _ in range(horizon):
        nxt = intercept + sum(coefs[i].item() * values[-1 - i] for i in range(p))
        out.append(nxt)
        values.append(nxt)
    return torch.tensor(out, dtype=torch.float64)


@public_check("10-ar-forecast")
def _(ar_forecast):
    hint = ("forecast one step, append the forecast to the values, and repeat: each new "
            "forecast uses the previous forecasts where the true values are not known",
            "coefs[0] multiplies the most recent value, coefs[1] the one before, ...; only "
            "the last p values of the history matter")
    g = torch.Generator().manual_seed(12)
    history = torch.randn(30, dtype=torch.float64, generator=g) * 10 + 50
    copy = history.clone()
    for intercept, coefs, horizon in ((5.0, [0.0], 4), (0.0, [1.0], 5), (12.0, [1.3, -0.6], 8),
                                      (3.0, [0.5, 0.2, -0.1, 0.05], 1)):
        coefs = torch.tensor(coefs, dtype=torch.float64)
        out = ar_forecast(history, intercept, coefs, horizon)
        case = f"ar_forecast(history, {intercept}, coefs={coefs.tolist()}, horizon={horizon})"
        expect_shape(out, (horizon,), what=case, hint="one forecast per future step")
        expect_dtype(out, torch.float64, what=case, hint="return float64, like the history")
        expect_close(out, ar_forecast_ref(history, intercept, coefs, horizon), rtol=1e-12,
                     atol=1e-9, what=case, hint=hint)
    expect_true(torch.equal(history, copy), "the history to be left unchanged",
                hint=("appending forecasts in place changed the input",
                      "work on a Python list or a new tensor"))
    try:  # the same forecasts as statsmodels' AutoReg, fitted on a simulated AR(2)
        from statsmodels.tsa.ar_model import AutoReg
    except ImportError:
        return
    x = [50.0, 52.0]
    noise = torch.randn(300, dtype=torch.float64, generator=g)
    for e in noise.tolist():
        x.append(8.0 + 1.4 * x[-1] - 0.55 * x[-2] + e)
    res = AutoReg(x, lags=2).fit()
    ours = ar_forecast(torch.tensor(x, dtype=torch.float64), float(res.params[0]),
                       torch.tensor(res.params[1:], dtype=torch.float64), 12)
    expect_close(ours, torch.tensor(res.forecast(12)), rtol=1e-10, atol=1e-8,
                 what="12 forecasts of an AR(2) fitted by statsmodels' AutoReg", hint=hint)
    expect_true(math.isfinite(float(ours.sum())), "finite forecasts", hint=hint)
