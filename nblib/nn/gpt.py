"""A decoder-only GPT from the book's transformer pieces (Radford et al. 2018, "Improving
language understanding by generative pre-training"; Radford et al. 2019, "Language models are
unsupervised multitask learners", GPT-2), in the shape of Karpathy's nanoGPT.

A GPT is a stack of *causal* self-attention layers over token and position embeddings, read out
by a linear map to one logit per vocabulary entry at every position::

    x = wte(idx) + wpe[0 .. T-1]                          (B, T, C)
    x = x + SA(LN1(x)); x = x + FF(LN2(x))                n_layer pre-norm layers, GELU
    logits = LN_f(x) @ wte.weight^T                       (B, T, V)  weight tying

Position ``t`` attends to positions ``<= t`` only, so the logits at ``t`` are a distribution
over token ``t + 1`` given tokens ``0 .. t``, and one forward pass trains all ``T`` predictions.
The layers are :class:`nblib.nn.transformer.TransformerEncoderLayer` with ``norm_first=True``
(GPT-2's pre-norm), ``activation="gelu"`` and ``is_causal=True``.

*Weight tying* (Press & Wolf 2017; Inan, Khosravi & Socher 2017): the output head reuses the
token embedding matrix, so a token's input vector is also the direction its logit reads.

``generate`` samples with a temperature and optional top-k, and by default uses the layers'
**key/value cache**: the prompt is encoded once, then each new token is fed alone and attends to
the cached keys and values of everything before it. With *learned absolute* positions the
cache only helps while the sequence fits the position table (``block_size``): beyond it, the
window slides, every token changes position, and its cached keys are stale, so generation then
recomputes the last ``block_size`` tokens at every step, exactly as without a cache.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nblib import validate
from nblib.nn.attention import MultiheadAttention
from nblib.nn.layernorm import LayerNorm
from nblib.nn.positional import LearnedPositionalEmbedding
from nblib.nn.transformer import (TransformerEncoder, TransformerEncoderLayer, cache_length,
                                  new_cache)

__all__ = ["GPTConfig", "GPT", "sample_next"]


@dataclass(frozen=True)
class GPTConfig:
    """nanoGPT's names. The defaults are its CPU configuration for Shakespeare characters."""

    vocab_size: int = 65
    block_size: int = 64      # the number of learned positions: the longest context
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            validate.positive_int(name, getattr(self, name))
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd must be divisible by n_head, got n_embd = {self.n_embd} "
                             f"and n_head = {self.n_head}")
        validate.number("dropout", self.dropout, ge=0, lt=1)


def sample_next(logits: Tensor, temperature: float = 1.0, top_k: int | None = None,
                generator: torch.Generator | None = None) -> Tensor:
    """One token per row of ``logits (B, V)``, drawn from ``softmax(logits / temperature)``
    restricted to the ``top_k`` largest logits (all when ``None``): ``(B, 1)`` int64."""
    validate.tensor("logits", logits, ndim=2, floating=True)
    temperature = validate.number("temperature", temperature, gt=0)
    logits = logits / temperature
    if top_k is not None:
        top_k = min(validate.positive_int("top_k", top_k), logits.shape[-1])
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]          # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)                                # (B, V)
    return torch.multinomial(probs, 1, generator=generator)             # (B, 1)


class GPT(nn.Module):
    """nanoGPT's ``GPT`` assembled from :mod:`nblib.nn.transformer`.

    ``forward(idx (B, T) int64, targets=None, *, cache=None) -> (logits (B, T, V), loss)``;
    ``loss`` is the mean cross-entropy (nats per token) when ``targets (B, T)`` are given.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPT needs a GPTConfig, got {type(config).__name__}")
        self.config = c = config
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)              # token embeddings
        self.wpe = LearnedPositionalEmbedding(c.block_size, c.n_embd)  # one vector per position
        self.drop = nn.Dropout(c.dropout)
        layer = TransformerEncoderLayer(c.n_embd, c.n_head, 4 * c.n_embd, c.dropout,
                                        activation="gelu", batch_first=True, norm_first=True,
                                        bias=c.bias)
        self.transformer = TransformerEncoder(layer, c.n_layer,
                                              norm=LayerNorm(c.n_embd, bias=c.bias))
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight                       # weight tying
        self.apply(self._init_weights)
        # GPT-2: the projections that write into the residual stream start smaller, by
        # 1/sqrt(2 n_layer), so that the sum of 2 n_layer residual branches keeps its scale.
        for layer in self.transformer.layers:
            for w in (layer.self_attn.out_proj.weight, layer.linear2.weight):
                nn.init.normal_(w, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        """GPT-2's initialisation: N(0, 0.02) weights and embeddings, zero biases."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, MultiheadAttention):
            nn.init.normal_(module.in_proj_weight, mean=0.0, std=0.02)
            if module.in_proj_bias is not None:
                nn.init.zeros_(module.in_proj_bias)
        elif isinstance(module, LearnedPositionalEmbedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_parameters(self) -> int:
        """The number of parameters, the tied embedding counted once."""
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx: Tensor, targets: Tensor | None = None, *,
                cache: list[dict] | None = None) -> tuple[Tensor, Tensor | None]:
        """Next-token logits at every position; with a ``cache``, ``idx`` holds only the new
        tokens and their positions continue after the cached ones."""
        validate.tensor("idx", idx, ndim=2, floating=False,
                        hint="; idx holds token indices (B, T): use .long()")
        B, T = idx.shape
        offset = 0 if cache is None else cache_length(cache)
        if offset + T > self.config.block_size:
            raise ValueError(f"positions {offset}..{offset + T - 1} do not fit the "
                             f"{self.config.block_size} learned positions (block_size); crop "
                             f"idx to its last {self.config.block_size - offset} tokens")
        if validate.free_to_read(idx) and idx.numel() and (
                idx.min() < 0 or idx.max() >= self.config.vocab_size):
            raise IndexError(f"idx holds token indices in [0, {self.config.vocab_size}), got "
                             f"values from {int(idx.min())} to {int(idx.max())}")
        x = self.drop(self.wpe(self.wte(idx), offset))          # (B, T, C)
        x = self.transformer(x, is_causal=True, cache=cache)    # (B, T, C), final LN applied
        logits = self.lm_head(x)                                # (B, T, V)
        loss = None
        if targets is not None:
            validate.tensor("targets", targets, shape=(B, T), floating=False)
            loss = F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T))
        return logits, loss

    @torch.no_grad()
    def generate(self, idx: Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, use_cache: bool = True,
                 generator: torch.Generator | None = None) -> Tensor:
        """``idx (B, T)`` followed by ``max_new_tokens`` sampled tokens: ``(B, T + new)``.

        Each token is drawn by :func:`sample_next` from the logits of the last position.
        ``use_cache=False`` recomputes the whole context (its last ``block_size`` tokens) for
        every new token; ``use_cache=True`` computes each token's keys and values once. Both
        draw the same tokens from the same ``generator``. For ``n`` new tokens within the
        position table, per layer: without the cache step ``t`` runs all ``t`` positions,
        O(n^2 C^2) for the projections and feed-forward blocks and O(n^3 C) for attention in
        all; with it, one position per step, O(n C^2) and O(n^2 C): attention stays quadratic
        in ``n``, since each new token still reads every cached key and value.
        """
        validate.tensor("idx", idx, ndim=2, floating=False)
        max_new_tokens = validate.integer("max_new_tokens", max_new_tokens)
        if idx.shape[1] == 0:
            raise ValueError("idx needs at least one token to continue, got shape "
                             f"{tuple(idx.shape)}")
        was_training = self.training
        self.eval()
        block = self.config.block_size
        cache = None
        for _ in range(max_new_tokens):
            if use_cache and idx.shape[1] <= block:
                if cache is None:                         # the prompt, encoded once
                    cache = new_cache(self.config.n_layer)
                new = idx[:, cache_length(cache):]        # (B, 1) after the prompt
                logits, _ = self(new, cache=cache)
            else:                                         # the whole (cropped) context
                logits, _ = self(idx[:, -block:])
            nxt = sample_next(logits[:, -1, :], temperature, top_k, generator)  # (B, 1)
            idx = torch.cat([idx, nxt], dim=1)
        self.train(was_training)
        return idx
