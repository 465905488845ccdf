"""nblib.nn.layernorm, positional and transformer against PyTorch: nn.LayerNorm,
nn.TransformerEncoderLayer / DecoderLayer / Encoder / Decoder with copied weights, forward and
gradients in float64, post-norm and pre-norm, ReLU and GELU, with masks; and the key/value cache
equal to one causal forward."""
import math

import pytest
import torch
from torch import nn

from nblib.nn import layernorm, positional, transformer as T

TOL = dict(rtol=1e-6, atol=1e-6)  # float64: the differences are ~1e-15


def _grads(module, inputs, seed=0):
    """Output of module(*inputs) and the gradients of a random projection of it, with respect
    to the inputs and to every parameter (in named_parameters order)."""
    leaves = [t.clone().requires_grad_(True) for t in inputs]
    out = module(*leaves)
    dout = torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(seed))
    params = [p for _, p in module.named_parameters()]
    grads = torch.autograd.grad(out, leaves + params, dout)
    return out.detach(), grads


def _pair(ours, theirs):
    """Copy our weights into PyTorch's module (strict: same names and shapes), both float64."""
    ours, theirs = ours.double(), theirs.double()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    return ours, theirs


def _close(a, b):
    torch.testing.assert_close(a[0], b[0], **TOL)
    assert len(a[1]) == len(b[1])
    for ga, gb in zip(a[1], b[1]):
        torch.testing.assert_close(ga, gb, **TOL)


# --- layer norm -----------------------------------------------------------------------------

@pytest.mark.parametrize("shape, normalized", [((4, 7), 7), ((2, 3, 8), (8,)),
                                               ((2, 3, 4, 5), (4, 5))])
@pytest.mark.parametrize("affine, bias", [(True, True), (True, False), (False, False)])
def test_layer_norm_equals_torch_forward_and_backward(shape, normalized, affine, bias):
    g = torch.Generator().manual_seed(1)
    ours = layernorm.LayerNorm(normalized, eps=1e-5, elementwise_affine=affine, bias=bias)
    theirs = nn.LayerNorm(normalized, eps=1e-5, elementwise_affine=affine, bias=bias)
    ours, theirs = _pair(ours, theirs)
    if affine:  # move off the trivial initialisation
        with torch.no_grad():
            for p in ours.parameters():
                p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))
        theirs.load_state_dict(ours.state_dict())
    x = torch.randn(shape, dtype=torch.float64, generator=g) * 3 + 2
    _close(_grads(ours, [x]), _grads(theirs, [x]))


def test_layer_norm_normalises_each_example_not_the_batch():
    x = torch.randn(5, 16, dtype=torch.float64) * 4 + 7
    y = layernorm.layer_norm(x, 16)
    torch.testing.assert_close(y.mean(-1), torch.zeros(5, dtype=torch.float64), atol=1e-12,
                               rtol=0)
    torch.testing.assert_close(y[:1], layernorm.layer_norm(x[:1], 16))  # batch-independent


def test_layer_norm_names_the_expected_shape():
    with pytest.raises(ValueError, match=r"\(\*, 8\).*\(2, 7\)"):
        layernorm.LayerNorm(8)(torch.randn(2, 7))
    with pytest.raises(ValueError, match="normalized_shape"):
        layernorm.LayerNorm(0)


# --- positional encodings -------------------------------------------------------------------

def test_sinusoidal_encoding_follows_the_papers_formula():
    T_, d = 50, 16
    pe = positional.sinusoidal_encoding(T_, d, dtype=torch.float64)
    assert pe.shape == (T_, d)
    for pos in (0, 1, 17, 49):
        for i in range(d // 2):
            angle = pos / 10000 ** (2 * i / d)
            assert math.isclose(pe[pos, 2 * i], math.sin(angle), abs_tol=1e-12)
            assert math.isclose(pe[pos, 2 * i + 1], math.cos(angle), abs_tol=1e-12)


def test_a_fixed_offset_is_the_same_rotation_at_every_position():
    pe = positional.sinusoidal_encoding(64, 8, dtype=torch.float64)
    k = 5
    # one linear map M with pe[p + k] = pe[p] @ M for every p (least squares, exact here)
    M = torch.linalg.lstsq(pe[:-k], pe[k:]).solution
    torch.testing.assert_close(pe[:-k] @ M, pe[k:], atol=1e-9, rtol=0)


@pytest.mark.parametrize("cls", ["sinusoidal", "learned"])
def test_positional_modules_add_the_table_from_an_offset(cls):
    m = (positional.PositionalEncoding(8, max_len=20) if cls == "sinusoidal"
         else positional.LearnedPositionalEmbedding(20, 8))
    table = m.pe if cls == "sinusoidal" else m.weight
    x = torch.randn(2, 3, 8)
    torch.testing.assert_close(m(x, offset=4), x + table[4:7])
    with pytest.raises(ValueError, match="max_len = 20"):
        m(x, offset=18)
    with pytest.raises(ValueError, match=r"\(B, T, C\).*d_model = 8"):
        m(torch.randn(2, 3, 5))


def test_sinusoidal_needs_an_even_width():
    with pytest.raises(ValueError, match="even.*7"):
        positional.sinusoidal_encoding(4, 7)


# --- encoder and decoder layers ---------------------------------------------------------------

CONFIGS = [dict(norm_first=False, activation="relu", batch_first=True),
           dict(norm_first=True, activation="gelu", batch_first=True),
           dict(norm_first=False, activation="gelu", batch_first=False),
           dict(norm_first=True, activation="relu", batch_first=False, bias=False)]


def _layers(kind, cfg, d=12, nh=3, ff=20):
    ours_cls = T.TransformerEncoderLayer if kind == "enc" else T.TransformerDecoderLayer
    theirs_cls = nn.TransformerEncoderLayer if kind == "enc" else nn.TransformerDecoderLayer
    torch.manual_seed(0)
    ours = ours_cls(d, nh, dim_feedforward=ff, dropout=0.0, **cfg)
    theirs = theirs_cls(d, nh, dim_feedforward=ff, dropout=0.0, **cfg)
    ours, theirs = _pair(ours, theirs)
    with torch.no_grad():  # random biases and norms, so every parameter matters
        for p in ours.parameters():
            p.add_(0.1 * torch.randn(p.shape, dtype=p.dtype))
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


def _x(B, L, d, batch_first, g):
    x = torch.randn(B, L, d, dtype=torch.float64, generator=g)
    return x if batch_first else x.transpose(0, 1).contiguous()


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("mask", [None, "causal", "padding", "both"])
def test_encoder_layer_equals_torch(cfg, mask):
    g = torch.Generator().manual_seed(2)
    ours, theirs = _layers("enc", cfg)
    B, L, d = 3, 5, 12
    src = _x(B, L, d, cfg["batch_first"], g)
    kw = {}
    if mask == "causal":
        kw = dict(src_mask=nn.Transformer.generate_square_subsequent_mask(L, dtype=torch.float64))
    elif mask == "padding":
        kw = dict(src_key_padding_mask=torch.arange(L) >= torch.tensor([5, 3, 1])[:, None])
    elif mask == "both":
        kw = dict(src_mask=torch.ones(L, L, dtype=torch.bool).triu(1),
                  src_key_padding_mask=torch.arange(L) >= torch.tensor([5, 3, 2])[:, None])
    la, lb = [src.clone().requires_grad_(True) for _ in range(2)]
    ya, yb = ours(la, **kw), theirs(lb, **kw)
    torch.testing.assert_close(ya, yb, **TOL)
    dout = torch.randn(ya.shape, dtype=torch.float64, generator=g)
    ga = torch.autograd.grad(ya, [la, *ours.parameters()], dout)
    gb = torch.autograd.grad(yb, [lb, *theirs.parameters()], dout)
    for x, y in zip(ga, gb):
        torch.testing.assert_close(x, y, **TOL)


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("padding", [False, True])
def test_decoder_layer_equals_torch(cfg, padding):
    g = torch.Generator().manual_seed(3)
    ours, theirs = _layers("dec", cfg)
    B, L, S, d = 3, 4, 6, 12
    tgt, memory = _x(B, L, d, cfg["batch_first"], g), _x(B, S, d, cfg["batch_first"], g)
    kw = dict(tgt_mask=torch.ones(L, L, dtype=torch.bool).triu(1))  # True = do not attend
    if padding:
        kw["memory_key_padding_mask"] = torch.arange(S) >= torch.tensor([6, 2, 4])[:, None]
        kw["tgt_key_padding_mask"] = torch.arange(L) >= torch.tensor([4, 4, 2])[:, None]
    leaves = lambda: [t.clone().requires_grad_(True) for t in (tgt, memory)]  # noqa: E731
    dout = torch.randn(B, L, d, dtype=torch.float64, generator=g)
    if not cfg["batch_first"]:
        dout = dout.transpose(0, 1)
    la, lb = leaves(), leaves()
    ya, yb = ours(*la, **kw), theirs(*lb, **kw)
    torch.testing.assert_close(ya, yb, **TOL)
    ga = torch.autograd.grad(ya, [*la, *ours.parameters()], dout)
    gb = torch.autograd.grad(yb, [*lb, *theirs.parameters()], dout)
    for x, y in zip(ga, gb):
        torch.testing.assert_close(x, y, **TOL)


def test_stacks_equal_torch_and_copy_their_state_dicts_both_ways():
    g = torch.Generator().manual_seed(4)
    d, nh = 8, 2
    enc = T.TransformerEncoder(T.TransformerEncoderLayer(d, nh, 16, 0.0, batch_first=True),
                               3, norm=layernorm.LayerNorm(d))
    ref_enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, nh, 16, 0.0, batch_first=True),
                                    3, norm=nn.LayerNorm(d), enable_nested_tensor=False)
    dec = T.TransformerDecoder(T.TransformerDecoderLayer(d, nh, 16, 0.0, batch_first=True), 2,
                               norm=layernorm.LayerNorm(d))
    ref_dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(d, nh, 16, 0.0, batch_first=True),
                                    2, norm=nn.LayerNorm(d))
    enc, ref_enc = enc.double(), ref_enc.double()
    dec, ref_dec = dec.double(), ref_dec.double()
    enc.load_state_dict(ref_enc.state_dict(), strict=True)   # theirs -> ours
    ref_dec.load_state_dict(dec.state_dict(), strict=True)   # ours -> theirs
    src = torch.randn(2, 7, d, dtype=torch.float64, generator=g)
    tgt = torch.randn(2, 5, d, dtype=torch.float64, generator=g)
    mask = nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    m, ref_m = enc(src), ref_enc(src)
    torch.testing.assert_close(m, ref_m, **TOL)
    torch.testing.assert_close(dec(tgt, m, tgt_mask=mask), ref_dec(tgt, ref_m, tgt_mask=mask),
                               **TOL)


def test_keep_attention_stores_each_heads_weights():
    layer = T.TransformerDecoderLayer(8, 2, 16, 0.0, batch_first=True)
    layer.keep_attention = True
    layer(torch.randn(3, 4, 8), torch.randn(3, 6, 8), tgt_is_causal=True)
    assert layer.self_attention_weights.shape == (3, 2, 4, 4)
    assert layer.cross_attention_weights.shape == (3, 2, 4, 6)
    torch.testing.assert_close(layer.cross_attention_weights.sum(-1), torch.ones(3, 2, 4))
    assert (layer.self_attention_weights.triu(1) == 0).all()  # causal: no future weight


# --- key/value cache ----------------------------------------------------------------------------

@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("chunks", [[1] * 6, [2, 1, 3], [6]])
def test_decoding_with_a_cache_equals_one_causal_forward(norm_first, chunks):
    torch.manual_seed(5)
    d, nh = 8, 2
    dec = T.TransformerDecoder(T.TransformerDecoderLayer(d, nh, 16, 0.0, batch_first=True,
                                                         norm_first=norm_first), 2).double()
    enc = T.TransformerEncoder(T.TransformerEncoderLayer(d, nh, 16, 0.0, batch_first=True,
                                                         norm_first=norm_first), 2).double()
    tgt = torch.randn(2, 6, d, dtype=torch.float64)
    memory = torch.randn(2, 5, d, dtype=torch.float64)
    pad = torch.arange(5) >= torch.tensor([5, 3])[:, None]
    full_dec = dec(tgt, memory, tgt_is_causal=True, memory_key_padding_mask=pad)
    full_enc = enc(tgt, is_causal=True)
    cache_d, cache_e, start = T.new_cache(2), T.new_cache(2), 0
    outs_d, outs_e = [], []
    for t in chunks:
        assert T.cache_length(cache_d) == start
        piece = tgt[:, start:start + t]
        outs_d.append(dec(piece, memory, memory_key_padding_mask=pad, cache=cache_d))
        outs_e.append(enc(piece, cache=cache_e))
        start += t
    torch.testing.assert_close(torch.cat(outs_d, 1), full_dec, atol=1e-12, rtol=0)
    torch.testing.assert_close(torch.cat(outs_e, 1), full_enc, atol=1e-12, rtol=0)
    assert T.cache_length(cache_e) == 6


def test_cache_errors_are_clear():
    layer = T.TransformerEncoderLayer(8, 2, 16, 0.0, batch_first=False)
    with pytest.raises(ValueError, match="batch_first"):
        layer(torch.randn(3, 2, 8), cache={})
    enc = T.TransformerEncoder(T.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2)
    with pytest.raises(ValueError, match=r"new_cache\(2\).*list of 3"):
        enc(torch.randn(1, 3, 8), cache=T.new_cache(3))
    with pytest.raises(ValueError, match="causal"):
        enc(torch.randn(1, 3, 8), mask=torch.zeros(3, 3, dtype=torch.bool), cache=T.new_cache(2))


def test_layers_name_the_expected_shapes_and_options():
    layer = T.TransformerEncoderLayer(8, 2, batch_first=True)
    with pytest.raises(ValueError, match=r"\(B, T, C\).*d_model = 8.*\(2, 3, 6\)"):
        layer(torch.randn(2, 3, 6))
    with pytest.raises(ValueError, match="activation.*'relu'.*'tanh'"):
        T.TransformerEncoderLayer(8, 2, activation="tanh")
    with pytest.raises(ValueError, match="divisible"):
        T.TransformerEncoderLayer(8, 3)
