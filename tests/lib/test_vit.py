"""nblib.nn.vit: the Vision Transformer (Dosovitskiy et al. 2020) on the book's encoder.

The patch embedding's two forms (reshape + Linear, strided Conv2d) are one function, equal to
PyTorch's ``F.unfold``; the ViT equals the same model assembled from ``torch.nn`` modules
(forward and gradients, float64); the helpers that look inside it (attention maps, rollout,
mean attention distance, position similarity) are checked against hand computations.
"""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nblib.nn import cnn, vit
from nblib.nn.positional import sinusoidal_encoding
from nblib.nn.transformer import TransformerEncoder, TransformerEncoderLayer


def _images(B=3, C=2, H=12, W=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, C, H, W, dtype=torch.float64, generator=g)


def _pair(C=2, H=12, W=8, P=4, D=5):
    torch.manual_seed(0)
    conv = vit.PatchEmbedding((H, W), P, C, D, mode="conv").double()
    linear = vit.PatchEmbedding((H, W), P, C, D, mode="linear").double().copy_from(conv)
    return conv, linear


# ---------------------------------------------------------------- the patch embedding

def test_patchify_cuts_patches_row_by_row_like_unfold():
    x = _images()
    emb = vit.PatchEmbedding((12, 8), 4, 2, 5, mode="linear")
    p = emb.patchify(x)                                            # (B, N, C*P*P)
    assert p.shape == (3, 6, 2 * 16) and emb.grid == (3, 2)
    for n in range(6):                                             # the definition, patch by patch
        r, c = divmod(n, 2)
        torch.testing.assert_close(p[:, n], x[:, :, 4 * r:4 * r + 4, 4 * c:4 * c + 4].flatten(1))
    torch.testing.assert_close(p, F.unfold(x, 4, stride=4).transpose(1, 2))  # PyTorch's im2col


def test_the_two_forms_agree_forward_and_backward_in_float64():
    conv, linear = _pair()
    x = _images()
    up = torch.randn(3, 6, 5, dtype=torch.float64)
    outs, grads = [], []
    for emb in (conv, linear):
        xi = x.clone().requires_grad_(True)
        y = emb(xi)
        outs.append(y)
        grads.append(torch.autograd.grad((y * up).sum(), [xi, emb.proj.weight, emb.proj.bias]))
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-12, atol=1e-12)
    (dx_c, dw_c, db_c), (dx_l, dw_l, db_l) = grads
    torch.testing.assert_close(dx_c, dx_l, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(dw_c.reshape(dw_l.shape), dw_l, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(db_c, db_l, rtol=1e-12, atol=1e-12)
    # and back: linear -> conv gives the very weights we started from
    again = vit.PatchEmbedding((12, 8), 4, 2, 5, mode="conv").double().copy_from(linear)
    torch.testing.assert_close(again.proj.weight, conv.proj.weight, rtol=0, atol=0)


def test_conv_form_is_a_strided_conv2d():
    conv, _ = _pair()
    x = _images()
    ref = F.conv2d(x, conv.proj.weight, conv.proj.bias, stride=4)       # (B, D, gh, gw)
    torch.testing.assert_close(conv(x), ref.flatten(2).transpose(1, 2))


@pytest.mark.parametrize("call, match", [
    (lambda: vit.PatchEmbedding(28, 5), r"patch_size = 5 must divide the image size 28 x 28"),
    (lambda: vit.PatchEmbedding(28, 7, mode="unfold"), "mode"),
    (lambda: vit.PatchEmbedding(28, 7)(torch.zeros(2, 1, 32, 32)),
     r"shape \(B, 1, 28, 28\), got \(2, 1, 32, 32\)"),
    (lambda: vit.PatchEmbedding(28, 7)(torch.zeros(1, 28, 28)), r"unsqueeze\(0\)"),
    (lambda: vit.PatchEmbedding(28, 7, mode="linear").patchify(torch.zeros(2, 3, 28, 28)),
     r"\(B, 1, 28, 28\), got \(2, 3, 28, 28\)"),
    (lambda: vit.PatchEmbedding(28, 7).copy_from(vit.PatchEmbedding(28, 4)),
     "patch_size 7 and 4"),
    (lambda: vit.ViT()(torch.zeros(4, 1, 32, 32)), r"\(B, 1, 28, 28\), got \(4, 1, 32, 32\)"),
    (lambda: vit.ViT(img_size=30), "must divide the image size 30 x 30"),
    (lambda: vit.ViT(pool="cls", class_token=False), "keep class_token=True"),
    (lambda: vit.sincos_2d((4, 4), 6), "divisible by 4"),
])
def test_bad_sizes_get_clear_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# ---------------------------------------------------------------- positions

def test_sincos_2d_is_a_row_encoding_beside_a_column_encoding():
    pe = vit.sincos_2d((3, 5), 8, dtype=torch.float64)
    rows, cols = sinusoidal_encoding(3, 4, dtype=torch.float64), sinusoidal_encoding(
        5, 4, dtype=torch.float64)
    for r in range(3):
        for c in range(5):
            torch.testing.assert_close(pe[r * 5 + c], torch.cat([rows[r], cols[c]]))
    m = vit.ViT(pos_embed="sincos2d", embed_dim=8, num_heads=2, depth=1)
    assert torch.equal(m.pos_embed.pe[0], torch.zeros(8))          # [CLS] gets no position
    assert not any("pos" in n for n, _ in m.named_parameters())     # fixed: not trained


def test_position_similarity_of_a_grid():
    table = torch.randn(1 + 6, 16, dtype=torch.float64)
    sim = vit.position_similarity(table, (2, 3), num_prefix=1)
    assert sim.shape == (2, 3, 2, 3)
    torch.testing.assert_close(sim.reshape(6, 6).diagonal(), torch.ones(6, dtype=torch.float64))
    a, b = table[1 + 4], table[1 + 2]                                # patch (1, 1) against (0, 2)
    torch.testing.assert_close(sim[1, 1, 0, 2], a @ b / (a.norm() * b.norm()))
    with pytest.raises(ValueError, match="a grid of 3 x 3 needs 9"):
        vit.position_similarity(table, (3, 3))


# ---------------------------------------------------------------- the model

def _torch_vit(model: vit.ViT) -> nn.Module:
    """The same ViT's encoder built from torch.nn modules, with our weights copied in."""
    D, L = model.head.in_features, len(model.encoder.layers)
    first = model.encoder.layers[0]
    layer = nn.TransformerEncoderLayer(D, first.self_attn.num_heads, first.linear1.out_features,
                                       0.0, activation="gelu", layer_norm_eps=1e-6,
                                       batch_first=True, norm_first=True)
    ref = nn.TransformerEncoder(layer, L, norm=nn.LayerNorm(D, eps=1e-6),
                                enable_nested_tensor=False).double()
    ref.load_state_dict(model.encoder.state_dict(), strict=True)
    return ref


def test_vit_reuses_the_book_encoder_and_equals_torch_forward_and_backward():
    torch.manual_seed(0)
    model = vit.ViT(img_size=(12, 8), patch_size=4, in_chans=2, num_classes=7, embed_dim=16,
                    depth=2, num_heads=4, dropout=0.0).double()
    assert type(model.encoder) is TransformerEncoder
    for layer in model.encoder.layers:
        assert type(layer) is TransformerEncoderLayer
        assert layer.norm_first and layer.batch_first and layer.activation is F.gelu
    ref = _torch_vit(model)
    x = _images()
    xi = x.clone().requires_grad_(True)
    ours = model(xi)
    d_ours = torch.autograd.grad(ours.pow(2).sum(), [xi] + list(model.encoder.parameters()))
    xj = x.clone().requires_grad_(True)
    tokens = model.tokens(xj)                                       # (B, 1 + N, D)
    theirs = model.head(ref(tokens)[:, 0])
    d_theirs = torch.autograd.grad(theirs.pow(2).sum(), [xj] + list(ref.parameters()))
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)
    for a, b in zip(d_ours, d_theirs):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_tokens_are_cls_then_patches_plus_positions():
    torch.manual_seed(0)
    model = vit.ViT(img_size=(12, 8), patch_size=4, in_chans=2, embed_dim=8, num_heads=2,
                    depth=1).double()
    x = _images()
    z = model.tokens(x)
    assert z.shape == (3, 7, 8)
    pos = model.pos_embed.weight                                    # (1 + N, D), learned
    torch.testing.assert_close(z[:, 0], (model.cls_token[0, 0] + pos[0]).expand(3, 8))
    torch.testing.assert_close(z[:, 1:], model.patch_embed(x) + pos[1:])


@pytest.mark.parametrize("kw, shape", [
    ({}, (2, 10)),
    ({"pool": "mean", "class_token": False, "pos_embed": "none"}, (2, 10)),
    ({"pool": "patches"}, (2, 10, 4, 4)),
    ({"pool": "patches", "class_token": False, "pos_embed": "sincos2d"}, (2, 10, 4, 4)),
    ({"patch_mode": "linear", "patch_size": 4}, (2, 10)),
])
def test_output_shapes_and_every_parameter_learns(kw, shape):
    torch.manual_seed(0)
    model = vit.ViT(embed_dim=16, depth=2, num_heads=2, **kw)
    out = model(torch.rand(2, 1, 28, 28))
    assert out.shape == shape
    out.pow(2).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_hybrid_turns_a_cnn_feature_map_into_tokens():
    torch.manual_seed(0)
    stem = cnn.LeNet().features                                     # (B, 16, 5, 5) maps
    model = vit.ViT(stem=stem, patch_size=1, embed_dim=16, depth=1, num_heads=2)
    assert model.grid == (5, 5) and model.patch_embed.in_chans == 16
    x = torch.rand(3, 1, 28, 28)
    assert model.tokens(x).shape == (3, 26, 16) and model(x).shape == (3, 10)
    assert model.training and stem.training                         # shape probe left it so


# ---------------------------------------------------------------- looking inside

def test_attention_maps_are_the_layers_weights_and_leave_the_model_as_it_was():
    torch.manual_seed(0)
    model = vit.ViT(embed_dim=16, depth=3, num_heads=2).double()
    x = torch.rand(2, 1, 28, 28, dtype=torch.float64)
    maps = vit.attention_maps(model, x)
    assert maps.shape == (2, 3, 2, 17, 17) and model.training
    torch.testing.assert_close(maps.sum(-1), torch.ones(2, 3, 2, 17, dtype=torch.float64))
    assert all(not l.keep_attention and l.attention_weights is None for l in model.encoder.layers)
    # the first layer's weights, from torch's own multi-head attention on the same input
    first = model.encoder.layers[0]
    mha = nn.MultiheadAttention(16, 2, batch_first=True).double()
    mha.load_state_dict(first.self_attn.state_dict())
    h = first.norm1(model.tokens(x))
    _, ref = mha(h, h, h, need_weights=True, average_attn_weights=False)
    torch.testing.assert_close(maps[:, 0], ref.detach())


def test_rollout_against_a_hand_computation():
    # two layers, one head, three tokens; with residual = 0.5, R = (A + I) / 2
    a1 = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.2, 0.6]], dtype=torch.float64)
    a2 = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    # R1 = [[1, 0, 0], [.25, .75, 0], [.1, .1, .8]], R2 = [[.5, .5, 0], [0, .5, .5], [.5, 0, .5]]
    # rollout = R2 @ R1, row by row:
    #   row 0: .5 [1, 0, 0] + .5 [.25, .75, 0]               = [.625, .375, 0]
    #   row 1: .5 [.25, .75, 0] + .5 [.1, .1, .8]            = [.175, .425, .4]
    #   row 2: .5 [1, 0, 0] + .5 [.1, .1, .8]                = [.55, .05, .4]
    expect = torch.tensor([[0.625, 0.375, 0.0], [0.175, 0.425, 0.4], [0.55, 0.05, 0.4]],
                          dtype=torch.float64)
    maps = torch.stack([a1, a2])[:, None]                            # (L, nh, T, T)
    torch.testing.assert_close(vit.attention_rollout(maps), expect)
    # two heads whose mean is a_l give the same rollout; a batch gives one rollout per image
    heads = torch.stack([torch.stack([2 * a, torch.zeros_like(a)])
                         for a in (a1, a2)])                         # mean over heads = a
    batch = torch.stack([heads, maps.expand(2, 2, 3, 3)])           # (B, L, nh, T, T)
    out = vit.attention_rollout(batch)
    assert out.shape == (2, 3, 3)
    torch.testing.assert_close(out[0], expect)
    torch.testing.assert_close(out[1], expect)
    # residual = 0: the plain product of the attention matrices
    torch.testing.assert_close(vit.attention_rollout(maps, residual=0.0), a2 @ a1)


def test_mean_attention_distance_by_hand():
    d = vit.patch_distances((2, 2), patch_size=7)
    torch.testing.assert_close(d[0], torch.tensor([0, 7, 7, 7 * math.sqrt(2)],
                                                  dtype=torch.float64))
    # uniform attention over [CLS] + 4 patches: [CLS] is left out and the 4 patch keys'
    # weights re-normalised, so it is the mean distance of the grid, patch_distances' mean
    uniform = torch.full((1, 1, 1, 5, 5), 0.2, dtype=torch.float64)
    got = vit.mean_attention_distance(uniform, (2, 2), 7)
    assert got.shape == (1, 1)
    torch.testing.assert_close(got[0, 0], torch.tensor(0.25 * (14 + 7 * math.sqrt(2)),
                                                       dtype=torch.float64))
    torch.testing.assert_close(got[0, 0], d.mean())
    # the share [CLS] receives does not matter: 0.9 on [CLS], 0.1 spread evenly on the patches
    mostly_cls = torch.full((1, 1, 1, 5, 5), 0.025, dtype=torch.float64)
    mostly_cls[..., 0] = 0.9
    torch.testing.assert_close(vit.mean_attention_distance(mostly_cls, (2, 2), 7), got)
    # every patch looking only at itself: distance 0; at its diagonal opposite: 7 sqrt(2)
    # (half of each row on [CLS], half on the patch: re-normalised, all of it on the patch)
    own = torch.zeros(1, 2, 1, 5, 5, dtype=torch.float64)
    own[..., 0] = 0.5
    own[0, 0, 0, 1:, 1:] = 0.5 * torch.eye(4)
    own[0, 1, 0, 1:, 1:] = 0.5 * torch.eye(4).flip(1)
    torch.testing.assert_close(vit.mean_attention_distance(own, (2, 2), 7)[:, 0],
                               torch.tensor([0.0, 7 * math.sqrt(2)], dtype=torch.float64))
    with pytest.raises(ValueError, match="has 9 patches"):
        vit.mean_attention_distance(uniform, (3, 3), 7)
    with pytest.raises(ValueError, match=r"\(B, L, nh, T, T\)"):
        vit.attention_rollout(torch.ones(5, 5))


@pytest.mark.parametrize("kw", [{}, {"pool": "patches", "pos_embed": "sincos2d"},
                                {"patch_mode": "linear", "pool": "mean", "class_token": False}])
def test_no_host_reads_in_forward_backward_and_the_helpers(kw):
    """On "meta" tensors (a shape and a device, no values) any read of a value fails: the
    training path and the attention helpers never synchronise with the device."""
    model = vit.ViT(embed_dim=16, depth=2, num_heads=2, **kw).to("meta")
    x = torch.empty(2, 1, 28, 28, device="meta")
    model(x).sum().backward()
    maps = vit.attention_maps(model, x)
    T = model.num_prefix + 16
    assert maps.shape == (2, 2, 2, T, T)
    vit.attention_rollout(maps)
    vit.mean_attention_distance(maps, (4, 4), 7, num_prefix=model.num_prefix)
