"""nblib.nn.attention against PyTorch: F.scaled_dot_product_attention and nn.MultiheadAttention,
forward and gradients, float64, on random shapes, with every kind of mask."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nblib.nn import attention as A

TOL = dict(rtol=1e-6, atol=1e-6)  # float64: the differences are ~1e-15


def _qkv(g, lead, L, S, E, Ev):
    q = torch.randn(*lead, L, E, dtype=torch.float64, generator=g)
    k = torch.randn(*lead, S, E, dtype=torch.float64, generator=g)
    v = torch.randn(*lead, S, Ev, dtype=torch.float64, generator=g)
    return q, k, v


def _grads(fn, inputs, seed):
    """Output of fn(*leaves) and the gradients of a random projection of it."""
    leaves = [t.clone().requires_grad_(True) for t in inputs]
    out = fn(*leaves)
    dout = torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(seed))
    grads = torch.autograd.grad(out, leaves, dout)
    return out.detach(), grads


def _mask(kind, g, lead, L, S):
    if kind is None:
        return None
    if kind == "bool":  # keep the diagonal so that no row is empty
        m = torch.rand(*lead, L, S, generator=g) > 0.4
        m[..., 0] = True
        return m
    if kind == "bool-broadcast":
        m = torch.rand(L, S, generator=g) > 0.5
        m[:, 0] = True
        return m
    if kind == "float":
        return torch.randn(*lead, L, S, dtype=torch.float64, generator=g)
    if kind == "float-inf":  # an additive mask with -inf entries (row 0 keeps key 0)
        m = torch.zeros(L, S, dtype=torch.float64)
        m[torch.rand(L, S, generator=g) > 0.5] = float("-inf")
        m[:, 0] = 0.0
        return m
    raise AssertionError(kind)


SDPA_CASES = [  # (lead dims, L, S, E, Ev, mask kind, is_causal, scale)
    ((), 1, 1, 1, 1, None, False, None),
    ((2,), 5, 7, 4, 3, None, False, None),
    ((2, 3), 6, 6, 8, 8, None, True, None),
    ((2, 3), 4, 9, 8, 5, None, True, None),       # causal with L < S: top-left aligned
    ((3,), 5, 5, 4, 6, "bool", False, None),
    ((2, 2), 5, 8, 3, 2, "bool-broadcast", False, None),
    ((2,), 4, 6, 5, 5, "float", False, None),
    ((2, 3), 7, 5, 4, 4, "float-inf", False, 0.3),
    ((1,), 3, 4, 16, 2, None, False, 2.0),
]


@pytest.mark.parametrize("lead, L, S, E, Ev, mask, causal, scale", SDPA_CASES)
def test_sdpa_equals_pytorch_forward_and_backward(lead, L, S, E, Ev, mask, causal, scale):
    g = torch.Generator().manual_seed(L * 100 + S * 10 + E)
    q, k, v = _qkv(g, lead, L, S, E, Ev)
    m = _mask(mask, g, lead, L, S)
    ours, d_ours = _grads(lambda a, b, c: A.scaled_dot_product_attention(
        a, b, c, attn_mask=m, is_causal=causal, scale=scale), (q, k, v), 1)
    ref, d_ref = _grads(lambda a, b, c: F.scaled_dot_product_attention(
        a, b, c, attn_mask=m, is_causal=causal, scale=scale), (q, k, v), 1)
    torch.testing.assert_close(ours, ref, **TOL)
    for name, a, b in zip("qkv", d_ours, d_ref):
        torch.testing.assert_close(a, b, **TOL, msg=lambda s: f"d{name}: {s}")


def test_fully_masked_query_gets_zero_output_and_finite_gradients_like_pytorch():
    g = torch.Generator().manual_seed(0)
    q, k, v = _qkv(g, (2,), 3, 4, 5, 2)
    m = torch.ones(3, 4, dtype=torch.bool)
    m[1] = False  # query 1 may attend to nothing
    ours, d_ours = _grads(lambda a, b, c: A.scaled_dot_product_attention(a, b, c, m), (q, k, v), 2)
    ref, d_ref = _grads(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, m), (q, k, v), 2)
    assert torch.equal(ours[:, 1], torch.zeros(2, 2, dtype=torch.float64))
    torch.testing.assert_close(ours, ref, **TOL)
    for a, b in zip(d_ours, d_ref):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b, **TOL)


def test_steps_are_the_formula():
    g = torch.Generator().manual_seed(1)
    q, k, v = _qkv(g, (), 3, 3, 4, 2)
    s = A.attention_steps(q, k, v, is_causal=True)
    torch.testing.assert_close(s["scores"], q @ k.T)
    torch.testing.assert_close(s["scaled"], q @ k.T / 2.0)  # sqrt(4)
    assert torch.isinf(s["masked"]).sum() == 3 and s["masked"][0, 1] == float("-inf")
    torch.testing.assert_close(s["weights"].sum(-1), torch.ones(3, dtype=torch.float64))
    assert s["weights"][0, 0] == 1.0
    torch.testing.assert_close(s["output"], s["weights"] @ v)
    out, w = A.attention(q, k, v, is_causal=True)
    assert torch.equal(out, s["output"]) and torch.equal(w, s["weights"])


def test_dropout_zeroes_weights_and_rescales_the_rest():
    g = torch.Generator().manual_seed(3)
    q, k, v = _qkv(g, (4,), 16, 16, 8, 8)
    torch.manual_seed(0)
    _, w = A.attention(q, k, v, dropout_p=0.5)
    _, w0 = A.attention(q, k, v)
    dropped = w == 0
    assert 0.3 < dropped.double().mean() < 0.7
    torch.testing.assert_close(w[~dropped], 2 * w0[~dropped])


def test_masks_helpers():
    assert torch.equal(A.causal_mask(3), torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]]).bool())
    assert A.causal_mask(2, 4).shape == (2, 4) and A.causal_mask(2, 4)[0].tolist() == [
        True, False, False, False]
    m = A.padding_mask(torch.tensor([2, 0, 3]), 3)
    assert m.tolist() == [[True, True, False], [False, False, False], [True, True, True]]


@pytest.mark.parametrize("call, match", [
    (lambda q: A.scaled_dot_product_attention(q, q[..., :3], q), "same E"),
    (lambda q: A.scaled_dot_product_attention(q, q, q[..., :2, :]), "same S"),
    (lambda q: A.scaled_dot_product_attention(q, q.float(), q), "one dtype"),
    (lambda q: A.scaled_dot_product_attention(q, q, q, torch.ones(4, 4).bool(), is_causal=True),
     "not both"),
    (lambda q: A.scaled_dot_product_attention(q, q, q, torch.ones(5, 4).bool()), r"\(\.\.\., L, S\)"),
    (lambda q: A.scaled_dot_product_attention(q, q, q, torch.ones(4, 4, dtype=torch.long)),
     "boolean .* or float"),
    (lambda q: A.scaled_dot_product_attention(q[0, 0], q, q), "shape \\(\\.\\.\\., sequence"),
    (lambda q: A.scaled_dot_product_attention(q.long(), q.long(), q.long()), "floating-point"),
    (lambda q: A.padding_mask([1, 5], 4), r"lengths must lie in \[0, 4\]"),
    (lambda q: A.causal_mask(0), "L \\(number of queries\\)"),
])
def test_bad_inputs_get_clear_errors(call, match):
    q = torch.randn(2, 4, 6, dtype=torch.float64)
    with pytest.raises((ValueError, TypeError), match=match):
        call(q)


# ---------------------------------------------------------------- MultiheadAttention

def _pair(E, H, seed, **kw):
    torch.manual_seed(seed)
    ref = nn.MultiheadAttention(E, H, dtype=torch.float64, **kw)
    ours = A.MultiheadAttention(E, H, dtype=torch.float64, **kw)
    missing = ours.load_state_dict(ref.state_dict())
    assert not missing.missing_keys and not missing.unexpected_keys
    with torch.no_grad():  # non-zero biases, so that a wrong bias slice would show
        for a, b in zip(ours.parameters(), ref.parameters()):
            if a.ndim == 1:
                a.normal_()
                b.copy_(a)
    return ours, ref


def _mha_inputs(g, batch_first, B, T, S, E, kdim, vdim, batched=True):
    def make(n, d):
        shape = ((B, n, d) if batch_first else (n, B, d)) if batched else (n, d)
        return torch.randn(*shape, dtype=torch.float64, generator=g)
    return make(T, E), make(S, kdim or E), make(S, vdim or E)


MHA_CASES = [  # batch_first, B, T, S, E, H, kdim, vdim, bias, masks, need, average
    (False, 2, 5, 5, 8, 2, None, None, True, None, True, True),
    (True, 3, 4, 6, 12, 3, None, None, True, None, True, False),
    (True, 2, 6, 6, 8, 4, None, None, True, "causal-bool", True, True),
    (False, 3, 5, 7, 6, 2, None, None, True, "padding", True, False),
    (True, 2, 5, 7, 8, 2, None, None, False, "padding+bool", True, True),
    (False, 2, 4, 4, 8, 1, None, None, True, "float", True, True),
    (True, 2, 4, 5, 8, 2, None, None, True, "per-head", True, False),
    (True, 2, 3, 6, 8, 2, 5, 3, True, "padding-float", True, True),
    (False, 2, 3, 4, 6, 3, 4, 7, False, None, False, True),
    (True, 1, 7, 7, 16, 4, None, None, True, "causal-hint", False, True),
]


def _mha_masks(kind, g, B, T, S, H):
    """(attn_mask, key_padding_mask, is_causal) in nn.MultiheadAttention's convention."""
    lengths = torch.randint(1, S + 1, (B,), generator=g)
    pad = ~A.padding_mask(lengths, S)  # True = padding = do not attend
    if kind is None:
        return None, None, False
    if kind == "causal-bool":
        return ~A.causal_mask(T, S), None, False
    if kind == "causal-hint":
        return nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64), None, True
    if kind == "padding":
        return None, pad, False
    if kind == "padding+bool":
        m = torch.rand(T, S, generator=g) > 0.6
        m[:, 0] = False
        return m, pad, False
    if kind == "float":
        return torch.randn(T, S, dtype=torch.float64, generator=g), None, False
    if kind == "per-head":
        return torch.randn(B * H, T, S, dtype=torch.float64, generator=g), None, False
    if kind == "padding-float":
        return None, pad.double().masked_fill(pad, float("-inf")), False
    raise AssertionError(kind)


@pytest.mark.parametrize("bf, B, T, S, E, H, kdim, vdim, bias, masks, need, avg", MHA_CASES)
def test_mha_equals_pytorch_with_copied_weights(bf, B, T, S, E, H, kdim, vdim, bias, masks,
                                                need, avg):
    g = torch.Generator().manual_seed(B + T * 7 + S * 11 + E * 13)
    ours, ref = _pair(E, H, seed=T, batch_first=bf, kdim=kdim, vdim=vdim, bias=bias)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    inputs = _mha_inputs(g, bf, B, T, S, E, kdim, vdim)
    attn_mask, kpm, causal = _mha_masks(masks, g, B, T, S, H)
    same_qkv = kdim is None and T == S  # self-attention: one tensor used three times
    if same_qkv:
        inputs = (inputs[0],)

    def run(module):
        module.zero_grad()
        leaves = [t.clone().requires_grad_(True) for t in inputs]
        qkv = leaves * 3 if same_qkv else leaves
        out, w = module(*qkv, key_padding_mask=kpm, need_weights=need, attn_mask=attn_mask,
                        average_attn_weights=avg, is_causal=causal)
        dout = torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(5))
        loss = (out * dout).sum() + (0 if w is None else (w * w).sum())
        loss.backward()
        grads = [t.grad for t in leaves] + [p.grad for p in module.parameters()]
        return out.detach(), w, grads

    out, w, grads = run(ours)
    out_ref, w_ref, grads_ref = run(ref)
    torch.testing.assert_close(out, out_ref, **TOL)
    assert (w is None) == (w_ref is None) == (not need)
    if need:
        assert w.shape == w_ref.shape == ((B, T, S) if avg else (B, H, T, S))
        torch.testing.assert_close(w.detach(), w_ref.detach(), **TOL)
    names = ["input"] * len(inputs) + [n for n, _ in ref.named_parameters()]
    for name, a, b in zip(names, grads, grads_ref):
        torch.testing.assert_close(a, b, **TOL, msg=lambda s: f"grad of {name}: {s}")


@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_unbatched_input(batch_first):
    ours, ref = _pair(8, 2, seed=0, batch_first=batch_first)
    g = torch.Generator().manual_seed(9)
    x = torch.randn(5, 8, dtype=torch.float64, generator=g)
    kpm = torch.tensor([False, False, False, True, True])
    a, wa = ours(x, x, x, key_padding_mask=kpm, average_attn_weights=False)
    b, wb = ref(x, x, x, key_padding_mask=kpm, average_attn_weights=False)
    assert a.shape == (5, 8) and wa.shape == (2, 5, 5)
    torch.testing.assert_close(a, b, **TOL)
    torch.testing.assert_close(wa, wb, **TOL)


def test_state_dict_copies_back_to_pytorch_and_init_matches():
    torch.manual_seed(4)
    ours = A.MultiheadAttention(12, 3, kdim=5, vdim=7)
    ref = nn.MultiheadAttention(12, 3, kdim=5, vdim=7)
    ref.load_state_dict(ours.state_dict())
    assert ours.state_dict().keys() == ref.state_dict().keys()
    assert ours.in_proj_bias.abs().sum() == 0 and ours.out_proj.bias.abs().sum() == 0
    bound = math.sqrt(6 / (12 + 5))  # xavier_uniform_ on (12, 5)
    assert ours.k_proj_weight.abs().max() <= bound
    assert "embed_dim=12, num_heads=3, kdim=5, vdim=7" in repr(ours)


def test_mha_dropout_is_off_in_eval_mode():
    ours, ref = _pair(8, 2, seed=1, dropout=0.5, batch_first=True)
    x = torch.randn(2, 4, 8, dtype=torch.float64)
    ours.eval(), ref.eval()
    torch.testing.assert_close(ours(x, x, x)[0], ref(x, x, x)[0], **TOL)
    ours.train()
    torch.manual_seed(0)
    a = ours(x, x, x)[0]
    assert not torch.allclose(a, ref(x, x, x)[0])


@pytest.mark.parametrize("call, match", [
    (lambda: A.MultiheadAttention(10, 3), "divisible by num_heads"),
    (lambda: A.MultiheadAttention(8, 2)(torch.randn(4, 2, 6), torch.randn(4, 2, 6),
                                        torch.randn(4, 2, 6)), "last dimension 8"),
    (lambda: A.MultiheadAttention(8, 2, kdim=3)(torch.randn(4, 2, 8), torch.randn(4, 2, 8),
                                                torch.randn(4, 2, 8)), "last dimension 3"),
    (lambda: A.MultiheadAttention(8, 2)(torch.randn(4, 2, 8), torch.randn(4, 2, 8),
                                        torch.randn(4, 2, 8), attn_mask=torch.ones(3, 4).bool()),
     r"\(L, S\) = \(4, 4\)"),
    (lambda: A.MultiheadAttention(8, 2)(torch.randn(4, 2, 8), torch.randn(4, 2, 8),
                                        torch.randn(4, 2, 8),
                                        key_padding_mask=torch.ones(4, 2).bool()),
     r"key_padding_mask must have shape \(2, 4\)"),
    (lambda: A.MultiheadAttention(8, 2)(torch.randn(4, 8), torch.randn(4, 2, 8),
                                        torch.randn(4, 2, 8)), "like query"),
])
def test_mha_bad_inputs_get_clear_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
