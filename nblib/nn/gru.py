"""The gated recurrent unit from scratch, in PyTorch's variant, with PyTorch's names.

The GRU (Cho et al. 2014) has one state ``h`` and two gates. PyTorch (like cuDNN) computes::

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)          reset gate
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)          update gate
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))       candidate state
    h' = (1 - z) * n + z * h

Two details to keep in mind when reading other code or the paper:

* **The reset gate is applied after the hidden matrix product**, ``r * (W_hn h + b_hn)``.
  Cho et al. (2014) apply it before: ``W_hn (r * h)``. The two agree only in special cases
  (for example a diagonal ``W_hn`` and ``b_hn = 0``); Keras calls PyTorch's form
  ``reset_after=True``.
* **z keeps the old state**: ``h' = (1 - z) * n + z * h``. Some texts swap the roles of ``z``
  and ``1 - z``; the model is the same up to the sign of the gate's weights.

The stacked weights are in the order **r, z, n**: ``weight_ih`` is ``(3H, I)``,
``weight_hh`` ``(3H, H)``, the biases ``(3H,)``. ``GRU`` uses ``nn.GRU``'s parameter names
(``weight_ih_l0``, ...), so ``ours.load_state_dict(torch_gru.state_dict())`` copies them.
"""
from __future__ import annotations


import torch
from torch import Tensor, nn

from nblib import validate
from nblib.nn.rnn import _uniform_
from nblib.nn.lstm import _gate_parameters, _register_cells, _sequence_input, _StackedCells, _state_input

__all__ = ["GRUCell", "GRU", "gru_gates", "Mnist1dGRU"]


def gru_gates(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor,
              bias_ih: Tensor | None, bias_hh: Tensor | None) -> dict[str, Tensor]:
    """The activations of one GRU step in PyTorch's variant: ``{"r", "z", "n"}``, each (B, H)."""
    gi = x @ weight_ih.T                                          # (B, 3H) input part
    gh = h @ weight_hh.T                                          # (B, 3H) hidden part
    if bias_ih is not None:
        gi, gh = gi + bias_ih, gh + bias_hh
    i_r, i_z, i_n = gi.chunk(3, dim=-1)                           # PyTorch's order r, z, n
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)                                 # reset AFTER the matmul
    return {"r": r, "z": z, "n": n}


class GRUCell(nn.Module):
    """One GRU step, ``h' = cell(x, h)``, like ``nn.GRUCell``.

    ``x`` is (B, I) or unbatched (I,); ``h`` is (B, H) (default zeros).
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        self.input_size = validate.positive_int("input_size", input_size)
        self.hidden_size = validate.positive_int("hidden_size", hidden_size)
        _gate_parameters(self, 3 * hidden_size, bias, device, dtype)

    def reset_parameters(self) -> None:
        """PyTorch's initialisation: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))."""
        _uniform_(self.parameters(), self.hidden_size)

    def gates(self, x: Tensor, h: Tensor | None = None) -> dict[str, Tensor]:
        """The activations ``{"r", "z", "n"}`` for input ``x`` (B, I) and state ``h`` (B, H)."""
        x, h, _ = self._check(x, h)
        return gru_gates(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        x, h, unbatched = self._check(x, h)
        gate = gru_gates(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        h = (1 - gate["z"]) * gate["n"] + gate["z"] * h           # (B, H)
        return h[0] if unbatched else h

    def _check(self, x, h):
        validate.tensor("x", x, floating=True)
        if x.dim() not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"GRUCell: x must have shape (B, {self.input_size}) or "
                             f"({self.input_size},), got {tuple(x.shape)}")
        unbatched = x.dim() == 1
        x = x[None] if unbatched else x
        if h is None:
            return x, x.new_zeros(x.shape[0], self.hidden_size), unbatched
        h = h[None] if unbatched else h
        validate.tensor("h", h, shape=(x.shape[0], self.hidden_size))
        return x, h, unbatched

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias_ih is not None}"


class GRU(_StackedCells):
    """A multi-layer GRU over a sequence, like ``nn.GRU`` (unidirectional).

    ``x`` is (T, B, I), or (B, T, I) with ``batch_first=True``, or unbatched (T, I).
    Returns ``output`` (the top layer's h at every step) and ``h_n`` (num_layers, B, H).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, device=None, dtype=None):
        super().__init__()
        self.input_size = validate.positive_int("input_size", input_size)
        self.hidden_size = validate.positive_int("hidden_size", hidden_size)
        self.num_layers = validate.positive_int("num_layers", num_layers)
        self.bias, self.batch_first = bias, batch_first
        self._cells = [GRUCell(input_size if k == 0 else hidden_size, hidden_size, bias,
                               device, dtype) for k in range(num_layers)]
        _register_cells(self)  # under nn.GRU's names

    def forward(self, x: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x, unbatched = _sequence_input("GRU", x, self.input_size, self.batch_first)
        T, B = x.shape[0], x.shape[1]
        state = (torch.zeros(self.num_layers, B, self.hidden_size, dtype=x.dtype,
                             device=x.device) if hx is None else _state_input(
            "GRU", hx, self.num_layers, B, self.hidden_size, unbatched, pair=False))
        h_n = []
        layer_input = x                                           # (T, B, I)
        for k, cell in enumerate(self._cells):
            h = state[k]                                          # (B, H)
            outputs = []
            for t in range(T):
                h = cell(layer_input[t], h)
                outputs.append(h)
            layer_input = torch.stack(outputs)                    # (T, B, H)
            h_n.append(h)
        output, h_n = layer_input, torch.stack(h_n)
        if unbatched:
            return output[:, 0], h_n[:, 0]
        return (output.transpose(0, 1) if self.batch_first else output), h_n

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"batch_first={self.batch_first}")


class Mnist1dGRU(nn.Module):
    """The GRU baseline of MNIST-1D (Greydanus & Kobak 2020): the 40 samples of a signal are a
    sequence of scalars, read by a bidirectional ``nn.GRU`` (PyTorch's fused implementation);
    the outputs of every step are flattened into one linear read-out. With ``hidden_size=6``
    this is the published model: 40 * 12 = 480 features, ``Linear(480, 10)``, 5,134 parameters.

    ``x`` (B, 40) -> logits (B, 10).
    """

    def __init__(self, hidden_size: int = 6, length: int = 40, num_classes: int = 10):
        super().__init__()
        self.length = validate.positive_int("length", length)
        self.rnn = nn.GRU(1, validate.positive_int("hidden_size", hidden_size),
                          batch_first=True, bidirectional=True)
        self.out = nn.Linear(length * 2 * hidden_size, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        validate.tensor("x", x, floating=True, shape=("B", self.length))
        outputs, _ = self.rnn(x[..., None])                       # (B, 40, 2H)
        return self.out(outputs.flatten(1))                       # (B, 10)
