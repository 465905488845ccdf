"""Recurrent networks from scratch: ``RNNCell``, ``RNN`` and backpropagation through time.

The Elman (1990) recurrent network reads a sequence ``x_1 .. x_T`` one step at a time and keeps
a hidden state that it updates with the *same* weights at every step::

    h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)        # (N, H)

PyTorch's names and conventions throughout, so that ``load_state_dict`` copies the weights of an
``nn.RNN`` into ours: ``weight_ih_l{k}`` (H, D) is the book's W_xh, ``weight_hh_l{k}`` (H, H)
is W_hh, the two biases ``bias_ih_l{k}`` and ``bias_hh_l{k}`` add up to the book's b. Inputs are
``(T, N, D)`` (time first), or ``(N, T, D)`` with ``batch_first=True``, or ``(T, D)`` unbatched.

* ``RNNCell``: one step. ``RNN``: ``num_layers`` stacked cells unrolled over time, layer k+1
  reading layer k's states; returns ``(output, h_n)`` like ``nn.RNN``.
* ``rnn_forward`` and ``bptt``: the single-layer tanh RNN as plain tensors, and its backward
  pass written out as an explicit loop backward over time (Werbos 1990; the product of
  Jacobians of Pascanu, Mikolov & Bengio 2013). At each step the gradient arriving at ``h_t``
  is multiplied by the step's Jacobian transposed, ``W_hh^T diag(1 - h_t^2)``, on its way to
  ``h_{t-1}``.
* ``scaled_orthogonal``: a random recurrent matrix with a chosen spectral radius.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from nblib import validate

__all__ = ["RNNCell", "RNN", "NONLINEARITIES", "rnn_forward", "bptt", "BPTTGrads",
           "tanh_jacobian_t", "scaled_orthogonal", "spectral_radius"]

NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu}


def _uniform_(params, hidden_size: int) -> None:
    """PyTorch's initialisation of recurrent layers: every weight and bias ~ U(-k, k),
    k = 1 / sqrt(hidden_size)."""
    k = 1.0 / math.sqrt(hidden_size)
    with torch.no_grad():
        for p in params:
            p.uniform_(-k, k)


class RNNCell(nn.Module):
    """One step of an Elman RNN: ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``.

    ``input`` (N, input_size) or (input_size,); ``hx`` (N, hidden_size) or (hidden_size,),
    zeros when omitted. Same parameters and names as ``nn.RNNCell``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        super().__init__()
        self.input_size = validate.positive_int("input_size", input_size)
        self.hidden_size = validate.positive_int("hidden_size", hidden_size)
        self.nonlinearity = validate.choice("nonlinearity", nonlinearity, tuple(NONLINEARITIES))
        self.bias = bias
        kw = {"device": device, "dtype": dtype}
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size, **kw))
        self.bias_ih = nn.Parameter(torch.empty(hidden_size, **kw)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(hidden_size, **kw)) if bias else None
        _uniform_(self.parameters(), hidden_size)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        validate.tensor("input", input, floating=True, shape=(..., self.input_size))
        if input.dim() not in (1, 2):
            raise ValueError(f"RNNCell input must be (N, {self.input_size}) or "
                             f"({self.input_size},), got {tuple(input.shape)}")
        batched = input.dim() == 2
        x = input if batched else input[None]                       # (N, D)
        if hx is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        else:
            validate.tensor("hx", hx, shape=(*x.shape[:1], self.hidden_size)
                            if batched else (self.hidden_size,))
            h = hx if batched else hx[None]                          # (N, H)
        a = x @ self.weight_ih.T + h @ self.weight_hh.T              # (N, H)
        if self.bias:
            a = a + self.bias_ih + self.bias_hh
        h_new = NONLINEARITIES[self.nonlinearity](a)
        return h_new if batched else h_new[0]


class RNN(nn.Module):
    """A stack of ``num_layers`` Elman RNN layers unrolled over time, like ``nn.RNN``.

    ``forward(input, hx=None)`` returns ``(output, h_n)``: ``output`` holds the last layer's
    state at every step, (T, N, H) (or (N, T, H) with ``batch_first``), and ``h_n`` every
    layer's last state, (num_layers, N, H). ``hx`` is h_0 for every layer, (num_layers, N, H),
    zeros when omitted; ``batch_first`` does not apply to it (as in PyTorch).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.input_size = validate.positive_int("input_size", input_size)
        self.hidden_size = validate.positive_int("hidden_size", hidden_size)
        self.num_layers = validate.positive_int("num_layers", num_layers)
        self.nonlinearity = validate.choice("nonlinearity", nonlinearity, tuple(NONLINEARITIES))
        self.bias, self.batch_first = bias, batch_first
        kw = {"device": device, "dtype": dtype}
        for k in range(num_layers):
            d_in = input_size if k == 0 else hidden_size
            self.register_parameter(f"weight_ih_l{k}",
                                    nn.Parameter(torch.empty(hidden_size, d_in, **kw)))
            self.register_parameter(f"weight_hh_l{k}",
                                    nn.Parameter(torch.empty(hidden_size, hidden_size, **kw)))
            if bias:
                for name in (f"bias_ih_l{k}", f"bias_hh_l{k}"):
                    self.register_parameter(name, nn.Parameter(torch.empty(hidden_size, **kw)))
        _uniform_(self.parameters(), hidden_size)

    def _check(self, input: Tensor, hx: Tensor | None) -> tuple[Tensor, Tensor | None, bool]:
        """``input`` as (T, N, D) and ``hx`` as (num_layers, N, H); whether it was batched."""
        validate.tensor("input", input, floating=True)
        layout = "(N, T, D)" if self.batch_first else "(T, N, D)"
        if input.dim() not in (2, 3) or input.shape[-1] != self.input_size:
            raise ValueError(f"RNN input must be {layout} or unbatched (T, D) with "
                             f"D = input_size = {self.input_size}, got {tuple(input.shape)}")
        batched = input.dim() == 3
        x = input if batched else input[:, None]
        if batched and self.batch_first:
            x = x.transpose(0, 1)
        if hx is not None:
            want = (self.num_layers, x.shape[1], self.hidden_size)
            validate.tensor("hx", hx, shape=want if batched else (want[0], want[2]),
                            dtype=input.dtype)
            hx = hx if batched else hx[:, None]
        return x, hx, batched

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x, hx, batched = self._check(input, hx)                      # x (T, N, D)
        act = NONLINEARITIES[self.nonlinearity]
        T, N = x.shape[:2]
        last = []
        layer_in = x
        for k in range(self.num_layers):
            W_ih, W_hh = getattr(self, f"weight_ih_l{k}"), getattr(self, f"weight_hh_l{k}")
            b = (getattr(self, f"bias_ih_l{k}") + getattr(self, f"bias_hh_l{k}")
                 if self.bias else 0.0)
            h = hx[k] if hx is not None else x.new_zeros(N, self.hidden_size)
            xw = layer_in @ W_ih.T + b               # (T, N, H): the input part, all steps at once
            states = []
            for t in range(T):                       # the recurrence: one step at a time
                h = act(xw[t] + h @ W_hh.T)          # (N, H), the same W_hh at every step
                states.append(h)
            layer_in = torch.stack(states)           # (T, N, H): the next layer's input
            last.append(h)
        output, h_n = layer_in, torch.stack(last)    # (T, N, H), (num_layers, N, H)
        if not batched:
            return output[:, 0], h_n[:, 0]
        return (output.transpose(0, 1) if self.batch_first else output), h_n


# ---------------------------------------------------------------- BPTT by hand

def rnn_forward(x: Tensor, h0: Tensor, W_xh: Tensor, W_hh: Tensor, b: Tensor) -> Tensor:
    """The states ``h_1 .. h_T`` (T, N, H) of a one-layer tanh RNN::

        h_t = tanh(x_t W_xh^T + h_{t-1} W_hh^T + b)

    ``x`` (T, N, D) time first, ``h0`` (N, H), ``W_xh`` (H, D), ``W_hh`` (H, H), ``b`` (H,).
    """
    _check_rnn_args(x, h0, W_xh, W_hh)
    validate.tensor("b", b, shape=(W_hh.shape[0],))
    h, hs = h0, []
    for t in range(x.shape[0]):
        h = torch.tanh(x[t] @ W_xh.T + h @ W_hh.T + b)
        hs.append(h)
    return torch.stack(hs)


class BPTTGrads(NamedTuple):
    """What ``bptt`` returns: the parameters' gradients, dL/dh_t for every step (a list,
    index t-1 for h_t), and the gradients of the inputs and of the initial state."""

    dW_xh: Tensor       # (H, D)
    dW_hh: Tensor       # (H, H)
    db: Tensor          # (H,)   the same for b_ih and b_hh, which enter as a sum
    dh: list[Tensor]    # T tensors (N, H): the total dL/dh_t, through every later step too
    dx: Tensor          # (T, N, D)
    dh0: Tensor         # (N, H)


def bptt(x: Tensor, h0: Tensor, hs: Tensor, W_xh: Tensor, W_hh: Tensor,
         grad_hs: Tensor) -> BPTTGrads:
    """Backpropagation through time for the tanh RNN of ``rnn_forward``, written as a loop.

    ``hs`` (T, N, H) are the states ``rnn_forward`` returned; ``grad_hs`` (T, N, H) is the
    loss's *direct* gradient with respect to each state (zeros where a step has no loss,
    e.g. everywhere but the last step when the loss reads only h_T). Walking backward from
    t = T, the gradient arriving at h_t from the future is added to the direct one, pushed
    through tanh, used for the parameters' gradients (summed over steps: the weights are
    shared), and sent to h_{t-1} through W_hh: one multiplication by the step's Jacobian
    transposed, ``W_hh^T diag(1 - h_t^2)``.
    """
    _check_rnn_args(x, h0, W_xh, W_hh)
    T, N, H = x.shape[0], h0.shape[0], W_hh.shape[0]
    validate.tensor("hs", hs, shape=(T, N, H))
    validate.tensor("grad_hs", grad_hs, shape=(T, N, H))
    dW_xh, dW_hh = torch.zeros_like(W_xh), torch.zeros_like(W_hh)
    db = W_hh.new_zeros(H)
    dx = torch.zeros_like(x)
    dh: list[Tensor] = [None] * T                # type: ignore[list-item]
    from_future = torch.zeros_like(h0)           # dL/dh_t through steps t+1 .. T
    for t in reversed(range(T)):
        dh[t] = grad_hs[t] + from_future         # (N, H): the total dL/dh_t
        da = dh[t] * (1 - hs[t] ** 2)            # (N, H): through tanh, a = pre-activation
        h_prev = hs[t - 1] if t > 0 else h0
        dW_xh += da.T @ x[t]                     # each step adds its share:
        dW_hh += da.T @ h_prev                   #   the weights are the same at every step
        db += da.sum(0)
        dx[t] = da @ W_xh
        from_future = da @ W_hh                  # = dh[t] diag(1 - h_t^2) W_hh, to h_{t-1}
    return BPTTGrads(dW_xh, dW_hh, db, dh, dx, from_future)


def tanh_jacobian_t(W_hh: Tensor, h_t: Tensor) -> Tensor:
    """The backward factor of one step, ``(dh_t/dh_{t-1})^T = W_hh^T diag(1 - h_t^2)`` (H, H),
    for one state ``h_t`` (H,): the matrix ``bptt`` applies to the gradient at h_t."""
    validate.tensor("W_hh", W_hh, floating=True, ndim=2)
    validate.tensor("h_t", h_t, shape=(W_hh.shape[0],))
    return W_hh.T * (1 - h_t ** 2)               # scales column j by (1 - h_t[j]^2)


def _check_rnn_args(x, h0, W_xh, W_hh) -> None:
    validate.tensor("x", x, floating=True, ndim=3)
    validate.tensor("W_hh", W_hh, floating=True, ndim=2)
    H = W_hh.shape[0]
    validate.tensor("W_hh", W_hh, shape=(H, H))
    validate.tensor("W_xh", W_xh, shape=(H, x.shape[2]))
    validate.tensor("h0", h0, shape=(x.shape[1], H))


# ---------------------------------------------------------------- recurrent matrices

def scaled_orthogonal(n: int, rho: float, generator: torch.Generator | None = None,
                      dtype: torch.dtype = torch.float64) -> Tensor:
    """``rho * Q`` for a random orthogonal Q (n, n): every eigenvalue has modulus ``rho`` and
    every singular value equals ``rho``, so ``||W^T v|| = rho ||v||`` for every vector v."""
    validate.positive_int("n", n)
    validate.number("rho", rho, ge=0)
    a = torch.randn(n, n, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r))        # a uniformly random orthogonal matrix
    return (rho * q).to(dtype)


def spectral_radius(W: Tensor) -> float:
    """The largest modulus of the eigenvalues of a square matrix."""
    validate.tensor("W", W, floating=True, ndim=2)
    validate.tensor("W", W, shape=(W.shape[0], W.shape[0]))
    return float(torch.linalg.eigvals(W.detach().double().cpu()).abs().max())
