"""Chapter 10's character-level LSTM language model, shared by the chapters that train one
(Sutskever, Martens & Hinton 2011; Graves 2013; Karpathy 2015).

An embedding of the characters, ``nn.LSTM`` (PyTorch's fused kernel; the cell is built from
scratch in :mod:`nblib.nn.lstm`) and a linear read-out give next-character logits at every
position::

    h_t = LSTM(E x_t, h_{t-1})            p(x_{t+1} | x_{<=t}) = softmax(W h_t + b)

``forward(x (B, T) int64, state=None) -> (logits (B, T, V), state)``: the returned state
continues the text in the next call, so a long text can be read, or generated, chunk by chunk.
"""
from __future__ import annotations

from torch import Tensor, nn

from nblib import validate

__all__ = ["CharLSTM"]


class CharLSTM(nn.Module):
    """Embedding -> LSTM -> linear: next-character logits at every position."""

    def __init__(self, vocab_size: int, embed: int = 64, hidden: int = 128,
                 num_layers: int = 1) -> None:
        super().__init__()
        self.embed = nn.Embedding(validate.positive_int("vocab_size", vocab_size),
                                  validate.positive_int("embed", embed))
        self.lstm = nn.LSTM(embed, validate.positive_int("hidden", hidden),
                            validate.positive_int("num_layers", num_layers), batch_first=True)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None
                ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        validate.tensor("x", x, ndim=2, floating=False,
                        hint="; x holds character indices (B, T): use .long()")
        h, state = self.lstm(self.embed(x), state)      # (B, T, H)
        return self.head(h), state                      # (B, T, V)
