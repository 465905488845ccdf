"""Public checks of chapter 14, the Vision Transformer (registered on import)."""
import ast
import inspect
import math
import textwrap

import torch
import torch.nn.functional as F

from nblib.exercises.ch11 import names_used
from nblib.exercises.expect import expect_close, expect_dtype, expect_shape, expect_true
from nblib.exercises.registry import public_check

__all__ = ["patches_of", "patch_embed_autograd", "bilinear_by_definition", "loops_in"]


def patches_of(x, P):
    """(B, C, H, W) -> (B, N, C*P*P), patches row by row, each flattened as (C, P, P): PyTorch's
    ``F.unfold`` (im2col) with kernel and stride ``P``."""
    return F.unfold(x, P, stride=P).transpose(1, 2)


def patch_embed_autograd(x, weight, bias, dout):
    """Autograd's (dx, dweight, dbias) of the patch embedding
    out = Conv2d(x; weight, bias, stride P) as (B, N, D), for the upstream ``dout``."""
    leaves = [t.detach().clone().requires_grad_(True) for t in (x, weight, bias)]
    P = weight.shape[-1]
    out = F.conv2d(leaves[0], leaves[1], leaves[2], stride=P).flatten(2).transpose(1, 2)
    return list(torch.autograd.grad(out, leaves, dout))


def bilinear_by_definition(grid, new_h, new_w):
    """Bilinear resizing of ``grid`` (h, w, D) to (new_h, new_w, D), written out point by point
    with the half-pixel convention (align_corners=False): output row ``i`` samples the input at
    ``(i + 0.5) h / new_h - 0.5``, clamped to the grid, between its two nearest rows."""
    h, w, _ = grid.shape

    def taps(i, n_in, n_out):
        s = min(max((i + 0.5) * n_in / n_out - 0.5, 0.0), n_in - 1)
        lo = int(math.floor(s))
        hi = min(lo + 1, n_in - 1)
        return lo, hi, s - lo

    rows = []
    for i in range(new_h):
        r0, r1, a = taps(i, h, new_h)
        row = []
        for j in range(new_w):
            c0, c1, b = taps(j, w, new_w)
            top = (1 - b) * grid[r0, c0] + b * grid[r0, c1]
            bottom = (1 - b) * grid[r1, c0] + b * grid[r1, c1]
            row.append((1 - a) * top + a * bottom)
        rows.append(torch.stack(row))
    return torch.stack(rows)                                   # (new_h, new_w, D)


def loops_in(fn) -> list[str]:
    """The Python loops (for, while, comprehensions) in ``fn``'s source (empty if unreadable)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return []
    kinds = (ast.For, ast.While, ast.ListComp, ast.GeneratorExp, ast.SetComp, ast.DictComp)
    return sorted({type(n).__name__ for n in ast.walk(tree) if isinstance(n, kinds)})


def _unchanged(before, after, what):
    expect_true(all(torch.equal(a, b) for a, b in zip(before, after)),
                f"{what} to be left unchanged (no in-place operations)",
                hint=("an operation ending in _ (such as copy_ or mul_) changed an input",
                      "compute new tensors instead of modifying the inputs"))


UNPATCHIFY_FORBIDDEN = {"fold", "Fold"}
# What the graded tests of 14-patch-embed-backward forbid (.backward, torch.autograd, .grad,
# torch.func, functorch), as the names the learner's code would contain.
AUTOGRAD_NAMES = {"backward", "autograd", "grad", "func", "functorch"}


@public_check("14-unpatchify")
def _(unpatchify):
    hints = ("a patch's C*P*P numbers are (channel, row in the patch, column in the patch); "
             "the patches come row by row. Give each of those a dimension of its own, then "
             "bring the two row indices together and the two column indices together",
             "split the tokens into the grid's (rows, columns) and each patch into (C, P, P); "
             "then order the axes so that channels follow the batch and each grid axis sits "
             "just before its within-patch partner: one reshape merges each pair into H and "
             "W. A plain reshape of the patches to (B, C, H, W) scrambles the pixels")
    used = sorted(names_used(unpatchify) & UNPATCHIFY_FORBIDDEN)
    expect_true(not used, f"no library inverse of unfold (the code uses {used})",
                hint=("the exercise is to place the pixels yourself", hints[0]))
    loops = loops_in(unpatchify)
    expect_true(not loops, f"no Python loops (the code has {loops})",
                hint=("every patch moves the same way: one reshape, one permute, one reshape",
                      hints[1]))
    g = torch.Generator().manual_seed(14)
    for B, C, H, W, P in ((2, 1, 4, 4, 2), (1, 3, 6, 4, 2), (2, 2, 12, 8, 4), (1, 1, 5, 5, 5),
                          (3, 2, 3, 2, 1)):
        x = torch.randn(B, C, H, W, dtype=torch.float64, generator=g)
        patches = patches_of(x, P)                                  # (B, N, C*P*P)
        copy = patches.clone()
        case = f"unpatchify of patches of a (B={B}, C={C}, H={H}, W={W}) batch, P={P}"
        got = unpatchify(patches, P, H, W)
        expect_shape(got, (B, C, H, W), what=case,
                     hint=("the images: (B, C, H, W); C is the patch length over P*P", hints[1]))
        expect_close(got, x, rtol=0, atol=0, what=case, hint=hints)
        _unchanged([copy], [patches], "the patches")
    p32 = patches_of(torch.rand(2, 1, 28, 28, generator=g), 7)
    expect_dtype(unpatchify(p32, 7, 28, 28), torch.float32, what="unpatchify of float32 patches",
                 hint=("keep the patches' dtype", "reshape and permute never change it"))


@public_check("14-patch-embed-backward")
def _(patch_embed_backward):
    hints = ("the forward is out = patches @ W^T + b, with patches (B, N, C*P*P) cut from x and "
             "W the filters flattened to (D, C*P*P): the backward of a linear layer, then put "
             "the patches' gradient back where the patches came from",
             "three gradients of one linear layer applied to every patch, each summed over "
             "the batch and the patches: for the bias, for the weight (then back to the "
             "filters' shape (D, C, P, P)) and for the patches; each pixel lies in exactly "
             "one patch, so the patches' gradient goes back to the pixels by undoing the cut")
    used = sorted(names_used(patch_embed_backward) & AUTOGRAD_NAMES)
    expect_true(not used, f"no autograd (the code uses {used})",
                hint=("derive the gradients by hand: the backward of one linear layer applied "
                      "to every patch", hints[0]))
    g = torch.Generator().manual_seed(41)
    for B, C, H, W, P, D in ((1, 1, 4, 4, 2, 3), (2, 3, 6, 4, 2, 5), (2, 1, 7, 7, 7, 4),
                             (1, 2, 3, 3, 1, 2)):
        x = torch.randn(B, C, H, W, dtype=torch.float64, generator=g)
        weight = torch.randn(D, C, P, P, dtype=torch.float64, generator=g)
        N = (H // P) * (W // P)
        dout = torch.randn(B, N, D, dtype=torch.float64, generator=g)
        copies = [t.clone() for t in (x, weight, dout)]
        out = patch_embed_backward(x, weight, dout)
        expect_true(isinstance(out, (tuple, list)) and len(out) == 3,
                    "patch_embed_backward to return three tensors (dx, dweight, dbias)",
                    hint="one gradient per input of the forward: x, weight and bias")
        case = f"(B={B}, C={C}, H={H}, W={W}, P={P}, D={D})"
        expected = patch_embed_autograd(x, weight, torch.zeros(D, dtype=torch.float64), dout)
        for name, got, ref in zip(("dx", "dweight", "dbias"), out, expected):
            expect_shape(got, tuple(ref.shape), what=f"{name} {case}",
                         hint=("each gradient has the shape of its input: x (B, C, H, W), "
                               "weight (D, C, P, P), bias (D,)", hints[1]))
            expect_close(got, ref, rtol=1e-10, atol=1e-12, what=f"{name} {case}", hint=hints)
        _unchanged(copies, (x, weight, dout), "x, weight and dout")


@public_check("14-resize-pos-embed")
def _(resize_pos_embed):
    hints = ("set the prefix rows ([CLS]) aside; the other rows are an image of D channels on "
             "the old grid, row by row: resize that image, then flatten it back to rows",
             "view the grid rows as one image of D channels, batch first and channels "
             "before the two grid axes (mind the order: the rows are (gh, gw, D)), resize it "
             "as the exercise says, then undo the same moves to get nh * nw rows, row by row, "
             "with the prefix rows in front")
    g = torch.Generator().manual_seed(7)
    for old, new, prefix, D in (((2, 2), (4, 4), 1, 3), ((4, 4), (4, 4), 1, 5),
                                ((2, 3), (3, 5), 1, 4), ((4, 4), (2, 2), 0, 2),
                                ((3, 2), (5, 4), 2, 3)):
        pos = torch.randn(prefix + old[0] * old[1], D, dtype=torch.float64, generator=g)
        copy = pos.clone()
        case = f"resize_pos_embed from a {old} grid to {new}, {prefix} prefix row(s), D = {D}"
        got = resize_pos_embed(pos, old, new, prefix)
        expect_shape(got, (prefix + new[0] * new[1], D), what=case,
                     hint=("the prefix rows, then one row per patch of the new grid", hints[0]))
        want = torch.cat([pos[:prefix], bilinear_by_definition(
            pos[prefix:].reshape(*old, D), *new).reshape(-1, D)])
        expect_close(got[:prefix], pos[:prefix], rtol=0, atol=0,
                     what=f"the prefix rows ({case})",
                     hint=("[CLS] has no place on the grid: keep its row as it is", hints[0]))
        expect_close(got, want, rtol=1e-10, atol=1e-12, what=case, hint=hints)
        _unchanged([copy], [pos], "pos")
    pos32 = torch.randn(1 + 16, 8, generator=g)
    expect_dtype(resize_pos_embed(pos32, (4, 4), (8, 8), 1), torch.float32,
                 what="resizing a float32 table", hint=("keep the table's dtype",
                                                        "interpolation keeps it; so does cat"))
