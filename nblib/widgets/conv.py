"""`ConvStepper`: watch a kernel slide over a small input, one output cell per step.

Each frame shows four matrices side by side (the ``'matrix'`` renderer of :class:`Stepper`):

1. the input, with its zero padding, the cells under the kernel outlined (with dilation ``d``
   they are ``d`` cells apart; with stride ``s`` the window jumps ``s`` cells per output cell);
2. the kernel ``w``;
3. the products ``x * w`` of the window's cells with the kernel entries on them;
4. the output ``y``, filled in up to the current cell (``?`` = not computed yet).

The caption writes the current output cell as its sum of products, with the numbers::

    y[0, 1] = 2×1 + 0×0 + 1×(-1) + ... = 3

One frame first (the sizes and the output-size formula), one per output cell in row-major
order, and a last frame that compares the whole output with ``torch.nn.functional.conv2d``.
Frames are computed here, in Python, so the widget works in the static book. Single channel,
as in the pictures of every textbook; the chapter's ``nblib.nn.conv`` does the rest.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from nblib import validate

from .stepper import Stepper, jsonable

__all__ = ["ConvStepper", "conv_frames", "MAX_SIDE"]

MAX_SIDE = 12  # the renderer writes numbers into cells only up to 12 columns: keep them legible


def _fmt(x: float) -> str:
    """A number as a reader writes it: 4 significant digits, no trailing zeros (as stepper.js)."""
    x = float(x)
    if x == int(x) and abs(x) < 1e6:
        return str(int(x))
    return f"{x:.4g}"


def _paren(x: float) -> str:
    s = _fmt(x)
    return f"({s})" if s.startswith("-") else s


def _as_matrix(name: str, value) -> torch.Tensor:
    t = value if isinstance(value, torch.Tensor) else torch.as_tensor(value)
    t = t.detach().to("cpu", torch.float64)
    if t.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix (one channel), got shape {tuple(t.shape)}")
    return t


def conv_frames(x, weight, bias: float = 0.0, stride: int = 1, padding: int = 0,
                dilation: int = 1) -> list[dict[str, Any]]:
    """Frames of a single-channel convolution (cross-correlation, as ``F.conv2d``).

    ``x`` (H, W) and ``weight`` (kh, kw): tensors, arrays or nested lists. Every frame has
    ``matrices``, ``caption`` and ``rule``; an output-cell frame also has ``cell`` ([i, j]) and
    ``value`` (its sum of products), for tests and for readers of the saved state.
    """
    x, w = _as_matrix("x", x), _as_matrix("weight", weight)
    s = validate.positive_int("stride", stride)
    p = validate.integer("padding", padding, ge=0)
    d = validate.positive_int("dilation", dilation)
    b = float(validate.number("bias", float(bias) if isinstance(bias, torch.Tensor) else bias))
    (H, W), (kh, kw) = x.shape, w.shape
    if max(H, W) + 2 * p > MAX_SIDE or max(kh, kw) > MAX_SIDE:
        raise ValueError(f"the stepper writes every number: keep the padded input within "
                         f"{MAX_SIDE} x {MAX_SIDE} cells, got {H + 2 * p} x {W + 2 * p} "
                         f"(input {H} x {W}, padding {p})")
    span_h, span_w = d * (kh - 1) + 1, d * (kw - 1) + 1  # input cells the kernel covers
    if span_h > H + 2 * p or span_w > W + 2 * p:
        raise ValueError(f"the kernel covers {span_h} x {span_w} cells (shape {kh} x {kw}, "
                         f"dilation {d}) but the padded input has {H + 2 * p} x {W + 2 * p}")
    ho, wo = (H + 2 * p - span_h) // s + 1, (W + 2 * p - span_w) // s + 1
    xp = F.pad(x, (p, p, p, p))                           # (H + 2p, W + 2p), zeros around
    labels = [[str(r - p) if 0 <= r - p < n else "pad" for r in range(n + 2 * p)]
              for n in (H, W)]
    y: list[list[float | None]] = [[None] * wo for _ in range(ho)]
    b_text = f" + b" if b else ""
    rule = (f"y[i, j] = Σ_u Σ_v x[{s}·i + {d}·u − {p}, {s}·j + {d}·v − {p}] · w[u, v]{b_text}"
            .replace("1·", "").replace(" − 0", ""))

    def matrices(window=(), products=None, current=None):
        return [
            {"name": "input x" + (" (padded)" if p else ""), "data": xp,
             "highlight": list(window), "row_labels": labels[0], "col_labels": labels[1]},
            {"name": "kernel w", "data": w},
            {"name": "x · w", "data": products if products is not None
             else [[None] * kw for _ in range(kh)]},
            {"name": "output y", "data": [row[:] for row in y],
             "highlight": [list(current)] if current else []},
        ]

    sizes = (f"out = ⌊({H} + 2·{p} − {d}·({kh} − 1) − 1) / {s}⌋ + 1 = {ho} rows and "
             f"⌊({W} + 2·{p} − {d}·({kw} − 1) − 1) / {s}⌋ + 1 = {wo} columns")
    pad_note = f" (outside rows 0..{H - 1}, columns 0..{W - 1}: padding zeros)" if p else ""
    frames = [{
        "label": "setup", "matrices": matrices(), "rule": rule,
        "caption": (f"A {kh}×{kw} kernel slides over a {H}×{W} input (stride {s}, padding {p}, "
                    f"dilation {d}). The output has one cell per position of the kernel: "
                    f"{sizes}. Watch the outlined window move {s} cell{'s' * (s > 1)} per step."),
    }]
    for i in range(ho):
        for j in range(wo):
            window = [[s * i + d * u, s * j + d * v] for u in range(kh) for v in range(kw)]
            cells = xp[s * i: s * i + span_h: d, s * j: s * j + span_w: d]   # (kh, kw)
            products = cells * w
            value = float(products.sum()) + b
            y[i][j] = value
            terms = " + ".join(f"{_paren(a)}×{_paren(c)}"
                               for a, c in zip(cells.flatten().tolist(), w.flatten().tolist()))
            rows = f"{s * i - p}..{s * i - p + span_h - 1}"
            cols = f"{s * j - p}..{s * j - p + span_w - 1}"
            frames.append({
                "label": f"output cell ({i}, {j})", "cell": [i, j], "value": value,
                "matrices": matrices(window, products, (i, j)), "rule": rule,
                "caption": (f"The kernel covers input rows {rows}, columns {cols}"
                            f"{f', every {d}th cell' if d > 1 else ''}{pad_note}. Multiply each "
                            f"outlined cell by the kernel entry on it and add up: "
                            f"y[{i}, {j}] = {terms}{f' + {_paren(b)}' if b else ''} "
                            f"= {_fmt(value)}."),
            })
    ours = torch.tensor(y, dtype=torch.float64)
    theirs = F.conv2d(x[None, None], w[None, None], torch.tensor([b], dtype=torch.float64),
                      stride=s, padding=p, dilation=d)[0, 0]
    diff = float((ours - theirs).abs().max())
    frames.append({
        "label": "done", "matrices": matrices(), "rule": rule,
        "caption": (f"All {ho * wo} output cells computed, each from the same {kh * kw} "
                    f"weights (weight sharing). torch.nn.functional.conv2d gives the same "
                    f"output: largest difference {diff:.1e}."),
    })
    return jsonable(frames, ndigits=4)


class ConvStepper(Stepper):
    """Step through a single-channel ``conv2d``: the kernel slides, each output cell appears
    with its sum of products.

    >>> ConvStepper(torch.arange(25.).reshape(5, 5), [[1, 0], [0, -1]])   # doctest: +SKIP
    ConvStepper(steps=18, renderer='matrix', title='A 2×2 kernel over a 5×5 input')
    """

    def __init__(self, x, weight, bias: float = 0.0, stride: int = 1, padding: int = 0,
                 dilation: int = 1, title: str | None = None, **kwargs: Any) -> None:
        frames = conv_frames(x, weight, bias, stride, padding, dilation)
        if title is None:
            (kh, kw), (H, W) = _as_matrix("weight", weight).shape, _as_matrix("x", x).shape
            extras = ", ".join(f"{k} {v}" for k, v, default in
                               (("stride", stride, 1), ("padding", padding, 0),
                                ("dilation", dilation, 1)) if v != default)
            title = f"A {kh}×{kw} kernel over a {H}×{W} input" + (f" ({extras})" if extras else "")
        super().__init__(frames, renderer="matrix", title=title, **kwargs)
