"""Scaled dot-product attention and multi-head attention, from scratch, with PyTorch's names.

* ``scaled_dot_product_attention(query, key, value, attn_mask, dropout_p, is_causal, scale)``:
  ``F.scaled_dot_product_attention``'s semantics (Vaswani et al. 2017, "Attention is all you
  need", eq. 1)::

      Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k) + M) V

  A boolean ``attn_mask`` says where a query **may** attend (True = take part); a float mask
  is added to the scaled scores (0 keeps, -inf removes); ``is_causal`` keeps key ``j <= i``.
  A query whose keys are all masked gets zero weights (as PyTorch does), not NaN.
* ``attention(...)``: the same, returning ``(output, weights)``, for drawing the weights;
  ``attention_steps(...)``: every intermediate (raw scores, scaled, masked, weights, output).
* ``MultiheadAttention``: ``nn.MultiheadAttention``'s constructor, forward and parameter names
  (``in_proj_weight``, ``in_proj_bias``, ``out_proj``; ``q_proj_weight`` ... when ``kdim`` or
  ``vdim`` differ), so a state dict copies either way. Its masks follow ``nn.MultiheadAttention``:
  there **True means "do not attend"** (``key_padding_mask`` True = padding), the opposite of
  ``scaled_dot_product_attention``. ``is_causal=True`` without ``attn_mask`` builds the causal
  mask (PyTorch asks for both).
* ``causal_mask(L, S)`` and ``padding_mask(lengths, S)``: boolean masks with True = attend.
  For ``nn.MultiheadAttention`` (and ours) pass their negation, ``~causal_mask(T)``.

Shapes: ``query (..., L, E)``, ``key (..., S, E)``, ``value (..., S, Ev)`` -> ``(..., L, Ev)``,
leading dimensions broadcast. In the modules, ``B, T, C`` = batch, time (sequence), channels.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nblib import validate

__all__ = ["scaled_dot_product_attention", "attention", "attention_steps", "causal_mask",
           "padding_mask", "MultiheadAttention"]


def causal_mask(L: int, S: int | None = None, *, device=None) -> Tensor:
    """Boolean ``(L, S)`` mask, True where query ``i`` may attend to key ``j``: ``j <= i``.

    Aligned at the top left, like ``F.scaled_dot_product_attention(is_causal=True)``.
    """
    L = validate.positive_int("L (number of queries)", L)
    S = L if S is None else validate.positive_int("S (number of keys)", S)
    return torch.ones(L, S, dtype=torch.bool, device=device).tril()


def padding_mask(lengths, S: int, *, device=None) -> Tensor:
    """Boolean ``(B, S)`` mask, True at the real tokens of each sequence, False at padding.

    ``lengths`` (B,) gives each sequence's number of real tokens (at most ``S``), padding
    sitting at the end. As an ``attn_mask`` of ``scaled_dot_product_attention`` use
    ``m[:, None, None, :]`` (B, 1, 1, S); as ``key_padding_mask`` of a MultiheadAttention, ``~m``.
    """
    S = validate.positive_int("S (padded length)", S)
    lengths = torch.as_tensor(lengths, device=device)
    validate.tensor("lengths", lengths, ndim=1, floating=False)
    if validate.free_to_read(lengths) and lengths.numel() and (
            lengths.min() < 0 or lengths.max() > S):
        raise ValueError(f"lengths must lie in [0, {S}] (S = {S}), got {lengths.tolist()}")
    return torch.arange(S, device=lengths.device) < lengths[:, None]  # (B, S)


def _check_qkv(query, key, value, attn_mask, is_causal, dropout_p, scale):
    for name, t in (("query", query), ("key", key), ("value", value)):
        validate.tensor(name, t, floating=True)
        if t.ndim < 2:
            raise ValueError(f"{name} must have shape (..., sequence, features), "
                             f"got {tuple(t.shape)}")
    if not query.dtype == key.dtype == value.dtype:
        raise TypeError(f"query, key and value need one dtype, got {query.dtype}, "
                        f"{key.dtype} and {value.dtype}")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"query (..., L, E) and key (..., S, E) need the same E, got "
                         f"{tuple(query.shape)} and {tuple(key.shape)}")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(f"key (..., S, E) and value (..., S, Ev) need the same S, got "
                         f"{tuple(key.shape)} and {tuple(value.shape)}")
    try:
        torch.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except RuntimeError:
        raise ValueError(f"the leading (batch, head) dimensions of query {tuple(query.shape)}, "
                         f"key {tuple(key.shape)} and value {tuple(value.shape)} do not "
                         f"broadcast") from None
    validate.number("dropout_p", dropout_p, ge=0, lt=1)
    if scale is not None:
        validate.number("scale", scale)
    if attn_mask is not None:
        if is_causal:
            raise ValueError("give attn_mask or is_causal=True, not both "
                             "(as F.scaled_dot_product_attention)")
        validate.tensor("attn_mask", attn_mask)
        if attn_mask.dtype != torch.bool and not attn_mask.is_floating_point():
            raise TypeError(f"attn_mask must be boolean (True = attend) or float (added to "
                            f"the scores), got {attn_mask.dtype}")
        L, S = query.shape[-2], key.shape[-2]
        try:
            torch.broadcast_shapes(attn_mask.shape, query.shape[:-2] + (L, S))
        except RuntimeError:
            raise ValueError(f"attn_mask of shape {tuple(attn_mask.shape)} does not broadcast "
                             f"to the scores' shape {tuple(query.shape[:-2]) + (L, S)} "
                             f"(..., L, S)") from None


def attention_steps(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                    dropout_p: float = 0.0, is_causal: bool = False,
                    scale: float | None = None) -> dict[str, Tensor]:
    """Every step of scaled dot-product attention, as a dict of tensors::

        scores  (..., L, S)   q_i . k_j
        scaled  (..., L, S)   scores * scale            (scale = 1 / sqrt(E) by default)
        masked  (..., L, S)   scaled, -inf where the mask forbids (plus a float mask)
        weights (..., L, S)   softmax over the keys: each row sums to 1 (0 if fully masked)
        output  (..., L, Ev)  weights @ value
    """
    _check_qkv(query, key, value, attn_mask, is_causal, dropout_p, scale)
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = query @ key.transpose(-2, -1)                      # (..., L, S)
    scaled = scores * scale
    if is_causal:
        attn_mask = causal_mask(L, S, device=query.device)
    if attn_mask is None:
        masked = scaled
    elif attn_mask.dtype == torch.bool:
        masked = scaled.masked_fill(~attn_mask, float("-inf"))  # True = attend
    else:
        masked = scaled + attn_mask                             # 0 keeps, -inf removes
    # A query with every key masked would give softmax(-inf, ..., -inf) = NaN: give it zero
    # weights instead (PyTorch's choice), and keep its gradient finite.
    alive = (masked > float("-inf")).any(dim=-1, keepdim=True)  # (..., L, 1)
    weights = torch.softmax(torch.where(alive, masked, 0.0), dim=-1)
    weights = torch.where(alive, weights, 0.0)
    if dropout_p > 0:
        weights = F.dropout(weights, p=dropout_p)
    output = weights @ value                                    # (..., L, Ev)
    return {"scores": scores, "scaled": scaled, "masked": masked, "weights": weights,
            "output": output}


def attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
              dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None
              ) -> tuple[Tensor, Tensor]:
    """``(output (..., L, Ev), weights (..., L, S))`` of scaled dot-product attention."""
    steps = attention_steps(query, key, value, attn_mask, dropout_p, is_causal, scale)
    return steps["output"], steps["weights"]


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None) -> Tensor:
    """``F.scaled_dot_product_attention`` from scratch: ``softmax(q k^T * scale + mask) v``.

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev). Boolean
    ``attn_mask``: True = attend; float: added to the scaled scores.
    """
    return attention(query, key, value, attn_mask, dropout_p, is_causal, scale)[0]


class MultiheadAttention(nn.Module):
    """``nn.MultiheadAttention`` from scratch: ``num_heads`` attentions side by side, each
    on its own ``embed_dim // num_heads``-wide slice of projected queries, keys and values,
    then concatenated and projected (Vaswani et al. 2017, section 3.2.2).

    Same arguments, parameter names and initialisation as PyTorch's (``add_bias_kv`` and
    ``add_zero_attn`` are not supported). Masks: True = do **not** attend; float = added.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 kdim: int | None = None, vdim: int | None = None, batch_first: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__()
        embed_dim = validate.positive_int("embed_dim", embed_dim)
        num_heads = validate.positive_int("num_heads", num_heads)
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim must be divisible by num_heads, got embed_dim="
                             f"{embed_dim} and num_heads={num_heads}")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.kdim = embed_dim if kdim is None else validate.positive_int("kdim", kdim)
        self.vdim = embed_dim if vdim is None else validate.positive_int("vdim", vdim)
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout = validate.number("dropout", dropout, ge=0, lt=1)
        self.batch_first = bool(batch_first)
        kw = {"device": device, "dtype": dtype}
        if self._qkv_same_embed_dim:  # W_q, W_k, W_v stacked: (3C, C)
            self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim, **kw))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = nn.Parameter(torch.empty(embed_dim, embed_dim, **kw))
            self.k_proj_weight = nn.Parameter(torch.empty(embed_dim, self.kdim, **kw))
            self.v_proj_weight = nn.Parameter(torch.empty(embed_dim, self.vdim, **kw))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dim, **kw))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **kw)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's initialisation: Xavier-uniform projections, zero biases."""
        for w in (self.in_proj_weight, self.q_proj_weight, self.k_proj_weight,
                  self.v_proj_weight):
            if w is not None:
                nn.init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            nn.init.zeros_(self.in_proj_bias)
            nn.init.zeros_(self.out_proj.bias)

    def _project(self, query: Tensor, key: Tensor, value: Tensor):
        """Queries, keys and values, each (B, ., C): three linear maps."""
        C = self.embed_dim
        if self._qkv_same_embed_dim:
            w_q, w_k, w_v = self.in_proj_weight.split(C)  # each (C, C)
        else:
            w_q, w_k, w_v = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        b_q = b_k = b_v = None
        if self.in_proj_bias is not None:
            b_q, b_k, b_v = self.in_proj_bias.split(C)
        return F.linear(query, w_q, b_q), F.linear(key, w_k, b_k), F.linear(value, w_v, b_v)

    def project_heads(self, query: Tensor, key: Tensor, value: Tensor
                      ) -> tuple[Tensor, Tensor, Tensor]:
        """Each head's queries, keys and values, (B, nh, T, hs), (B, nh, S, hs) x 2, from
        batched inputs in the module's layout: what a stepper draws, head by head."""
        if not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        B, T, C = query.shape
        S = key.shape[1]
        nh, hs = self.num_heads, self.head_dim
        q, k, v = self._project(query, key, value)                # (B, T, C), (B, S, C) x 2
        q = q.view(B, T, nh, hs).transpose(1, 2)                  # (B, nh, T, hs)
        k = k.view(B, S, nh, hs).transpose(1, 2)                  # (B, nh, S, hs)
        v = v.view(B, S, nh, hs).transpose(1, 2)                  # (B, nh, S, hs)
        return q, k, v

    def _additive_mask(self, attn_mask, key_padding_mask, is_causal, B, T, S, dtype, device):
        """One float mask (B or 1, nh or 1, T, S) of 0 and -inf (plus float masks), or None."""
        def additive(m: Tensor) -> Tensor:
            if m.dtype == torch.bool:  # True = do not attend
                return torch.zeros(m.shape, dtype=dtype, device=device).masked_fill(
                    m, float("-inf"))
            if not m.is_floating_point():
                raise TypeError(f"masks must be boolean (True = do not attend) or float "
                                f"(added to the scores), got {m.dtype}")
            return m.to(dtype)

        if is_causal and attn_mask is None:
            attn_mask = ~causal_mask(T, S, device=device)
        mask = None
        if attn_mask is not None:
            validate.tensor("attn_mask", attn_mask)
            nh = self.num_heads
            if tuple(attn_mask.shape) == (T, S):
                mask = additive(attn_mask).view(1, 1, T, S)
            elif tuple(attn_mask.shape) == (B * nh, T, S):
                mask = additive(attn_mask).view(B, nh, T, S)
            else:
                raise ValueError(f"attn_mask must have shape (L, S) = {(T, S)} or "
                                 f"(N * num_heads, L, S) = {(B * nh, T, S)}, got "
                                 f"{tuple(attn_mask.shape)}")
        if key_padding_mask is not None:
            validate.tensor("key_padding_mask", key_padding_mask, shape=(B, S))
            pad = additive(key_padding_mask).view(B, 1, 1, S)
            mask = pad if mask is None else mask + pad
        return mask

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor | None = None, need_weights: bool = True,
                attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """query (L, N, E) (``batch_first``: (N, L, E); unbatched: (L, E)), key and value
        (S, N, kdim / vdim) alike -> ``(output like query, weights or None)``; the weights are
        (N, L, S) averaged over heads, or (N, num_heads, L, S)."""
        validate.tensor("query", query, floating=True)
        batched = query.ndim == 3
        want = 3 if batched else 2
        layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
        for name, t, d in (("query", query, self.embed_dim), ("key", key, self.kdim),
                           ("value", value, self.vdim)):
            validate.tensor(name, t, floating=True)
            if t.ndim != want or t.shape[-1] != d:
                raise ValueError(f"{name} must have shape {layout} or unbatched (L, E) with "
                                 f"last dimension {d}, like query ({query.ndim}-D); got "
                                 f"{tuple(t.shape)}")
        if not batched:  # one sequence: a batch of one
            query, key, value = (t.unsqueeze(0 if self.batch_first else 1)
                                 for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        if value.shape[:2] != key.shape[:2]:
            raise ValueError(f"key and value need the same batch and length, got "
                             f"{tuple(key.shape)} and {tuple(value.shape)}")
        q, k, v = self.project_heads(query, key, value)           # (B, nh, T or S, hs)
        B, nh, T, hs = q.shape
        S, C = k.shape[2], self.embed_dim
        mask = self._additive_mask(attn_mask, key_padding_mask, is_causal, B, T, S,
                                   q.dtype, q.device)
        p = self.dropout if self.training else 0.0
        y, w = attention(q, k, v, attn_mask=mask, dropout_p=p)  # (B, nh, T, hs), (B, nh, T, S)
        y = y.transpose(1, 2).reshape(B, T, C)                    # heads side by side again
        y = self.out_proj(y)                                      # (B, T, C)
        if not self.batch_first:
            y = y.transpose(0, 1)                                 # (T, B, C)
        if not batched:
            y = y.squeeze(0 if self.batch_first else 1)
        if not need_weights:
            return y, None
        w = w.mean(dim=1) if average_attn_weights else w          # (B, T, S) or (B, nh, T, S)
        return y, (w if batched else w.squeeze(0))

    def extra_repr(self) -> str:
        kv = "" if self._qkv_same_embed_dim else f", kdim={self.kdim}, vdim={self.vdim}"
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}{kv}, "
                f"dropout={self.dropout}, batch_first={self.batch_first}")
