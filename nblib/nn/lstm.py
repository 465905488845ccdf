"""Long short-term memory from scratch, with PyTorch's names, gate order and conventions.

The cell (Hochreiter & Schmidhuber 1997, with the forget gate of Gers, Schmidhuber & Cummins
2000) keeps two states, the hidden state ``h`` and the cell state ``c``::

    i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)      input gate
    f = sigmoid(W_if x + b_if + W_hf h + b_hf)      forget gate
    g = tanh(W_ig x + b_ig + W_hg h + b_hg)         candidate (cell input)
    o = sigmoid(W_io x + b_io + W_ho h + b_ho)      output gate
    c' = f * c + i * g
    h' = o * tanh(c')

PyTorch stacks the four gates' weights in the order **i, f, g, o**: ``weight_ih`` is
``(4H, I)`` = ``[W_ii; W_if; W_ig; W_io]``, ``weight_hh`` is ``(4H, H)``, and both biases are
``(4H,)``. With ``forget_gate=False`` the cell is the 1997 one, ``c' = c + i * g`` (the
"constant error carousel": the cell state's self-connection has weight exactly 1), and the
stacked weights hold three gates in the order **i, g, o** (``3H`` rows). The original paper
squashed ``g`` and ``c`` with scaled sigmoids; we use tanh for both, as every later LSTM does.

``LSTM`` runs ``num_layers`` cells over a sequence with ``nn.LSTM``'s parameter names
(``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, ...), so
``ours.load_state_dict(torch_lstm.state_dict())`` copies PyTorch's weights.
"""
from __future__ import annotations


import torch
from torch import Tensor, nn

from nblib import validate
from nblib.nn.rnn import _uniform_

__all__ = ["LSTMCell", "LSTM", "lstm_gates"]


def lstm_gates(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor,
               bias_ih: Tensor | None, bias_hh: Tensor | None,
               forget_gate: bool = True) -> dict[str, Tensor]:
    """The gate activations of one LSTM step: ``{"i", "f", "g", "o"}``, each (B, H).

    Without a forget gate (the 1997 cell) ``"f"`` is all ones: the cell state is kept as is.
    """
    z = x @ weight_ih.T + h @ weight_hh.T                        # (B, nG * H)
    if bias_ih is not None:
        z = z + bias_ih + bias_hh
    if forget_gate:
        zi, zf, zg, zo = z.chunk(4, dim=-1)                      # PyTorch's order i, f, g, o
        f = torch.sigmoid(zf)
    else:
        zi, zg, zo = z.chunk(3, dim=-1)                          # the 1997 cell: i, g, o
        f = torch.ones_like(zi)
    return {"i": torch.sigmoid(zi), "f": f, "g": torch.tanh(zg), "o": torch.sigmoid(zo)}


def _gate_parameters(cell: nn.Module, rows: int, bias: bool, device, dtype) -> None:
    """``weight_ih`` (rows, I), ``weight_hh`` (rows, H) and the two biases (rows,) of a gated
    cell, stacked gate by gate as PyTorch stores them, then PyTorch's initialisation."""
    kw = {"device": device, "dtype": dtype}
    cell.weight_ih = nn.Parameter(torch.empty(rows, cell.input_size, **kw))
    cell.weight_hh = nn.Parameter(torch.empty(rows, cell.hidden_size, **kw))
    for name in ("bias_ih", "bias_hh"):
        cell.register_parameter(name, nn.Parameter(torch.empty(rows, **kw)) if bias else None)
    cell.reset_parameters()


class _StackedCells(nn.Module):
    """A stack of cells in ``self._cells`` whose parameters are this module's, registered
    under PyTorch's layer names (``weight_ih_l0``, ...): shared by :class:`LSTM` and GRU."""

    def cell(self, layer: int) -> nn.Module:
        """The cell of ``layer`` (it shares this module's parameters)."""
        return self._cells[layer]

    def _apply(self, fn, *args, **kwargs):  # .to(), .double(): keep the cells' views in sync
        super()._apply(fn, *args, **kwargs)
        for k, cell in enumerate(self._cells):
            for name, _ in list(cell.named_parameters()):
                setattr(cell, name, getattr(self, f"{name}_l{k}"))
        return self


def _register_cells(module: _StackedCells) -> None:
    """Register every cell's parameters on ``module`` as ``<name>_l<layer>``."""
    for k, cell in enumerate(module._cells):
        for name, p in cell.named_parameters():
            module.register_parameter(f"{name}_l{k}", p)


class LSTMCell(nn.Module):
    """One LSTM step, ``(h', c') = cell(x, (h, c))``, like ``nn.LSTMCell``.

    ``x`` is (B, I) or unbatched (I,); ``hx = (h, c)``, each (B, H), defaults to zeros.
    ``forget_gate=False`` gives the original cell of Hochreiter & Schmidhuber (1997).
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 forget_gate: bool = True, device=None, dtype=None):
        super().__init__()
        self.input_size = validate.positive_int("input_size", input_size)
        self.hidden_size = validate.positive_int("hidden_size", hidden_size)
        self.forget_gate = bool(forget_gate)
        n = (4 if forget_gate else 3) * hidden_size
        _gate_parameters(self, n, bias, device, dtype)

    def reset_parameters(self) -> None:
        """PyTorch's initialisation: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))."""
        _uniform_(self.parameters(), self.hidden_size)

    def gates(self, x: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> dict[str, Tensor]:
        """The gate activations ``{"i", "f", "g", "o"}`` for input ``x`` (B, I) and state ``hx``."""
        x, (h, _c), _ = self._check(x, hx)
        return lstm_gates(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
                          self.forget_gate)

    def forward(self, x: Tensor, hx: tuple[Tensor, Tensor] | None = None
                ) -> tuple[Tensor, Tensor]:
        x, (h, c), unbatched = self._check(x, hx)
        gate = lstm_gates(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
                          self.forget_gate)
        c = gate["f"] * c + gate["i"] * gate["g"]                 # (B, H) the cell state
        h = gate["o"] * torch.tanh(c)                             # (B, H) the hidden state
        return (h[0], c[0]) if unbatched else (h, c)

    def _check(self, x, hx):
        validate.tensor("x", x, floating=True)
        if x.dim() not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"LSTMCell: x must have shape (B, {self.input_size}) or "
                             f"({self.input_size},), got {tuple(x.shape)}")
        unbatched = x.dim() == 1
        x = x[None] if unbatched else x
        if hx is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)
            return x, (zeros, zeros), unbatched
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError("LSTMCell: hx must be a pair (h, c) of tensors, "
                            f"got {type(hx).__name__}")
        h, c = (s[None] if unbatched else s for s in hx)
        for name, s in (("h", h), ("c", c)):
            validate.tensor(name, s, shape=(x.shape[0], self.hidden_size))
        return x, (h, c), unbatched

    def extra_repr(self) -> str:
        extra = "" if self.forget_gate else ", forget_gate=False"
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias_ih is not None}{extra}"


class LSTM(_StackedCells):
    """A multi-layer LSTM over a sequence, like ``nn.LSTM`` (unidirectional).

    ``x`` is (T, B, I), or (B, T, I) with ``batch_first=True``, or unbatched (T, I).
    Returns ``output`` (the top layer's h at every step, same layout as ``x`` with H features)
    and ``(h_n, c_n)``, each (num_layers, B, H). Parameters are named as in ``nn.LSTM``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, forget_gate: bool = True,
                 device=None, dtype=None):
        super().__init__()
        self.input_size = validate.positive_int("input_size", input_size)
        self.hidden_size = validate.positive_int("hidden_size", hidden_size)
        self.num_layers = validate.positive_int("num_layers", num_layers)
        self.bias, self.batch_first, self.forget_gate = bias, batch_first, forget_gate
        self._cells = [LSTMCell(input_size if k == 0 else hidden_size, hidden_size, bias,
                                forget_gate, device, dtype) for k in range(num_layers)]
        _register_cells(self)

    def forward(self, x: Tensor, hx: tuple[Tensor, Tensor] | None = None
                ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        x, unbatched = _sequence_input("LSTM", x, self.input_size, self.batch_first)
        T, B = x.shape[0], x.shape[1]
        state = (torch.zeros(2, self.num_layers, B, self.hidden_size, dtype=x.dtype,
                             device=x.device) if hx is None else _state_input(
            "LSTM", hx, self.num_layers, B, self.hidden_size, unbatched, pair=True))
        h_n, c_n = [], []
        layer_input = x                                           # (T, B, I)
        for k, cell in enumerate(self._cells):
            h, c = state[0][k], state[1][k]                       # (B, H) each
            outputs = []
            for t in range(T):
                h, c = cell(layer_input[t], (h, c))
                outputs.append(h)
            layer_input = torch.stack(outputs)                    # (T, B, H)
            h_n.append(h)
            c_n.append(c)
        output, h_n, c_n = layer_input, torch.stack(h_n), torch.stack(c_n)
        if unbatched:
            return output[:, 0], (h_n[:, 0], c_n[:, 0])
        return (output.transpose(0, 1) if self.batch_first else output), (h_n, c_n)

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"batch_first={self.batch_first}"
                + ("" if self.forget_gate else ", forget_gate=False"))


def _sequence_input(who: str, x, input_size: int, batch_first: bool) -> tuple[Tensor, bool]:
    """Check a sequence input and return it as (T, B, I), plus whether it was unbatched."""
    validate.tensor("x", x, floating=True)
    layout = "(B, T, I)" if batch_first else "(T, B, I)"
    if x.dim() not in (2, 3) or x.shape[-1] != input_size:
        raise ValueError(f"{who}: x must have shape {layout.replace('I', str(input_size))} or "
                         f"unbatched (T, {input_size}), got {tuple(x.shape)}")
    if x.dim() == 2:
        return x[:, None], True
    return (x.transpose(0, 1) if batch_first else x), False


def _state_input(who: str, hx, num_layers: int, B: int, H: int, unbatched: bool, pair: bool):
    """Check an initial state, (num_layers, B, H) or a pair of them; return it batched."""
    states = hx if pair else (hx,)
    if pair and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
        raise TypeError(f"{who}: hx must be a pair (h_0, c_0), got {type(hx).__name__}")
    out = []
    for name, s in zip(("h_0", "c_0"), states):
        expected = (num_layers, H) if unbatched else (num_layers, B, H)
        validate.tensor(name, s, shape=expected)
        out.append(s[:, None] if unbatched else s)
    return out if pair else out[0]
