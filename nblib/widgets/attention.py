"""`AttentionStepper`: pick a query token, then watch its attention computed one operation at a time.

For each head and each chosen query ``i`` the stepper has five frames, in the order of
``softmax(q k^T / sqrt(d_k) + M) v`` (Vaswani et al. 2017; the pictures of Alammar's
"The Illustrated Transformer", 2018, played):

1. ``scores``:  ``q_i . k_j`` for every key ``j`` (the query and key vectors are shown);
2. ``scaled``:  divided by ``sqrt(d_k)`` (or multiplied by ``scale``);
3. ``masked``:  ``-inf`` where the mask forbids (the future, padding), the float mask added;
4. ``softmax``: the weights, positive and summing to 1, drawn as bars;
5. ``output``:  the weighted sum of the value vectors.

Buttons above the drawing choose the head (the same query and operation in another head) and
the query token (its first frame). The numbers come from
:func:`nblib.nn.attention.attention_steps`, the function the chapter tests against PyTorch.
Generic inputs: any token labels (words, word pieces, image patches) and per-head ``q``, ``k``,
``v`` tensors, e.g. read out of a trained model. Every frame is computed here, up front, so
the stepper works in the static book without a kernel.

**Image patches** (a Vision Transformer): give ``image`` (H, W) and ``patch_size``, and the
keys' last ``(H / P)(W / P)`` tokens are read as the image's patches, row by row (the tokens
before them, such as [CLS], are *prefix* tokens; ``patch_tokens`` makes the labels
``"[CLS]", "p(0,0)", ...``). Each frame then also draws the image, the query's patch outlined
and every key patch shaded by the numbers of the current step (scores, then weights).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import torch

from nblib import validate
from nblib.nn.attention import attention_steps

from .stepper import Stepper, jsonable

__all__ = ["AttentionStepper", "attention_frames", "patch_tokens", "OPERATIONS"]

OPERATIONS = ("scores", "scaled", "masked", "softmax", "output")
_COLUMN_NAMES = ("q·k", "÷√d", "masked", "softmax")
NEG_INF = "−∞"


def _heads_first(name: str, t, n_heads: int | None) -> torch.Tensor:
    validate.tensor(name, t, floating=True)
    if t.ndim == 2:
        t = t.unsqueeze(0)
    if t.ndim != 3:
        raise ValueError(f"{name} must have shape (T, d) or (heads, T, d), got {tuple(t.shape)}")
    if n_heads is not None and t.shape[0] != n_heads:
        raise ValueError(f"{name} has {t.shape[0]} heads, query has {n_heads}: give q, k and v "
                         f"the same (heads, T, d) layout")
    return t.detach().double().cpu()


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def patch_tokens(grid, prefix: Sequence[str] = ("[CLS]",)) -> list[str]:
    """Token labels of a ViT's input: the ``prefix`` tokens, then ``"p(r,c)"`` for the patches
    of a ``grid`` of (rows, columns), row by row."""
    gh, gw = (grid, grid) if isinstance(grid, int) else grid
    return [str(t) for t in prefix] + [f"p({r},{c})" for r in range(gh) for c in range(gw)]


def _patch_view(image, patch_size: int, S: int, self_attention: bool) -> dict[str, Any]:
    """The part of a frame that draws the image (see ``attention_frames``'s ``image``)."""
    validate.tensor("image", image, floating=True)
    img = image.detach().double().cpu()
    if img.ndim == 3 and img.shape[0] == 1:
        img = img[0]
    if img.ndim != 2:
        raise ValueError(f"image must be one grayscale image (H, W) or (1, H, W), got "
                         f"{tuple(image.shape)}")
    H, W = img.shape
    P = validate.positive_int("patch_size", patch_size)
    if H % P or W % P:
        raise ValueError(f"patch_size = {P} must divide the image size {H} x {W}")
    gh, gw = H // P, W // P
    prefix = S - gh * gw
    if prefix < 0:
        raise ValueError(f"an image of {H} x {W} in patches of {P} has {gh * gw} patches, but "
                         f"there are only {S} keys")
    lo, hi = float(img.min()), float(img.max())
    grey = ((img - lo) / (hi - lo) if hi > lo else torch.zeros_like(img)) * 255
    places = [None] * prefix + [[r, c] for r in range(gh) for c in range(gw)]
    return {"height": H, "width": W, "patch": P, "key_patches": places,
            "pixels": bytes(grey.round().to(torch.uint8).flatten().tolist()).hex(),
            "self_attention": self_attention}


def attention_frames(tokens: Sequence[str], q, k, v, *, query_tokens: Sequence[str] | None = None,
                     queries: Sequence[int] | None = None, heads: Sequence[int] | None = None,
                     head_names: Sequence[str] | None = None, attn_mask=None,
                     is_causal: bool = False, scale: float | None = None, dims: int = 4,
                     ndigits: int = 3, image=None,
                     patch_size: int | None = None) -> list[dict[str, Any]]:
    """Frames of the attention of each chosen query, per head (see the module docstring).

    tokens: the S key labels; q (H, L, d) or (L, d); k (H, S, d) or (S, d); v (H, S, dv) or
    (S, dv). ``query_tokens`` (L labels) defaults to ``tokens`` (self-attention).
    ``queries`` / ``heads``: indices to include (default all). ``attn_mask``: boolean (True =
    attend) or float, broadcastable to (H, L, S), as in ``F.scaled_dot_product_attention``.
    ``dims``: how many leading dimensions of each q, k, v vector to print. ``image`` (H, W)
    and ``patch_size``: draw the keys as patches of the image (the module docstring); a frame
    then has ``"image": {"height", "width", "patch", "pixels" (hex, 2 digits a pixel, row by
    row), "key_patches" ([row, col] of each key, None for a prefix token), "query_key" (the
    query's own key in self-attention, else None), "query_patch" (its [row, col], None for a
    prefix token), "shade" (the index of the column whose numbers shade the patches)}``.
    """
    q = _heads_first("q", q, None)
    H, L, d = q.shape
    k, v = _heads_first("k", k, H), _heads_first("v", v, H)
    S = k.shape[1]
    tokens = [str(t) for t in tokens]
    if len(tokens) != S:
        raise ValueError(f"tokens has {len(tokens)} labels, but k has {S} keys (shape "
                         f"{tuple(k.shape)})")
    query_tokens = tokens if query_tokens is None else [str(t) for t in query_tokens]
    if len(query_tokens) != L:
        raise ValueError(f"{len(query_tokens)} query labels for {L} queries (q of shape "
                         f"{tuple(q.shape)}); give query_tokens for cross-attention")
    queries = list(range(L)) if queries is None else [int(i) for i in queries]
    heads = list(range(H)) if heads is None else [int(h) for h in heads]
    for name, idx, n in (("queries", queries, L), ("heads", heads, H)):
        if not idx or any(not 0 <= i < n for i in idx):
            raise ValueError(f"{name} must be a non-empty list of indices in [0, {n}), got {idx}")
    head_names = [f"head {h + 1}" for h in heads] if head_names is None else list(head_names)
    if len(head_names) != len(heads):
        raise ValueError(f"{len(head_names)} head_names for {len(heads)} heads")
    dims = validate.positive_int("dims", dims)
    if attn_mask is not None:
        attn_mask = torch.as_tensor(attn_mask).cpu()
        attn_mask = attn_mask if attn_mask.dtype == torch.bool else attn_mask.double()
    view = None
    if image is not None:
        if patch_size is None:
            raise ValueError("an image needs its patch_size (the side of a patch, in pixels)")
        view = _patch_view(image, patch_size, S, query_tokens is tokens)
    steps = attention_steps(q, k, v, attn_mask=attn_mask, is_causal=is_causal, scale=scale)
    scale = 1.0 / math.sqrt(d) if scale is None else scale

    def r(x):
        return jsonable(x, ndigits)

    def shown(t, n):
        return f"{t} (first {dims} of {n})" if n > dims else t

    n_ops = len(OPERATIONS)

    def index(hi: int, qi: int, op: int) -> int:
        return (hi * len(queries) + qi) * n_ops + op

    frames = []
    for hi, h in enumerate(heads):
        for qi, i in enumerate(queries):
            sc = steps["scores"][h, i]
            scl = steps["scaled"][h, i]
            msk = steps["masked"][h, i]
            w = steps["weights"][h, i]
            dead = torch.isinf(msk)
            masked_vals = [NEG_INF if bool(x) else r(float(m)) for x, m in zip(dead, msk)]
            full = [r(sc.tolist()), r(scl.tolist()), masked_vals, r(w.tolist())]
            top = int(w.argmax())
            for op in range(n_ops):
                cols = [{"name": n, "values": full[c] if c <= op else [None] * S,
                         "bars": c == 3} for c, n in enumerate(_COLUMN_NAMES)]
                frame = {
                    "keys": tokens,
                    "query": {"label": query_tokens[i], "vector": r(q[h, i, :dims])},
                    "key_vectors": r(k[h, :, :dims]),
                    "key_name": shown("k", d),
                    "columns": cols,
                    "active_column": op if op < 4 else None,
                    "heads": {"labels": head_names, "current": hi,
                              "steps": [index(x, qi, op) for x in range(len(heads))]},
                    "queries": {"labels": [query_tokens[j] for j in queries], "current": qi,
                                "steps": [index(hi, x, 0) for x in range(len(queries))]},
                    "label": f"{head_names[hi][:1].upper()}{head_names[hi][1:]}, query "
                             f"'{query_tokens[i]}': {OPERATIONS[op]}",
                }
                if view is not None:  # queries are keys too in self-attention
                    mine = view["key_patches"][i] if view["self_attention"] else None
                    frame["image"] = {**{key: view[key] for key in (
                        "height", "width", "patch", "pixels", "key_patches")},
                        "query_patch": mine, "shade": min(op, 3),
                        "query_key": i if view["self_attention"] else None}
                best = int(sc.argmax())
                if op == 0:
                    frame["caption"] = (
                        f"The query '{query_tokens[i]}' is compared with every key by a dot "
                        f"product; the largest score, {_fmt(float(sc[best]))}, is with "
                        f"'{tokens[best]}'.")
                    frame["rule"] = "score_j = q · k_j = Σ_d q_d k_jd"
                elif op == 1:
                    frame["caption"] = (
                        f"Every score is multiplied by {_fmt(scale)} (1/√d_k with d_k = {d}), "
                        f"so that the scores' spread does not grow with d_k.")
                    frame["rule"] = f"score_j × {_fmt(scale)}"
                elif op == 2:
                    n_dead = int(dead.sum())
                    frame["caption"] = (
                        f"The mask removes {n_dead} of {S} keys (their score becomes −∞)."
                        if n_dead else "Nothing is masked for this query: the scores pass "
                                       "unchanged.")
                    frame["rule"] = "masked_j = −∞ where the query may not attend to key j"
                elif op == 3:
                    frame["caption"] = (
                        f"Softmax turns the scores into weights, positive and summing to 1: "
                        f"'{tokens[top]}' gets {100 * float(w[top]):.0f} % of the attention.")
                    frame["rule"] = "w_j = exp(s_j) / Σ_l exp(s_l)"
                else:
                    frame["values"] = {"name": shown("v", v.shape[-1]),
                                       "rows": r(v[h, :, :dims])}
                    frame["output"] = {"name": "Σ w·v", "values": r(
                        steps["output"][h, i, :dims])}
                    frame["caption"] = (
                        f"The output for '{query_tokens[i]}' is the weighted sum of the value "
                        f"vectors; mostly the value of '{tokens[top]}'.")
                    frame["rule"] = "output = Σ_j w_j v_j"
                frames.append(frame)
    return frames


class AttentionStepper(Stepper):
    """``AttentionStepper(tokens, q, k, v, query=None, ...)``: the stepper of
    :func:`attention_frames` (same keyword arguments), opened at the first frame of ``query``
    (an index into the queries; default the last one) in the first head."""

    def __init__(self, tokens, q, k, v, *, query: int | None = None, title: str = "",
                 interval: int = 1200, **kwargs: Any) -> None:
        frame_kw = {key: kwargs.pop(key) for key in (
            "query_tokens", "queries", "heads", "head_names", "attn_mask", "is_causal", "scale",
            "dims", "ndigits", "image", "patch_size") if key in kwargs}
        frames = attention_frames(tokens, q, k, v, **frame_kw)
        labels = frames[0]["queries"]["steps"]
        position = len(labels) - 1 if query is None else int(query)
        if not 0 <= position < len(labels):
            raise ValueError(f"query must index the {len(labels)} queries shown, got {query}")
        super().__init__(frames, renderer="attention", title=title, step=labels[position],
                         interval=interval, **kwargs)
