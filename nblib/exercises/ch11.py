"""Public checks of chapter 11, attention (registered on import)."""
import ast
import inspect
import math
import textwrap

import torch
import torch.nn.functional as F

from nblib.exercises.expect import expect_close, expect_dtype, expect_shape, expect_true
from nblib.exercises.registry import public_check

__all__ = ["attention_autograd", "names_used"]


def attention_autograd(q, k, v, dout):
    """Autograd's (dq, dk, dv) of O = softmax(q k^T / sqrt(d)) v for the upstream dout."""
    leaves = [t.detach().clone().requires_grad_(True) for t in (q, k, v)]
    out = F.scaled_dot_product_attention(*leaves)
    return list(torch.autograd.grad(out, leaves, dout))


def names_used(fn) -> set[str]:
    """Every bare name and attribute name in ``fn``'s source (empty if unreadable)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}


def _unchanged(before, after, what, hint):
    expect_true(all(torch.equal(a, b) for a, b in zip(before, after)),
                f"{what} to be left unchanged (no in-place operations)", hint=hint)


IN_PLACE = ("an operation ending in _ (such as sub_ or masked_fill_) changed an input",
            "compute new tensors instead of modifying the inputs")


@public_check("11-attention-backward")
def _(attention_backward):
    g = torch.Generator().manual_seed(11)
    hints = ("run the forward pass first and keep what it computed: the scores, the "
             "weights P and the output; then go back through each step in reverse",
             "three steps back: through O = P V (two matrix-product rules), through the "
             "softmax of each row (its Jacobian is diag(p) - p p^T: apply it without "
             "forming it), and through S = Q K^T times the scale (two matrix-product "
             "rules again, each picking up the scale once)")
    for B, T, S, d, dv, big in ((1, 3, 3, 2, 2, 1.0), (2, 4, 6, 5, 3, 1.0), (1, 1, 2, 4, 1, 1.0),
                                (2, 3, 5, 4, 2, 60.0)):
        q = torch.randn(B, T, d, dtype=torch.float64, generator=g) * big
        k = torch.randn(B, S, d, dtype=torch.float64, generator=g) * big
        v = torch.randn(B, S, dv, dtype=torch.float64, generator=g)
        dout = torch.randn(B, T, dv, dtype=torch.float64, generator=g)
        copies = [t.clone() for t in (q, k, v, dout)]
        out = attention_backward(q, k, v, dout)
        expect_true(isinstance(out, (tuple, list)) and len(out) == 3,
                    "attention_backward to return three tensors (dq, dk, dv)",
                    hint="one gradient per input, in the order q, k, v")
        case = f"(B={B}, T={T}, S={S}, d={d}, dv={dv}{', scores in the thousands' if big > 1 else ''})"
        for name, got, ref in zip(("dq", "dk", "dv"), out, (q, k, v)):
            expect_shape(got, tuple(ref.shape), what=f"{name} {case}",
                         hint=("each gradient has the shape of its input",
                               "dv pairs the weights with dout; dq and dk pair the "
                               "scores' gradient with k and with q"))
        expected = attention_autograd(q, k, v, dout)
        stable = ("with scores in the thousands, what does exp do in float64?",
                  "softmax(s) = softmax(s - max s) for each row: subtract each row's "
                  "maximum before exponentiating")
        for name, got, ref in zip(("dv", "dq", "dk"), (out[2], out[0], out[1]),
                                  (expected[2], expected[0], expected[1])):
            expect_close(got, ref, rtol=1e-7, atol=1e-9, what=f"{name} {case}",
                         hint=stable if big > 1 else hints)
        _unchanged(copies, (q, k, v, dout), "q, k, v and dout", IN_PLACE)


def _alibi_ref_values(n_heads, T):
    """The slopes and distances the exercise states, written out (not as one tensor op)."""
    rows = []
    for h in range(n_heads):
        m = 2.0 ** (-8.0 * (h + 1) / n_heads)
        rows.append([[-m * (i - j) if j <= i else -math.inf for j in range(T)]
                     for i in range(T)])
    return torch.tensor(rows)


@public_check("11-alibi-bias")
def _(alibi_bias):
    hints = ("two pieces: a slope per head (a geometric sequence), and the distance "
             "i - j between query i and key j, negated; keys after the query get -inf",
             "build the distances once as a (T, T) tensor from two aranges, multiply by "
             "the (n_heads, 1, 1) slopes, then fill the upper triangle with -inf")
    got = alibi_bias(2, 3)
    expect_shape(got, (2, 3, 3), what="alibi_bias(2, 3)",
                 hint=("one (T, T) bias matrix per head: (n_heads, T, T)", hints[1]))
    expect_dtype(got, torch.float32, what="alibi_bias(2, 3)",
                 hint=("the bias is added to float32 scores: return float32",
                       "create the tensors with dtype=torch.float32, or convert at the end"))
    expect_close(got, _alibi_ref_values(2, 3), what="alibi_bias(2, 3)", hint=hints)
    for n, T in ((8, 5), (1, 1), (4, 6)):
        expect_close(alibi_bias(n, T), _alibi_ref_values(n, T), what=f"alibi_bias({n}, {T})",
                     hint=hints)
    # As a mask: a float attn_mask of F.scaled_dot_product_attention, one per head
    g = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(1, 4, 6, 8, generator=g) for _ in range(3))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=alibi_bias(4, 6))
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=_alibi_ref_values(4, 6))
    expect_close(out, ref, rtol=1e-5, atol=1e-6,
                 what="attention with alibi_bias(4, 6) as its float attn_mask", hint=hints)


GQA_FORBIDDEN = {"repeat_interleave", "repeat", "tile", "scaled_dot_product_attention"}


@public_check("11-grouped-query-attention")
def _(grouped_query_attention):
    g = torch.Generator().manual_seed(5)
    hints = ("query head h uses key/value head h // (H // G): the H query heads come in G "
             "consecutive groups; view q as (B, G, H // G, T, d) so that a group's heads "
             "share one key/value head",
             "give k and v a size-1 group dimension, (B, G, 1, S, d), and let the matrix "
             "products broadcast over it; then merge (G, H // G) back into H")
    used = names_used(grouped_query_attention) & GQA_FORBIDDEN
    expect_true(not used, "no copies of k and v per query head and no library attention "
                f"(the code uses {sorted(used)})",
                hint=("the point of grouped-query attention is to keep G key/value heads: "
                      "share them by broadcasting, do not copy them", hints[0]))
    for B, H, G, T, S, d, dv, causal in ((1, 4, 2, 3, 3, 2, 2, False), (2, 6, 3, 4, 5, 4, 3, True),
                                         (1, 4, 1, 2, 4, 3, 3, False),   # multi-query
                                         (2, 2, 2, 3, 3, 2, 4, True)):   # ordinary MHA
        q = torch.randn(B, H, T, d, dtype=torch.float64, generator=g)
        k = torch.randn(B, G, S, d, dtype=torch.float64, generator=g)
        v = torch.randn(B, G, S, dv, dtype=torch.float64, generator=g)
        copies = [t.clone() for t in (q, k, v)]
        got = grouped_query_attention(q, k, v, causal)
        case = f"(B={B}, H={H}, G={G}, T={T}, S={S}, is_causal={causal})"
        expect_shape(got, (B, H, T, dv), what=f"the output {case}",
                     hint=("one output per query head: (B, H, T, dv)", hints[1]))
        ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
        causal_hint = ("query i may attend to keys j <= i (top-left aligned, also when "
                       "S > T): set the other scores to -inf before the softmax",
                       "torch.ones(T, S, dtype=torch.bool).tril() says where to attend")
        expect_close(got, ref, rtol=1e-7, atol=1e-9, what=f"the output {case}",
                     hint=causal_hint if causal and G == H else hints)
        _unchanged(copies, (q, k, v), "q, k and v", IN_PLACE)
