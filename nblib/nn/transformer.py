"""Transformer encoder and decoder layers from scratch, with PyTorch's names (Vaswani et al. 2017,
"Attention is all you need", section 3.1).

An encoder layer is two sublayers, each wrapped in a residual connection and a layer norm:
self-attention, where every position reads every other, then a position-wise feed-forward
network (the same two-layer MLP applied to each token on its own)::

    post-norm (the paper, BERT):   x = norm1(x + SA(x));        x = norm2(x + FF(x))
    pre-norm  (GPT-2, ViT):        x = x + SA(norm1(x));        x = x + FF(norm2(x))

A decoder layer adds a third sublayer between the two, cross-attention, whose queries come from
the decoder and whose keys and values come from the encoder's output (``memory``); its
self-attention is causal, so position ``t`` never reads the tokens it must predict.

``TransformerEncoderLayer``, ``TransformerDecoderLayer``, ``TransformerEncoder`` and
``TransformerDecoder`` take ``nn.``'s constructor arguments and forward arguments and have its
parameter names, so a state dict copies either way (``strict=True``). Masks follow
``nn.MultiheadAttention``: **True = do not attend**, ``*_key_padding_mask`` True at padding.

Two additions, both keyword-only:

* ``layer.keep_attention = True`` keeps the per-head attention weights of the last forward,
  ``(B, nh, T, S)``: ``attention_weights`` (encoder), ``self_attention_weights`` and
  ``cross_attention_weights`` (decoder).
* ``cache=new_cache(num_layers)`` (``batch_first`` only): a **key/value cache** for generation.
  Feed only the new positions ``(B, t, C)``; each layer appends their keys and values to its
  cache and attends causally over everything cached. The decoder also keeps the cross-attention
  keys and values of ``memory``, computed once. ``cache_length(cache)`` is the number of
  positions already cached (the positional ``offset`` of the next ones). Step by step with a
  cache equals one causal forward over the whole sequence.
"""
from __future__ import annotations

import copy
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nblib import validate
from nblib.nn.attention import MultiheadAttention, attention
from nblib.nn.layernorm import LayerNorm

__all__ = ["TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder",
           "TransformerDecoder", "new_cache", "cache_length"]

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def new_cache(num_layers: int) -> list[dict]:
    """An empty key/value cache: one dict per layer."""
    return [{} for _ in range(validate.positive_int("num_layers", num_layers))]


def cache_length(cache: dict | list[dict]) -> int:
    """How many positions a layer's cache (or a list of them) already holds."""
    layer = cache[0] if isinstance(cache, list) else cache
    return 0 if "k" not in layer else layer["k"].shape[2]


def _activation(activation) -> Callable[[Tensor], Tensor]:
    if callable(activation):
        return activation
    return _ACTIVATIONS[validate.choice("activation", activation, tuple(_ACTIVATIONS))]


def _heads(mha: MultiheadAttention, x: Tensor, which: int) -> Tensor:
    """Project ``x`` (B, T, C) with the query (0), key (1) or value (2) weights: (B, nh, T, hs)."""
    C = mha.embed_dim
    if mha.in_proj_weight is not None:
        w = mha.in_proj_weight[which * C:(which + 1) * C]
    else:
        w = (mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight)[which]
    b = None if mha.in_proj_bias is None else mha.in_proj_bias[which * C:(which + 1) * C]
    B, T, _ = x.shape
    return F.linear(x, w, b).view(B, T, mha.num_heads, mha.head_dim).transpose(1, 2)


def _cached_attention(mha: MultiheadAttention, x: Tensor, cache: dict, *,
                      memory: Tensor | None = None, key_padding_mask: Tensor | None = None):
    """Attention of the new positions ``x`` (B, t, C) with a key/value cache.

    Self-attention (``memory`` None): the new keys and values are appended to ``cache['k']``,
    ``cache['v']`` and query ``i`` of the new block sees every cached position and the new ones
    up to itself. Cross-attention: ``memory``'s keys and values are computed on the first call
    and kept as ``cache['mk']``, ``cache['mv']``.
    """
    if not mha.batch_first:
        raise ValueError("a key/value cache needs batch_first=True layers")
    B, t, C = x.shape
    q = _heads(mha, x, 0)                                        # (B, nh, t, hs)
    if memory is None:
        k, v = _heads(mha, x, 1), _heads(mha, x, 2)              # (B, nh, t, hs)
        if "k" in cache:
            k = torch.cat([cache["k"], k], dim=2)                # (B, nh, S, hs)
            v = torch.cat([cache["v"], v], dim=2)
        cache["k"], cache["v"] = k, v
        S = k.shape[2]
        allowed = torch.ones(t, S, dtype=torch.bool, device=x.device).tril(S - t)  # (t, S)
    else:
        if "mk" not in cache:
            cache["mk"], cache["mv"] = _heads(mha, memory, 1), _heads(mha, memory, 2)
        k, v = cache["mk"], cache["mv"]
        allowed = None
        if key_padding_mask is not None:
            allowed = ~key_padding_mask[:, None, None, :]        # (B, 1, 1, S)
    p = mha.dropout if mha.training else 0.0
    y, w = attention(q, k, v, attn_mask=allowed, dropout_p=p)  # (B, nh, t, hs), (B, nh, t, S)
    return mha.out_proj(y.transpose(1, 2).reshape(B, t, C)), w


class _Layer(nn.Module):
    """What both layers share: the feed-forward block and the residual-and-norm wiring."""

    def __init__(self, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                 batch_first, norm_first, bias, cross, device, dtype) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        d_model = validate.positive_int("d_model", d_model)
        dim_feedforward = validate.positive_int("dim_feedforward", dim_feedforward)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        if cross:  # the decoder's attention over the encoder's output
            self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                     batch_first=batch_first, **kw)
        self.linear1 = nn.Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model, bias=bias, **kw)
        for i in range(1, 4 if cross else 3):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
            setattr(self, f"dropout{i}", nn.Dropout(dropout))
        self.activation = _activation(activation)
        self.norm_first, self.batch_first = bool(norm_first), bool(batch_first)
        self.keep_attention = False

    def _ff_block(self, x: Tensor, dropout: nn.Module) -> Tensor:
        """Position-wise feed-forward: linear2(act(linear1(x))), each token on its own."""
        return dropout(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def _sublayer(self, x: Tensor, norm: nn.Module, block: Callable[[Tensor], Tensor]) -> Tensor:
        """A residual connection around ``block`` with ``norm`` before it or after the sum."""
        if self.norm_first:
            return x + block(norm(x))
        return norm(x + block(x))

    def _self_attention(self, x, attn_mask, key_padding_mask, is_causal, cache):
        if cache is not None:
            if attn_mask is not None or key_padding_mask is not None:
                raise ValueError("with a key/value cache the self-attention is causal; "
                                 "pass no attn_mask or key_padding_mask")
            return _cached_attention(self.self_attn, x, cache)
        return self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                              need_weights=self.keep_attention, average_attn_weights=False,
                              is_causal=is_causal)

    def _check(self, name: str, x: Tensor) -> None:
        validate.tensor(name, x, floating=True)
        C = self.self_attn.embed_dim
        layout = "(B, T, C)" if self.batch_first else "(T, B, C)"
        if x.ndim not in (2, 3) or x.shape[-1] != C:
            raise ValueError(f"{name} must have shape {layout} (or unbatched (T, C)) with "
                             f"C = d_model = {C}, got {tuple(x.shape)}")


class TransformerEncoderLayer(_Layer):
    """``nn.TransformerEncoderLayer`` from scratch: self-attention, then feed-forward."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                         batch_first, norm_first, bias, False, device, dtype)
        self.attention_weights = None

    def forward(self, src: Tensor, src_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None, is_causal: bool = False, *,
                cache: dict | None = None) -> Tensor:
        """src (B, T, C) with ``batch_first`` (else (T, B, C)) -> the same shape."""
        self._check("src", src)

        def sa(x: Tensor) -> Tensor:
            y, self.attention_weights = self._self_attention(
                x, src_mask, src_key_padding_mask, is_causal, cache)
            if not self.keep_attention:
                self.attention_weights = None
            return self.dropout1(y)

        x = self._sublayer(src, self.norm1, sa)
        return self._sublayer(x, self.norm2, lambda h: self._ff_block(h, self.dropout2))


class TransformerDecoderLayer(_Layer):
    """``nn.TransformerDecoderLayer`` from scratch: causal self-attention, cross-attention
    over the encoder's output, then feed-forward."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                         batch_first, norm_first, bias, True, device, dtype)
        self.self_attention_weights = self.cross_attention_weights = None

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False, *, cache: dict | None = None) -> Tensor:
        """tgt (B, T, C), memory (B, S, C) with ``batch_first`` -> (B, T, C)."""
        self._check("tgt", tgt)
        self._check("memory", memory)
        keep = self.keep_attention

        def sa(x: Tensor) -> Tensor:
            y, w = self._self_attention(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal, cache)
            self.self_attention_weights = w if keep else None
            return self.dropout1(y)

        def ca(x: Tensor) -> Tensor:
            if cache is not None:
                if memory_mask is not None:
                    raise ValueError("with a key/value cache pass memory_key_padding_mask, "
                                     "not memory_mask")
                y, w = _cached_attention(self.multihead_attn, x, cache, memory=memory,
                                         key_padding_mask=memory_key_padding_mask)
            else:
                y, w = self.multihead_attn(x, memory, memory, attn_mask=memory_mask,
                                           key_padding_mask=memory_key_padding_mask,
                                           need_weights=keep, average_attn_weights=False,
                                           is_causal=memory_is_causal)
            self.cross_attention_weights = w if keep else None
            return self.dropout2(y)

        x = self._sublayer(tgt, self.norm1, sa)
        x = self._sublayer(x, self.norm2, ca)
        return self._sublayer(x, self.norm3, lambda h: self._ff_block(h, self.dropout3))


def _clones(layer: nn.Module, n: int) -> nn.ModuleList:
    return nn.ModuleList(copy.deepcopy(layer) for _ in range(validate.positive_int(
        "num_layers", n)))


def _check_cache(cache, n: int) -> None:
    if cache is not None and (not isinstance(cache, list) or len(cache) != n):
        got = f"a list of {len(cache)}" if isinstance(cache, list) else type(cache).__name__
        raise ValueError(f"cache must be new_cache({n}), one dict per layer, got {got}")


class TransformerEncoder(nn.Module):
    """``nn.TransformerEncoder``: ``num_layers`` copies of ``encoder_layer``, then ``norm``."""

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int,
                 norm: nn.Module | None = None) -> None:
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers, self.norm = num_layers, norm

    def forward(self, src: Tensor, mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None, is_causal: bool | None = None, *,
                cache: list[dict] | None = None) -> Tensor:
        _check_cache(cache, self.num_layers)
        x = src
        for i, layer in enumerate(self.layers):
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=bool(is_causal), cache=None if cache is None else cache[i])
        return x if self.norm is None else self.norm(x)


class TransformerDecoder(nn.Module):
    """``nn.TransformerDecoder``: ``num_layers`` copies of ``decoder_layer``, then ``norm``."""

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int,
                 norm: nn.Module | None = None) -> None:
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers, self.norm = num_layers, norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False, *,
                cache: list[dict] | None = None) -> Tensor:
        _check_cache(cache, self.num_layers)
        x = tgt
        for i, layer in enumerate(self.layers):
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal,
                      cache=None if cache is None else cache[i])
        return x if self.norm is None else self.norm(x)
