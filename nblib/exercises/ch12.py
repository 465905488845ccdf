"""Public checks of chapter 12, the transformer (registered on import)."""
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from nblib.exercises.ch11 import names_used
from nblib.exercises.expect import expect_close, expect_dtype, expect_shape, expect_true
from nblib.exercises.registry import public_check

__all__ = ["layer_norm_autograd", "rotary_reference", "packed_mask_reference",
           "REVERSE_SETTINGS", "REVERSE_KEYS", "reverse_task", "reverser", "reverse_accuracy"]


def _unchanged(before, after, what, hint):
    expect_true(all(torch.equal(a, b) for a, b in zip(before, after)),
                f"{what} to be left unchanged (no in-place operations)", hint=hint)


IN_PLACE = ("an operation ending in _ (such as sub_ or masked_fill_) changed an input",
            "compute new tensors instead of modifying the inputs")


# ------------------------------------------------------------------ 12-layer-norm-backward
def layer_norm_autograd(x, weight, dout, eps=1e-5):
    """Autograd's (dx, dweight, dbias) of F.layer_norm over the last dimension (bias 0)."""
    leaves = [t.detach().clone().requires_grad_(True)
              for t in (x, weight, torch.zeros_like(weight))]
    y = F.layer_norm(leaves[0], (x.shape[-1],), leaves[1], leaves[2], eps)
    return list(torch.autograd.grad(y, leaves, dout))


LN_FORBIDDEN = {"backward", "autograd", "grad", "func", "functorch", "layer_norm",
                "native_layer_norm", "LayerNorm"}


@public_check("12-layer-norm-backward")
def _(layer_norm_backward):
    g = torch.Generator().manual_seed(12)
    hints = ("recompute the forward pass (mean, variance, x-hat) and go back through it: the "
             "gradient reaches x through x-hat directly and through the mean and the "
             "variance, which every feature of the token shares",
             "work per token over its D features: with g = dout * weight, dx is "
             "1/sigma times (g minus the mean of g minus x-hat times the mean of g * x-hat); "
             "dweight and dbias sum over every leading dimension")
    used = names_used(layer_norm_backward) & LN_FORBIDDEN
    expect_true(not used, "a backward pass written by hand, without autograd or a library "
                f"layer norm (the code uses {sorted(used)})",
                hint=("the exercise is to derive the gradients: autograd would do it for you",
                      hints[0]))
    for shape, scale in (((3, 5), 1.0), ((2, 4, 6), 3.0), ((1, 1), 1.0), ((4, 2), 1e-3)):
        x = torch.randn(shape, dtype=torch.float64, generator=g) * scale + 2.0
        w = torch.randn(shape[-1], dtype=torch.float64, generator=g)
        dout = torch.randn(shape, dtype=torch.float64, generator=g)
        copies = [t.clone() for t in (x, w, dout)]
        out = layer_norm_backward(x, w, dout)
        expect_true(isinstance(out, (tuple, list)) and len(out) == 3,
                    "layer_norm_backward to return three tensors (dx, dweight, dbias)",
                    hint="one gradient per input: x, weight and bias, in that order")
        case = f"(x of shape {shape}{', tiny spread' if scale < 1 else ''})"
        for name, got, ref in zip(("dx", "dweight", "dbias"), out, (x, w, w)):
            expect_shape(got, tuple(ref.shape), what=f"{name} {case}",
                         hint=("each gradient has the shape of what it differentiates",
                               "dweight and dbias are (D,): sum over all leading dimensions"))
        expected = layer_norm_autograd(x, w, dout)
        for name, got, ref in zip(("dbias", "dweight", "dx"), out[::-1], expected[::-1]):
            expect_close(got, ref, rtol=1e-7, atol=1e-9, what=f"{name} {case}",
                         hint=(("eps sits inside the square root: sigma = sqrt(var + eps), "
                                "with the biased variance (divide by D)", hints[1])
                               if scale < 1 else hints))
        _unchanged(copies, (x, w, dout), "x, weight and dout", IN_PLACE)


# ------------------------------------------------------------------------------ 12-rotary
def rotary_reference(x, offset=0, base=10000.0):
    """RoPE written one pair at a time, in float64 (the exercise's formula, slowly)."""
    *lead, T, d = x.shape
    x64 = x.double().reshape(-1, T, d)
    out = torch.empty_like(x64)
    for t in range(T):
        for i in range(d // 2):
            a = (offset + t) * base ** (-2 * i / d)
            c, s = math.cos(a), math.sin(a)
            x0, x1 = x64[:, t, 2 * i], x64[:, t, 2 * i + 1]
            out[:, t, 2 * i] = x0 * c - x1 * s
            out[:, t, 2 * i + 1] = x0 * s + x1 * c
    return out.reshape(*lead, T, d)


@public_check("12-rotary")
def _(rotary):
    g = torch.Generator().manual_seed(21)
    hints = ("pair feature 2i with feature 2i+1 and turn each pair, as a point in the "
             "plane, by its own angle: position times a frequency that falls with i",
             "build the (T, d/2) angles from an arange of positions (plus offset) and the "
             "d/2 frequencies base ** (-2i/d); take the even and odd features with [..., 0::2] "
             "and [..., 1::2], rotate, and interleave them back (torch.stack(..., -1) then "
             "flatten)")
    for shape, offset, base in (((1, 3, 4), 0, 1e4), ((2, 3, 5, 6), 7, 1e4),
                                ((1, 1, 2), 0, 1e4), ((4, 8), 3, 100.0)):
        x = torch.randn(shape, dtype=torch.float64, generator=g)
        copy = x.clone()
        got = rotary(x, offset, base)
        case = f"(x of shape {shape}, offset {offset}, base {base:g})"
        expect_shape(got, shape, what=f"rotary's output {case}",
                     hint=("a rotation keeps the shape", hints[1]))
        expect_close(got, rotary_reference(x, offset, base), rtol=1e-7, atol=1e-9,
                     what=f"rotary's output {case}", hint=hints)
        _unchanged([copy], [x], "x", IN_PLACE)
    x32 = torch.randn(2, 5, 8, generator=g)
    got = rotary(x32, 2)
    expect_dtype(got, torch.float32, what="rotary on float32 input",
                 hint=("return the input's dtype", "compute the angles in any precision, "
                       "then convert cos and sin to x.dtype"))
    expect_close(got, rotary_reference(x32, 2).float(), rtol=1e-5, atol=1e-5,
                 what="rotary on float32 input", hint=hints)
    # what RoPE is for: q.k depends on the offset between the two positions only
    q, k = (torch.randn(1, 1, 8, dtype=torch.float64, generator=g) for _ in range(2))
    dots = [(rotary(q, m) * rotary(k, m - 3)).sum().item() for m in (3, 10, 50)]
    expect_close(dots[1:], dots[:1] * 2, rtol=1e-9, atol=1e-9,
                 what="the score of a query at m and a key at m - 3, for m = 3, 10, 50",
                 hint=("a rotation by m followed by the inverse rotation by n is a rotation "
                       "by m - n: if the scores change with m, the angle does not grow "
                       "linearly with the position", hints[1]))


# ------------------------------------------------------------------------- 12-packed-mask
def packed_mask_reference(segments):
    """The exercise's rule, one entry at a time: (B, T, T) bool, True = may attend."""
    B, T = segments.shape
    out = torch.zeros(B, T, T, dtype=torch.bool)
    for b in range(B):
        for i in range(T):
            for j in range(T):
                si, sj = int(segments[b, i]), int(segments[b, j])
                out[b, i, j] = (i == j) if si == 0 else (si == sj and j <= i)
    return out


@public_check("12-packed-mask")
def _(packed_causal_mask):
    hints = ("three conditions, combined with & (and |): the key sits in the query's "
             "sequence, the key is not after the query, and padding attends to itself",
             "compare segments[:, :, None] with segments[:, None, :] for 'same sequence' "
             "(B, T, T); a (T, T) lower triangle for 'not after'; the diagonal for padding "
             "rows")
    cases = [torch.tensor([[1, 1, 1, 2, 2, 0]]),
             torch.tensor([[3, 3, 1, 1, 1, 1, 0, 0], [5, 7, 7, 7, 2, 2, 2, 9]]),
             torch.tensor([[4]]), torch.tensor([[0, 0], [1, 1]])]
    for seg in cases:
        copy = seg.clone()
        got = packed_causal_mask(seg)
        B, T = seg.shape
        case = f"segments {seg.tolist()}"
        expect_shape(got, (B, T, T), what=f"the mask for {case}",
                     hint=("one (T, T) mask per row of the batch", hints[1]))
        expect_dtype(got, torch.bool, what=f"the mask for {case}",
                     hint=("True where a query may attend: a boolean tensor",
                           "comparisons give booleans; combine them with & and |"))
        expect_close(got, packed_mask_reference(seg), what=f"the mask for {case}", hint=hints)
        _unchanged([copy], [seg], "segments", IN_PLACE)
    # used as an attention mask, each packed sequence attends as if it were alone
    g = torch.Generator().manual_seed(4)
    seg = torch.tensor([[2, 2, 2, 1, 1, 0]])
    q, k, v = (torch.randn(1, 2, 6, 4, generator=g) for _ in range(3))
    packed = F.scaled_dot_product_attention(q, k, v, attn_mask=packed_causal_mask(seg)[:, None])
    alone = torch.cat([F.scaled_dot_product_attention(q[..., a:b, :], k[..., a:b, :],
                                                      v[..., a:b, :], is_causal=True)
                       for a, b in ((0, 3), (3, 5))], dim=2)
    expect_close(packed[..., :5, :], alone, rtol=1e-5, atol=1e-6,
                 what="attention over the packed row, compared with each sequence alone",
                 hint=hints)


# ----------------------------------------------------------------------- 12-train-reverser
REVERSE_SETTINGS = dict(length=8, n_symbols=10, d_model=32, nhead=4, dim_feedforward=64)
REVERSE_KEYS = ("embed.weight", "pos.weight", "layer.self_attn.in_proj_weight",
                "layer.self_attn.in_proj_bias", "layer.self_attn.out_proj.weight",
                "layer.self_attn.out_proj.bias", "layer.linear1.weight", "layer.linear1.bias",
                "layer.linear2.weight", "layer.linear2.bias", "layer.norm1.weight",
                "layer.norm1.bias", "layer.norm2.weight", "layer.norm2.bias", "head.weight",
                "head.bias")


def reverse_task(n: int, seed: int, length: int = 8, n_symbols: int = 10):
    """``n`` random token sequences ``x`` (n, length) and their reversals ``y``."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, n_symbols, (n, length), generator=g)
    return x, x.flip(1)


class Reverser(nn.Module):
    """embed(x) + pos -> one nn.TransformerEncoderLayer (post-norm) -> head, per position."""

    def __init__(self, length=8, n_symbols=10, d_model=32, nhead=4, dim_feedforward=64):
        super().__init__()
        self.embed = nn.Embedding(n_symbols, d_model)
        self.pos = nn.Embedding(length, d_model)
        self.layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0.0,
                                                batch_first=True)
        self.head = nn.Linear(d_model, n_symbols)

    def forward(self, x):                                        # (B, T) int64
        h = self.embed(x) + self.pos.weight[:x.shape[1]]         # (B, T, C)
        return self.head(self.layer(h))                          # (B, T, V) logits


def reverser(state=None) -> Reverser:
    """The exercise's model, with ``state`` (a dict named as ``REVERSE_KEYS``) loaded."""
    model = Reverser(**REVERSE_SETTINGS)
    if state is not None:
        if not isinstance(state, dict) or set(state) != set(REVERSE_KEYS):
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"expected a dict with exactly the keys {list(REVERSE_KEYS)}, "
                             f"got {got}")
        model.load_state_dict({k: torch.as_tensor(v).float() for k, v in state.items()})
    return model.eval()


def reverse_accuracy(state, x, y) -> float:
    """Fraction of tokens of ``y`` that the model ``state`` predicts from ``x``."""
    with torch.no_grad():
        return (reverser(state)(x).argmax(-1) == y).float().mean().item()


@public_check("12-train-reverser")
def _(train_reverser):
    x, y = reverse_task(2000, seed=120)
    start = time.process_time()
    state = train_reverser(x, y, 0)
    seconds = time.process_time() - start
    expect_true(isinstance(state, dict), "train_reverser to return a dict of tensors",
                hint=("return the trained model's parameters, not the model",
                      "{k: v.detach() for k, v in model.state_dict().items()}"))
    try:
        reverser(state)
    except (ValueError, RuntimeError) as err:
        expect_true(False, f"the returned parameters to describe the stated model ({err})",
                    hint=("embed = nn.Embedding(10, 32), pos = nn.Embedding(8, 32), layer = "
                          "nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, "
                          "batch_first=True), head = nn.Linear(32, 10)",
                          "the keys are " + ", ".join(REVERSE_KEYS)))
    x_new, y_new = reverse_task(2000, seed=121)
    acc = reverse_accuracy(state, x_new, y_new)
    expect_true(acc >= 0.95, f"at least 95 % of the tokens of 2000 new sequences right (got "
                f"{100 * acc:.1f} %)",
                hint=("is the position table added to the token embeddings, and trained? "
                      "Without it the layer cannot tell the positions apart",
                      "Adam with a learning rate around 1e-2, batches of about 128, a few "
                      "hundred steps; the loss is a cross-entropy at every position"))
    expect_true(seconds < 10.0, f"training to take under 10 s of CPU time (took "
                f"{seconds:.1f} s)", hint=("fewer steps or larger batches",
                                           "the grader stops the question after 10 s"))
