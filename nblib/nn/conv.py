"""2-D convolution and pooling from scratch, with the names and signatures of ``torch.nn.functional``.

A convolutional layer slides one small set of weights, the *kernel*, over the input and computes,
at every position, the sum of products of the kernel with the window under it (LeCun et al.
1989; LeCun, Bottou, Bengio & Haffner 1998). For an input ``x`` of shape ``(N, C, H, W)`` and a
weight ``w`` of shape ``(O, C, kh, kw)``::

    y[n, o, i, j] = b[o] + sum_c sum_u sum_v  w[o, c, u, v] * x_pad[n, c, s*i + d*u, s*j + d*v]

with stride ``s``, dilation ``d`` and ``x_pad`` the input with ``p`` zeros on every side. This is
a *cross-correlation* (the kernel is not flipped); the convolution of signal processing flips
it, which only renames the learned weights. Each output side has length

    out = floor((size + 2p - d (k - 1) - 1) / s) + 1                       (conv_output_size)

Two implementations of the same sum:

* ``conv2d_loops``: one loop per output position, written to be read next to the formula.
* ``conv2d``: *im2col* (Chellapilla, Puri & Simard 2006): ``unfold`` copies every window into a
  column of a matrix, and the whole layer becomes one matrix product with the flattened kernel.
  ``unfold`` itself loops only over the ``kh * kw`` kernel offsets, each a strided slice.

``groups`` splits the channels into independent convolutions (``groups = C``: depthwise, as in
MobileNet, Howard et al. 2017). ``max_pool2d`` and ``avg_pool2d`` reuse the same windows.
Everything is written with slicing, ``stack``, ``einsum`` and reductions, so autograd
differentiates exactly these formulas; ``tests/lib/test_conv.py`` compares each function with
PyTorch's, forward and gradients, in float64.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from nblib import validate

__all__ = ["conv_output_size", "pad2d", "unfold", "conv2d_loops", "conv2d",
           "max_pool2d", "avg_pool2d", "measure_receptive_field"]


def _pair(name: str, value, ge: int) -> tuple[int, int]:
    """An int or a pair of ints, each ``>= ge``, as a pair ``(for H, for W)``."""
    items = (value, value) if not isinstance(value, (tuple, list)) else tuple(value)
    if len(items) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints (for H and W), got {value!r}")
    for v in items:
        validate.integer(name, v, ge=ge)
    return items


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1, ceil_mode: bool = False) -> int:
    """Length of one output side: ``floor((size + 2p - d (k - 1) - 1) / s) + 1``.

    The kernel covers ``d (k - 1) + 1`` input cells; it fits ``(size + 2p - that) / s`` times
    after its first position. ``ceil_mode`` (pooling) rounds up instead, but a last window that
    would start in the right padding is dropped, as PyTorch does.
    """
    for name, v, ge in (("size", size, 1), ("kernel_size", kernel_size, 1),
                        ("stride", stride, 1), ("padding", padding, 0),
                        ("dilation", dilation, 1)):
        validate.integer(name, v, ge=ge)
    span = dilation * (kernel_size - 1) + 1  # input cells one window covers
    room = size + 2 * padding - span
    if room < 0:
        raise ValueError(f"the kernel covers {span} cells (kernel_size {kernel_size}, dilation "
                         f"{dilation}) but the padded input has only {size + 2 * padding} "
                         f"(size {size}, padding {padding}): the output would be empty")
    if not ceil_mode:
        return room // stride + 1
    out = -(-room // stride) + 1
    if (out - 1) * stride >= size + padding:  # the last window would start in the padding
        out -= 1
    return out


def pad2d(x: Tensor, padding: tuple[int, int, int, int], value: float = 0.0) -> Tensor:
    """``x`` (..., H, W) with ``(top, bottom, left, right)`` cells of ``value`` around it."""
    top, bottom, left, right = padding
    if not any(padding):
        return x
    *lead, H, W = x.shape
    out = x.new_full((*lead, H + top + bottom, W + left + right), value)
    out[..., top:top + H, left:left + W] = x  # a copy: autograd routes the gradient back to x
    return out


def _windows(x: Tensor, kernel: tuple[int, int], stride: tuple[int, int],
             dilation: tuple[int, int], out: tuple[int, int]) -> Tensor:
    """Every window of the (already padded) ``x`` (N, C, Hp, Wp): (N, C, kh * kw, H_out, W_out).

    One strided slice per kernel offset (u, v): entry [..., u * kw + v, i, j] is
    ``x[..., s*i + d*u, s*j + d*v]``.
    """
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out
    cols = [x[:, :, dh * u: dh * u + sh * (ho - 1) + 1: sh,
              dw * v: dw * v + sw * (wo - 1) + 1: sw]
            for u in range(kh) for v in range(kw)]       # kh * kw tensors (N, C, ho, wo)
    return torch.stack(cols, dim=2)                      # (N, C, kh * kw, ho, wo)


def _check_input(x: Tensor, what: str) -> tuple[Tensor, bool]:
    """(x as (N, C, H, W), whether it was unbatched (C, H, W))."""
    validate.tensor("input", x, floating=True)
    if x.ndim == 3:
        return x.unsqueeze(0), True
    if x.ndim != 4:
        raise ValueError(f"{what}: input must have shape (N, C, H, W) or (C, H, W), "
                         f"got {tuple(x.shape)}")
    return x, False


def _same_padding(kernel, dilation, stride) -> tuple[int, int, int, int]:
    if stride != (1, 1):
        raise ValueError(f"padding='same' needs stride 1 (as in PyTorch), got stride {stride}")
    (kh, kw), (dh, dw) = kernel, dilation
    th, tw = dh * (kh - 1), dw * (kw - 1)            # total padding per side pair
    return th // 2, th - th // 2, tw // 2, tw - tw // 2  # the extra cell goes bottom / right


def _conv_setup(input, weight, bias, stride, padding, dilation, groups, what):
    """Checked arguments: x (N, C, H, W), padding (top, bottom, left, right), output size."""
    x, unbatched = _check_input(input, what)
    validate.tensor("weight", weight, floating=True, ndim=4)
    validate.positive_int("groups", groups)
    N, C, H, W = x.shape
    O, Cg, kh, kw = weight.shape
    if weight.dtype != x.dtype:
        raise TypeError(f"input and weight need one dtype, got {x.dtype} and {weight.dtype}")
    if C % groups or O % groups:
        raise ValueError(f"groups={groups} must divide the input channels ({C}) and the output "
                         f"channels ({O})")
    if Cg != C // groups:
        raise ValueError(f"weight must have shape (O, C / groups, kh, kw) = (O, {C // groups}, "
                         f"kh, kw) for input of shape {tuple(x.shape)} and groups={groups}, got "
                         f"{tuple(weight.shape)}")
    if bias is not None:
        validate.tensor("bias", bias, shape=(O,), dtype=x.dtype)
    stride, dilation = _pair("stride", stride, 1), _pair("dilation", dilation, 1)
    if isinstance(padding, str):
        validate.choice("padding", padding, ("valid", "same"))
        pads = (0, 0, 0, 0) if padding == "valid" else _same_padding((kh, kw), dilation, stride)
    else:
        ph, pw = _pair("padding", padding, 0)
        pads = (ph, ph, pw, pw)
    out = tuple(conv_output_size(n + a + b, k, s, 0, d)
                for n, (a, b), k, s, d in zip((H, W), (pads[:2], pads[2:]), (kh, kw),
                                              stride, dilation))
    return x, unbatched, pads, stride, dilation, out


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """im2col, as ``F.unfold``: (N, C, H, W) -> (N, C * kh * kw, L), one column per window.

    Rows run over (channel, kernel row, kernel column), columns over the L = H_out * W_out output
    positions in row-major order.
    """
    x, _ = _check_input(input, "unfold")
    if input.ndim != 4:
        raise ValueError(f"unfold: input must have shape (N, C, H, W), got {tuple(input.shape)}")
    kernel = _pair("kernel_size", kernel_size, 1)
    dilation, stride = _pair("dilation", dilation, 1), _pair("stride", stride, 1)
    ph, pw = _pair("padding", padding, 0)
    N, C, H, W = x.shape
    out = tuple(conv_output_size(n, k, s, p, d) for n, k, s, p, d
                in zip((H, W), kernel, stride, (ph, pw), dilation))
    cols = _windows(pad2d(x, (ph, ph, pw, pw)), kernel, stride, dilation, out)
    return cols.reshape(N, C * kernel[0] * kernel[1], out[0] * out[1])


def conv2d_loops(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                 padding=0, dilation=1, groups: int = 1) -> Tensor:
    """``F.conv2d`` as the formula reads: one output position (i, j) at a time.

    input (N, C, H, W), weight (O, C / groups, kh, kw), bias (O,) -> (N, O, H_out, W_out).
    Slow (H_out * W_out * groups small steps); ``conv2d`` computes the same with one product.
    """
    x, unbatched, pads, (sh, sw), (dh, dw), (ho, wo) = _conv_setup(
        input, weight, bias, stride, padding, dilation, groups, "conv2d_loops")
    x = pad2d(x, pads)
    O, Cg, kh, kw = weight.shape
    Og = O // groups                                     # output channels per group
    rows = []
    for i in range(ho):
        row = []
        for j in range(wo):
            # the window under the kernel: kh x kw cells, d apart, starting at (s*i, s*j)
            window = x[:, :, sh * i: sh * i + dh * (kh - 1) + 1: dh,
                       sw * j: sw * j + dw * (kw - 1) + 1: dw]       # (N, C, kh, kw)
            # each group of Og filters sees only its own Cg input channels
            y = torch.cat([
                torch.einsum("nckl,ockl->no", window[:, g * Cg:(g + 1) * Cg],
                             weight[g * Og:(g + 1) * Og])             # (N, Og)
                for g in range(groups)], dim=1)                       # (N, O)
            row.append(y)
        rows.append(torch.stack(row, dim=-1))                         # (N, O, W_out)
    y = torch.stack(rows, dim=-2)                                     # (N, O, H_out, W_out)
    if bias is not None:
        y = y + bias[:, None, None]
    return y[0] if unbatched else y


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """``F.conv2d`` by im2col: unfold every window into a column, then one matrix product.

    input (N, C, H, W) or (C, H, W), weight (O, C / groups, kh, kw), bias (O,) or None;
    ``padding`` an int, a pair, 'valid' or 'same' (stride 1). Returns (N, O, H_out, W_out).
    """
    x, unbatched, pads, stride, dilation, (ho, wo) = _conv_setup(
        input, weight, bias, stride, padding, dilation, groups, "conv2d")
    N, C = x.shape[:2]
    O, Cg, kh, kw = weight.shape
    G = groups
    cols = _windows(pad2d(x, pads), (kh, kw), stride, dilation, (ho, wo))  # (N, C, khkw, ho, wo)
    cols = cols.reshape(N, G, Cg * kh * kw, ho * wo)          # (N, G, K, L): K = Cg kh kw
    w = weight.reshape(G, O // G, Cg * kh * kw)               # (G, O/G, K)
    y = torch.einsum("gok,ngkl->ngol", w, cols)               # (N, G, O/G, L): the product
    y = y.reshape(N, O, ho, wo)
    if bias is not None:
        y = y + bias[:, None, None]
    return y[0] if unbatched else y


def _pool_setup(input, kernel_size, stride, padding, dilation, ceil_mode, what):
    x, unbatched = _check_input(input, what)
    kernel = _pair("kernel_size", kernel_size, 1)
    stride = kernel if stride is None or stride == [] else _pair("stride", stride, 1)
    padding, dilation = _pair("padding", padding, 0), _pair("dilation", dilation, 1)
    for p, k in zip(padding, kernel):
        if p > k // 2:
            raise ValueError(f"{what}: padding must be at most half the kernel size, got "
                             f"padding {padding} for kernel_size {kernel}")
    H, W = x.shape[-2:]
    out = tuple(conv_output_size(n, k, s, p, d, ceil_mode) for n, k, s, p, d
                in zip((H, W), kernel, stride, padding, dilation))
    # ceil_mode: the last window may run past the right padding; pad that far too
    extra = tuple(max(0, (o - 1) * s + d * (k - 1) + 1 - (n + 2 * p)) for o, s, d, k, n, p
                  in zip(out, stride, dilation, kernel, (H, W), padding))
    pads = (padding[0], padding[0] + extra[0], padding[1], padding[1] + extra[1])
    return x, unbatched, kernel, stride, dilation, pads, padding, out


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """``F.max_pool2d``: the largest value of each window; padding counts as minus infinity.

    input (N, C, H, W) or (C, H, W). With ``return_indices``, also the position of each
    maximum in its input plane, flattened (``h * W + w``), as PyTorch returns it.
    The gradient flows only to the maximum of each window.
    """
    x, unbatched, kernel, stride, dilation, pads, _, out = _pool_setup(
        input, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d")
    win = _windows(pad2d(x, pads, -math.inf), kernel, stride, dilation, out)
    y, arg = win.max(dim=2)                              # (N, C, H_out, W_out)
    result = y[0] if unbatched else y
    if not return_indices:
        return result
    H, W = x.shape[-2:]
    where = torch.arange(H * W, device=x.device).reshape(1, 1, H, W)   # each cell's index
    where = _windows(pad2d(where, pads, -1), kernel, stride, dilation, out)
    idx = where.expand(*win.shape).gather(2, arg.unsqueeze(2)).squeeze(2)
    return result, (idx[0] if unbatched else idx)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """``F.avg_pool2d``: the mean of each window.

    The divisor is the number of cells the window covers inside the padded input
    (``count_include_pad=True``) or inside the input itself (False), or ``divisor_override``.
    Cells added by ``ceil_mode`` past the padding never count.
    """
    x, unbatched, kernel, stride, dilation, pads, padding, out = _pool_setup(
        input, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d")
    total = _windows(pad2d(x, pads), kernel, stride, dilation, out).sum(dim=2)
    if divisor_override is not None:
        validate.positive_int("divisor_override", divisor_override)
        y = total / divisor_override
    else:
        H, W = x.shape[-2:]
        (ph, pw), extra_h, extra_w = padding, pads[1] - padding[0], pads[3] - padding[1]
        if count_include_pad:  # the zero padding counts, the ceil_mode overhang does not
            ones = pad2d(x.new_ones(1, 1, H + 2 * ph, W + 2 * pw), (0, extra_h, 0, extra_w))
        else:                  # only the input's own cells count
            ones = pad2d(x.new_ones(1, 1, H, W), pads)
        count = _windows(ones, kernel, stride, dilation, out).sum(dim=2)
        y = total / count
    return y[0] if unbatched else y



def measure_receptive_field(kernel_sizes, strides=None, dilations=None) -> int:
    """The receptive field of a stack of convolutions, *measured*: along one axis, the span of
    input cells on which the first output of the last layer depends (its gradient is non-zero).

    Layer l has kernel size ``kernel_sizes[l]``, stride ``strides[l]`` (default 1) and dilation
    ``dilations[l]`` (default 1), no padding. The weights are all ones, so no gradient cancels;
    cells inside the span that a strided stack skips still count (the span is first to last).
    """
    L = len(kernel_sizes)
    strides, dilations = list(strides or [1] * L), list(dilations or [1] * L)
    if not L or len(strides) != L or len(dilations) != L:
        raise ValueError(f"kernel_sizes, strides and dilations need one entry per layer (at "
                         f"least one), got lengths {L}, {len(strides)}, {len(dilations)}")
    n = 1
    while True:  # the shortest input (a power of 2) that gives the last layer an output
        try:
            size = n
            for k, s, d in zip(kernel_sizes, strides, dilations):
                size = conv_output_size(size, k, s, 0, d)
            break
        except ValueError:
            n *= 2
    x = torch.zeros(1, 1, 1, n, dtype=torch.float64, requires_grad=True)
    y = x
    for k, s, d in zip(kernel_sizes, strides, dilations):
        y = torch.nn.functional.conv2d(y, y.new_ones(1, 1, 1, k), stride=(1, s),
                                       dilation=(1, d))
    y[0, 0, 0, 0].backward()
    hit = x.grad[0, 0, 0].nonzero().flatten()
    return int(hit[-1] - hit[0] + 1)
