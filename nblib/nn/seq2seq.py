"""Encoder-decoder (sequence to sequence) networks, with and without attention.

- ``Encoder``: embedding + ``nn.GRU`` / ``nn.LSTM`` (optionally bidirectional) over the source.
- ``AdditiveAttention`` (Bahdanau, Cho & Bengio 2014):
  :math:`e_{j} = v^\\top \\tanh(W_q q + W_k k_j)`, weights :math:`\\alpha = \\mathrm{softmax}(e)`
  over the valid source positions, context :math:`c = \\sum_j \\alpha_j k_j`.
- ``LuongAttention`` (Luong, Pham & Manning 2015), multiplicative scores:
  ``'dot'`` :math:`e_j = q^\\top k_j`, ``'general'`` :math:`e_j = q^\\top W_a k_j`.
- ``Seq2Seq``: the decoder, in one of three arrangements (``attention=``):

  * ``None``: the fixed context vector (Cho et al. 2014; Sutskever et al. 2014): the encoder's
    final state starts the decoder and is fed, unchanged, with every input token;
  * ``'additive'``: Bahdanau's arrangement: at step t the *previous* decoder state
    :math:`s_{t-1}` queries the source, and the context enters the recurrence,
    :math:`s_t = \\mathrm{RNN}([E y_{t-1}; c_t], s_{t-1})`, so decoding is a loop over t;
  * ``'dot'`` / ``'general'``: Luong's global attention: the *current* state :math:`h_t`
    queries, :math:`\\tilde h_t = \\tanh(W_c [c_t; h_t])` predicts; with teacher forcing the
    recurrence runs in one fused call (no input feeding).

  ``forward(src, tgt_in)`` is teacher forcing; ``greedy_decode(src, max_len)`` decodes a whole
  batch at once. Both return the alignment weights ``(B, T, S)`` (``None`` without attention).

Tokens follow :mod:`nblib.data.scan`: ``<pad>`` = 0, ``<sos>`` = 1, ``<eos>`` = 2.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nblib import validate

__all__ = ["masked_softmax", "AdditiveAttention", "LuongAttention", "Encoder", "Seq2Seq",
           "sequence_accuracy"]

PAD, SOS, EOS = 0, 1, 2
CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}
ATTENTIONS = {None: "fixed context vector", "additive": "Bahdanau et al. 2014",
              "dot": "Luong et al. 2015", "general": "Luong et al. 2015"}


def masked_softmax(scores: Tensor, mask: Tensor | None) -> Tensor:
    """Softmax over the last dimension, with weight exactly 0 where ``mask`` is False.

    ``scores`` (..., S), ``mask`` (B, S) bool (True = a real position), broadcast over the
    middle dimensions. Every row needs at least one True.
    """
    if mask is not None:
        validate.tensor("mask", mask, dtype=torch.bool, hint="; True marks real positions")
        if mask.shape[-1] != scores.shape[-1]:
            raise ValueError(f"mask must have shape (B, S) with S = {scores.shape[-1]} source "
                             f"positions, got {tuple(mask.shape)}")
        while mask.dim() < scores.dim():
            mask = mask.unsqueeze(-2)  # (B, 1, S)
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1)


def _check_qk(query: Tensor, keys: Tensor, dq: int, dk: int) -> bool:
    validate.tensor("keys", keys, floating=True, shape=("B", "S", dk))
    validate.tensor("query", query, floating=True)
    if query.dim() not in (2, 3) or query.shape[0] != keys.shape[0] or query.shape[-1] != dq:
        raise ValueError(f"query must have shape (B, {dq}) or (B, T, {dq}) with B = "
                         f"{keys.shape[0]}, got {tuple(query.shape)}")
    return query.dim() == 2


class AdditiveAttention(nn.Module):
    """Bahdanau attention: scores v^T tanh(W_q q + W_k k_j), a masked softmax, a weighted sum.

    ``forward(query, keys, mask=None, projected_keys=None)``: ``query`` (B, dq) or (B, T, dq),
    ``keys`` (B, S, dk), ``mask`` (B, S) bool. Returns ``(context, weights)``: (B, [T,] dk) and
    (B, [T,] S). ``project_keys(keys)`` computes W_k k_j once, for reuse at every decoder step.
    """

    def __init__(self, query_size: int, key_size: int, hidden_size: int):
        super().__init__()
        self.query_size, self.key_size = query_size, key_size
        self.W_q = nn.Linear(query_size, hidden_size, bias=False)
        self.W_k = nn.Linear(key_size, hidden_size, bias=True)
        self.v = nn.Linear(hidden_size, 1, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        return self.W_k(keys)  # (B, S, h)

    def forward(self, query, keys, mask=None, projected_keys=None):
        single = _check_qk(query, keys, self.query_size, self.key_size)
        q = query.unsqueeze(1) if single else query                   # (B, T, dq)
        pk = self.project_keys(keys) if projected_keys is None else projected_keys
        e = self.v(torch.tanh(self.W_q(q).unsqueeze(2) + pk.unsqueeze(1))).squeeze(-1)
        weights = masked_softmax(e, mask)                             # (B, T, S)
        context = weights @ keys                                      # (B, T, dk)
        return (context.squeeze(1), weights.squeeze(1)) if single else (context, weights)


class LuongAttention(nn.Module):
    """Luong's multiplicative scores: ``'dot'`` q^T k_j or ``'general'`` q^T W_a k_j.

    Same call as ``AdditiveAttention``; ``'dot'`` needs query and key of one size.
    """

    def __init__(self, query_size: int, key_size: int, score: str = "general"):
        super().__init__()
        validate.choice("score", score, ("dot", "general"))
        if score == "dot" and query_size != key_size:
            raise ValueError(f"dot scores need query_size == key_size, got {query_size} and "
                             f"{key_size}; use score='general'")
        self.query_size, self.key_size, self.score = query_size, key_size, score
        self.W_a = nn.Linear(key_size, query_size, bias=False) if score == "general" else None

    def project_keys(self, keys: Tensor) -> Tensor:
        return keys if self.W_a is None else self.W_a(keys)          # (B, S, dq)

    def forward(self, query, keys, mask=None, projected_keys=None):
        single = _check_qk(query, keys, self.query_size, self.key_size)
        q = query.unsqueeze(1) if single else query                   # (B, T, dq)
        pk = self.project_keys(keys) if projected_keys is None else projected_keys
        weights = masked_softmax(q @ pk.transpose(1, 2), mask)        # (B, T, S)
        context = weights @ keys                                      # (B, T, dk)
        return (context.squeeze(1), weights.squeeze(1)) if single else (context, weights)


class Encoder(nn.Module):
    """Embedding + a GRU or LSTM over the source; padding (index 0) is packed away.

    ``forward(src, lengths=None)`` -> ``(outputs (B, S, H * directions), state)``: ``state`` is
    the final hidden state (num_layers * directions, B, H), or the pair (h, c) for an LSTM.
    ``lengths`` (B,) int64 on the CPU; when omitted it is computed from ``src`` (one host-device
    synchronisation on a GPU: pass it in a training loop).
    """

    def __init__(self, vocab_size, embed_size, hidden_size, cell="gru", num_layers=1,
                 bidirectional=False, dropout=0.0):
        super().__init__()
        validate.choice("cell", cell, tuple(CELLS))
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=PAD)
        self.rnn = CELLS[cell](embed_size, hidden_size, num_layers, batch_first=True,
                               bidirectional=bidirectional,
                               dropout=dropout if num_layers > 1 else 0.0)
        self.cell, self.vocab_size = cell, vocab_size
        self.directions = 2 if bidirectional else 1

    def forward(self, src: Tensor, lengths: Tensor | None = None):
        validate.tensor("src", src, floating=False, ndim=2)
        if lengths is None:
            lengths = (src != PAD).sum(1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(self.embedding(src), lengths.cpu(),
                                                   batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True,
                                                  total_length=src.shape[1])
        return out, state                                             # (B, S, H*dirs)


class Seq2Seq(nn.Module):
    """An encoder-decoder with a fixed context vector or with attention (module docstring).

    ``Seq2Seq(src_vocab, tgt_vocab, embed_size=32, hidden_size=64, attention=None | 'additive'
    | 'dot' | 'general', cell='gru' | 'lstm', num_layers=1, bidirectional=False)``.
    """

    def __init__(self, src_vocab, tgt_vocab, embed_size=32, hidden_size=64, attention=None,
                 cell="gru", num_layers=1, bidirectional=False, dropout=0.0):
        super().__init__()
        validate.choice("attention", attention, ATTENTIONS)
        self.encoder = Encoder(src_vocab, embed_size, hidden_size, cell, num_layers,
                               bidirectional, dropout)
        H, K = hidden_size, hidden_size * self.encoder.directions     # decoder and key sizes
        self.attention_kind, self.cell, self.num_layers = attention, cell, num_layers
        self.tgt_vocab, self.hidden_size = tgt_vocab, H
        self.bridge = nn.Linear(K, H) if bidirectional else None      # encoder -> decoder state
        self.embedding = nn.Embedding(tgt_vocab, embed_size, padding_idx=PAD)
        rnn_in = embed_size if attention in ("dot", "general") else embed_size + K
        self.rnn = CELLS[cell](rnn_in, H, num_layers, batch_first=True,
                               dropout=dropout if num_layers > 1 else 0.0)
        if attention == "additive":
            self.attention = AdditiveAttention(H, K, H)
        elif attention is not None:
            self.attention = LuongAttention(H, K, attention)
        else:
            self.attention = None
        self.combine = nn.Linear(H + K, H) if attention in ("dot", "general") else None
        self.out = nn.Linear(H if self.combine is not None else H + K, tgt_vocab)

    # -- the encoder's side ------------------------------------------------------------------
    def _start(self, src, lengths):
        keys, state = self.encoder(src, lengths)                      # (B, S, K)
        mask = src != PAD                                             # (B, S)

        def first_state(s):  # (L * dirs, B, H) -> (L, B, H)
            if self.bridge is None:
                return s
            s = s.view(self.num_layers, 2, *s.shape[1:])
            return torch.tanh(self.bridge(torch.cat([s[:, 0], s[:, 1]], dim=-1)))

        h = state[0] if self.cell == "lstm" else state                # (L * dirs, B, H)
        fixed = torch.cat(list(h[-self.encoder.directions:]), -1)     # (B, K): top layer
        state = tuple(map(first_state, state)) if self.cell == "lstm" else first_state(state)
        pk = None if self.attention is None else self.attention.project_keys(keys)
        return keys, mask, state, pk, fixed

    def _step(self, y_prev, state, keys, mask, pk, fixed):
        """One decoder step for every arrangement: (logits (B, V), state, weights or None)."""
        emb = self.embedding(y_prev)                                  # (B, E)
        if self.attention_kind in ("dot", "general"):
            h, state = self.rnn(emb.unsqueeze(1), state)              # (B, 1, H)
            c, w = self.attention(h.squeeze(1), keys, mask, pk)
            h_tilde = torch.tanh(self.combine(torch.cat([c, h.squeeze(1)], -1)))
            return self.out(h_tilde), state, w
        if self.attention_kind == "additive":
            s_prev = state[0][-1] if self.cell == "lstm" else state[-1]
            c, w = self.attention(s_prev, keys, mask, pk)             # (B, K), (B, S)
        else:
            c, w = fixed, None
        h, state = self.rnn(torch.cat([emb, c], -1).unsqueeze(1), state)
        return self.out(torch.cat([h.squeeze(1), c], -1)), state, w

    # -- teacher forcing ---------------------------------------------------------------------
    def forward(self, src: Tensor, tgt_in: Tensor, src_lengths: Tensor | None = None):
        """Teacher forcing: ``tgt_in`` (B, T) starts with <sos>. Returns (logits (B, T, V),
        weights (B, T, S) or None)."""
        validate.tensor("tgt_in", tgt_in, floating=False, ndim=2)
        if tgt_in.shape[0] != src.shape[0]:
            raise ValueError(f"src and tgt_in need the same batch size, got {tuple(src.shape)} "
                             f"and {tuple(tgt_in.shape)}")
        keys, mask, state, pk, fixed = self._start(src, src_lengths)
        emb = self.embedding(tgt_in)                                  # (B, T, E)
        if self.attention_kind in ("dot", "general"):                 # parallel over t
            h, _ = self.rnn(emb, state)                               # (B, T, H)
            c, w = self.attention(h, keys, mask, pk)                  # (B, T, K), (B, T, S)
            return self.out(torch.tanh(self.combine(torch.cat([c, h], -1)))), w
        if self.attention_kind is None:                               # parallel over t
            c = fixed.unsqueeze(1).expand(-1, emb.shape[1], -1)
            h, _ = self.rnn(torch.cat([emb, c], -1), state)           # (B, T, H)
            return self.out(torch.cat([h, c], -1)), None
        logits, weights = [], []                                      # Bahdanau: a loop
        for t in range(tgt_in.shape[1]):
            lt, state, w = self._step(tgt_in[:, t], state, keys, mask, pk, fixed)
            logits.append(lt)
            weights.append(w)
        return torch.stack(logits, 1), torch.stack(weights, 1)

    # -- greedy decoding ---------------------------------------------------------------------
    @torch.no_grad()
    def greedy_decode(self, src: Tensor, max_len: int, src_lengths: Tensor | None = None):
        """Greedy decoding of a whole batch: (tokens (B, L), weights (B, L, S) or None).

        Each row holds the predicted tokens after <sos>, <eos> included, then <pad>; L <=
        ``max_len`` (the loop stops once every row has produced <eos>).
        """
        validate.positive_int("max_len", max_len)
        keys, mask, state, pk, fixed = self._start(src, src_lengths)
        B = src.shape[0]
        y = torch.full((B,), SOS, dtype=torch.long, device=src.device)
        done = torch.zeros(B, dtype=torch.bool, device=src.device)
        tokens, weights = [], []
        for _ in range(max_len):
            logits, state, w = self._step(y, state, keys, mask, pk, fixed)
            y = logits.argmax(-1).masked_fill(done, PAD)              # (B,)
            tokens.append(y)
            weights.append(w)
            done = done | (y == EOS)
            if bool(done.all()):
                break
        w = None if self.attention is None else torch.stack(weights, 1)
        return torch.stack(tokens, 1), w


def sequence_accuracy(pred: Tensor, target: Tensor) -> Tensor:
    """Exact match per row: ``pred`` (B, L) from ``greedy_decode``, ``target`` (B, T) =
    actions + <eos> + <pad> (``tgt[:, 1:]``). Returns a (B,) bool tensor."""
    L = max(pred.shape[1], target.shape[1])
    p = F.pad(pred, (0, L - pred.shape[1]), value=PAD)
    t = F.pad(target, (0, L - target.shape[1]), value=PAD)
    return (p == t).all(dim=1)
