"""The book's transformer encoder-decoder for token sequences (Vaswani et al. 2017, "Attention is
all you need", section 3, figure 1), built from :mod:`nblib.nn.transformer`.

::

    src (B, S) -> embedding * sqrt(C) + position -> TransformerEncoder  -> memory (B, S, C)
    tgt_in (B, T) -> embedding * sqrt(C) + position -> TransformerDecoder(., memory)
                  -> Linear(C, V) -> logits (B, T, V)

* ``forward(src, tgt_in, src_key_padding_mask=None)``: teacher forcing. ``tgt_in`` starts with
  ``<sos>``; the decoder's self-attention is causal, so the logits at position ``t`` see only
  ``tgt_in[:, :t+1]`` and every position trains at once. The source's padding mask (True at
  ``<pad>``) is derived from ``src`` when not given.
* ``greedy_decode(src, max_len)``: the encoder runs once; the decoder is fed one token at a time
  with a key/value cache (``new_cache``), so each step costs one position, not the whole prefix,
  and the loop stops once every row has produced ``<eos>``. ``use_cache=False`` runs the whole
  prefix again at every step (the same tokens, slower: the chapter measures it).
* ``save(path, **info)`` / ``TransformerSeq2Seq.load(path)``: the constructor's arguments, the
  state dict and a dict of notes in one small file.

Tokens follow :mod:`nblib.data.scan`: ``<pad>`` = 0, ``<sos>`` = 1, ``<eos>`` = 2.
"""
from __future__ import annotations

import json
import math

import torch
from torch import Tensor, nn

from nblib import validate
from nblib.nn.layernorm import LayerNorm
from nblib.nn.positional import LearnedPositionalEmbedding, PositionalEncoding
from nblib.nn.transformer import (TransformerDecoder, TransformerDecoderLayer,
                                  TransformerEncoder, TransformerEncoderLayer, cache_length,
                                  new_cache)

__all__ = ["TransformerSeq2Seq"]

PAD, SOS, EOS = 0, 1, 2
POSITIONAL = ("sinusoidal", "learned")


class TransformerSeq2Seq(nn.Module):
    """An encoder-decoder transformer over token ids (module docstring).

    ``TransformerSeq2Seq(src_vocab, tgt_vocab, d_model=128, nhead=4, num_encoder_layers=2,
    num_decoder_layers=2, dim_feedforward=256, dropout=0.0, norm_first=True, max_len=128,
    positional='sinusoidal' | 'learned', activation='relu')``. With ``norm_first`` (pre-norm)
    the encoder and decoder end in a final ``LayerNorm``, as in ``nn.Transformer``.
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, d_model: int = 128, nhead: int = 4,
                 num_encoder_layers: int = 2, num_decoder_layers: int = 2,
                 dim_feedforward: int = 256, dropout: float = 0.0, norm_first: bool = True,
                 max_len: int = 128, positional: str = "sinusoidal",
                 activation: str = "relu") -> None:
        super().__init__()
        self.config = {"src_vocab": validate.positive_int("src_vocab", src_vocab),
                       "tgt_vocab": validate.positive_int("tgt_vocab", tgt_vocab),
                       "d_model": d_model, "nhead": nhead,
                       "num_encoder_layers": num_encoder_layers,
                       "num_decoder_layers": num_decoder_layers,
                       "dim_feedforward": dim_feedforward, "dropout": dropout,
                       "norm_first": bool(norm_first), "max_len": max_len,
                       "positional": validate.choice("positional", positional, POSITIONAL),
                       "activation": activation}
        self.d_model, self.max_len = d_model, validate.positive_int("max_len", max_len)
        self.src_embed = nn.Embedding(src_vocab, d_model, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(tgt_vocab, d_model, padding_idx=PAD)
        for embed in (self.src_embed, self.tgt_embed):
            # std 1/sqrt(C), so that embedding * sqrt(C) has unit scale, like the positions;
            # nn.Embedding's N(0, 1) times sqrt(C) would drown the positional encoding.
            nn.init.normal_(embed.weight, std=d_model ** -0.5)
            with torch.no_grad():
                embed.weight[PAD].zero_()
        if positional == "sinusoidal":
            self.src_pos = PositionalEncoding(d_model, max_len)
            self.tgt_pos = PositionalEncoding(d_model, max_len)
        else:
            self.src_pos = LearnedPositionalEmbedding(max_len, d_model)
            self.tgt_pos = LearnedPositionalEmbedding(max_len, d_model)
        kw = {"d_model": d_model, "nhead": nhead, "dim_feedforward": dim_feedforward,
              "dropout": dropout, "activation": activation, "batch_first": True,
              "norm_first": norm_first}
        self.encoder = TransformerEncoder(
            TransformerEncoderLayer(**kw), num_encoder_layers,
            norm=LayerNorm(d_model) if norm_first else None)
        self.decoder = TransformerDecoder(
            TransformerDecoderLayer(**kw), num_decoder_layers,
            norm=LayerNorm(d_model) if norm_first else None)
        self.out = nn.Linear(d_model, tgt_vocab)
        self.num_decoder_layers = num_decoder_layers

    # -- the pieces ------------------------------------------------------------------------
    def _embed(self, tokens: Tensor, embed: nn.Embedding, pos: nn.Module,
               offset: int = 0) -> Tensor:
        x = embed(tokens) * math.sqrt(self.d_model)                  # (B, T, C)
        return pos(x, offset)

    def _check_tokens(self, name: str, tokens: Tensor, vocab: int) -> None:
        validate.tensor(name, tokens, floating=False, ndim=2)
        if tokens.shape[1] > self.max_len:
            raise ValueError(f"{name} has {tokens.shape[1]} positions, more than max_len = "
                             f"{self.max_len}")
        if validate.free_to_read(tokens) and tokens.numel() and (
                tokens.min() < 0 or tokens.max() >= vocab):
            raise ValueError(f"{name} must hold token ids in [0, {vocab}), got values in "
                             f"[{tokens.min().item()}, {tokens.max().item()}]")

    def _padding(self, src: Tensor, src_key_padding_mask: Tensor | None) -> Tensor:
        if src_key_padding_mask is None:
            return src == PAD                                         # (B, S), True = pad
        validate.tensor("src_key_padding_mask", src_key_padding_mask, dtype=torch.bool,
                        shape=tuple(src.shape), hint="; True marks padding")
        return src_key_padding_mask

    def encode(self, src: Tensor, src_key_padding_mask: Tensor | None = None) -> Tensor:
        """The encoder's output ``memory`` (B, S, C) for ``src`` (B, S)."""
        self._check_tokens("src", src, self.config["src_vocab"])
        pad = self._padding(src, src_key_padding_mask)
        x = self._embed(src, self.src_embed, self.src_pos)            # (B, S, C)
        return self.encoder(x, src_key_padding_mask=pad)

    def decode(self, tgt_in: Tensor, memory: Tensor, memory_key_padding_mask: Tensor,
               *, cache: list[dict] | None = None) -> Tensor:
        """Logits (B, T, V) of the next token at each position of ``tgt_in`` (B, T).

        Without ``cache`` the self-attention is causal over ``tgt_in``; with one, ``tgt_in``
        holds only the new positions and they attend to everything cached so far.
        """
        offset = 0 if cache is None else cache_length(cache)
        if offset + tgt_in.shape[1] > self.max_len:
            raise ValueError(f"decoding past max_len = {self.max_len} positions")
        y = self._embed(tgt_in, self.tgt_embed, self.tgt_pos, offset)  # (B, T, C)
        if cache is None:
            T = tgt_in.shape[1]
            causal = torch.ones(T, T, dtype=torch.bool, device=y.device).triu(1)
            h = self.decoder(y, memory, tgt_mask=causal, tgt_is_causal=True,
                             memory_key_padding_mask=memory_key_padding_mask)
        else:
            h = self.decoder(y, memory, memory_key_padding_mask=memory_key_padding_mask,
                             cache=cache)
        return self.out(h)                                            # (B, T, V)

    # -- teacher forcing -------------------------------------------------------------------
    def forward(self, src: Tensor, tgt_in: Tensor,
                src_key_padding_mask: Tensor | None = None) -> Tensor:
        """Teacher forcing: ``src`` (B, S), ``tgt_in`` (B, T) starting with <sos> -> logits
        (B, T, V). Padding at the end of ``tgt_in`` needs no mask: the causal mask keeps it
        out of every earlier position (and the loss ignores it)."""
        self._check_tokens("tgt_in", tgt_in, self.config["tgt_vocab"])
        if tgt_in.shape[0] != src.shape[0]:
            raise ValueError(f"src and tgt_in need the same batch size, got {tuple(src.shape)} "
                             f"and {tuple(tgt_in.shape)}")
        pad = self._padding(src, src_key_padding_mask)
        memory = self.encode(src, pad)                                # (B, S, C)
        return self.decode(tgt_in, memory, pad)

    # -- greedy decoding -------------------------------------------------------------------
    @torch.no_grad()
    def greedy_decode(self, src: Tensor, max_len: int,
                      src_key_padding_mask: Tensor | None = None,
                      use_cache: bool = True) -> Tensor:
        """Greedy decoding of a batch: tokens (B, L), each row the predicted tokens after
        <sos>, its <eos>, then <pad>; L <= ``max_len`` (the loop stops once every row has
        produced <eos>). ``use_cache=False`` recomputes the whole prefix at every step."""
        max_len = validate.positive_int("max_len", max_len)
        if max_len >= self.max_len:
            raise ValueError(f"max_len must be below the model's max_len = {self.max_len} "
                             f"(<sos> takes a position), got {max_len}")
        pad = self._padding(src, src_key_padding_mask)
        memory = self.encode(src, pad)                                # (B, S, C)
        B = src.shape[0]
        seq = torch.full((B, 1), SOS, dtype=torch.long, device=src.device)
        done = torch.zeros(B, dtype=torch.bool, device=src.device)
        cache = new_cache(self.num_decoder_layers) if use_cache else None
        for _ in range(max_len):
            inp = seq[:, -1:] if use_cache else seq                  # (B, 1) or (B, t)
            logits = self.decode(inp, memory, pad, cache=cache)[:, -1]  # (B, V)
            y = logits.argmax(-1).masked_fill(done, PAD)              # (B,)
            seq = torch.cat([seq, y[:, None]], dim=1)
            done = done | (y == EOS)
            if bool(done.all()):
                break
        return seq[:, 1:]

    # -- a small checkpoint ----------------------------------------------------------------
    def save(self, path, dtype: torch.dtype = torch.float32, **info) -> None:
        """Write the constructor's arguments, the state dict (as ``dtype``) and ``info``
        (JSON-serialisable notes)."""
        state = {k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype)
                 for k, v in self.state_dict().items()}
        info = json.loads(json.dumps(info))  # plain types only: loadable with weights_only
        torch.save({"config": dict(self.config), "state_dict": state, "info": info}, path)

    @classmethod
    def load(cls, path, map_location=None) -> "TransformerSeq2Seq":
        """A model built from a file written by :meth:`save`, in float32, in eval mode;
        its notes are in ``model.info``."""
        blob = torch.load(path, map_location=map_location or "cpu", weights_only=True)
        missing = {"config", "state_dict"} - set(blob)
        if missing:
            raise ValueError(f"{path} is not a TransformerSeq2Seq checkpoint: expected the "
                             f"keys config and state_dict, got {sorted(blob)}")
        model = cls(**blob["config"])
        state = {k: v.float() if v.is_floating_point() else v
                 for k, v in blob["state_dict"].items()}
        model.load_state_dict(state, strict=True)
        model.info = blob.get("info", {})
        return model.eval()
