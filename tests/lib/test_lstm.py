"""nblib.nn.lstm: the from-scratch LSTM equals nn.LSTMCell / nn.LSTM with copied weights,
forward and backward, in float64, on random shapes; PyTorch's gate order is i, f, g, o; the
1997 cell (no forget gate) is the forget-gate cell with f fixed at 1; bad input is explained."""
import pytest
import torch
from torch import nn

from nblib.nn.lstm import LSTM, LSTMCell, lstm_gates

TOL = dict(rtol=1e-10, atol=1e-12)


def _close(a, b):
    torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("B,I,H,bias,unbatched", [(1, 1, 1, True, False), (5, 3, 4, True, False),
                                                  (7, 6, 2, False, False), (1, 4, 3, True, True)])
def test_cell_equals_nn_lstmcell_forward_and_backward(B, I, H, bias, unbatched):
    torch.manual_seed(B * 100 + I * 10 + H)
    ref = nn.LSTMCell(I, H, bias=bias).double()
    ours = LSTMCell(I, H, bias=bias).double()
    ours.load_state_dict(ref.state_dict())  # PyTorch's parameter names and shapes
    shape = (I,) if unbatched else (B, I)
    hshape = (H,) if unbatched else (B, H)
    x = torch.randn(shape, dtype=torch.float64)
    h0, c0 = torch.randn(hshape, dtype=torch.float64), torch.randn(hshape, dtype=torch.float64)
    leaves = {}
    outs = {}
    for who, cell in (("ref", ref), ("ours", ours)):
        xs = [t.clone().requires_grad_(True) for t in (x, h0, c0)]
        h, c = cell(xs[0], (xs[1], xs[2]))
        (h.pow(2).sum() + (c * torch.linspace(-1, 1, c.numel(), dtype=c.dtype).view_as(c)).sum()).backward()
        outs[who] = (h, c)
        leaves[who] = [t.grad for t in xs] + [p.grad for p in cell.parameters()]
    _close(outs["ours"][0], outs["ref"][0])
    _close(outs["ours"][1], outs["ref"][1])
    for a, b in zip(leaves["ours"], leaves["ref"]):
        _close(a, b)


def test_gate_order_is_i_f_g_o():
    torch.manual_seed(0)
    cell = LSTMCell(3, 2).double()
    x, h = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    z = x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
    gates = cell.gates(x, (h, torch.zeros(4, 2, dtype=torch.float64)))
    assert list(gates) == ["i", "f", "g", "o"]
    _close(gates["i"], torch.sigmoid(z[:, 0:2]))
    _close(gates["f"], torch.sigmoid(z[:, 2:4]))
    _close(gates["g"], torch.tanh(z[:, 4:6]))
    _close(gates["o"], torch.sigmoid(z[:, 6:8]))


@pytest.mark.parametrize("T,B,I,H,layers,batch_first,bias,with_state", [
    (1, 1, 1, 1, 1, False, True, False),
    (6, 3, 2, 5, 1, True, True, True),
    (9, 2, 4, 3, 2, False, True, True),
    (5, 4, 3, 2, 3, True, False, False),
    (4, 2, 5, 4, 2, True, True, True),
])
def test_layer_equals_nn_lstm_forward_and_backward(T, B, I, H, layers, batch_first, bias, with_state):
    torch.manual_seed(T * 1000 + B * 100 + I * 10 + H)
    ref = nn.LSTM(I, H, layers, bias=bias, batch_first=batch_first).double()
    ours = LSTM(I, H, layers, bias=bias, batch_first=batch_first).double()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    ours.load_state_dict(ref.state_dict())
    x = torch.randn((B, T, I) if batch_first else (T, B, I), dtype=torch.float64)
    h0 = torch.randn(layers, B, H, dtype=torch.float64)
    c0 = torch.randn(layers, B, H, dtype=torch.float64)
    results = {}
    for who, m in (("ref", ref), ("ours", ours)):
        xs = [t.clone().requires_grad_(True) for t in (x, h0, c0)]
        out, (h_n, c_n) = m(xs[0], (xs[1], xs[2]) if with_state else None)
        weights = torch.randn(out.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        ((out * weights).sum() + h_n.sin().sum() + c_n.cos().sum()).backward()
        grads = [xs[0].grad] + ([xs[1].grad, xs[2].grad] if with_state else [])
        results[who] = [out, h_n, c_n] + grads + [p.grad for p in m.parameters()]
    assert len(results["ours"]) == len(results["ref"])
    for a, b in zip(results["ours"], results["ref"]):
        _close(a, b)


def test_unbatched_sequence_equals_nn_lstm():
    torch.manual_seed(3)
    ref, ours = nn.LSTM(2, 3, 2).double(), LSTM(2, 3, 2).double()
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(5, 2, dtype=torch.float64)
    h0, c0 = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64)
    (o1, (h1, c1)), (o2, (h2, c2)) = ours(x, (h0, c0)), ref(x, (h0, c0))
    for a, b in ((o1, o2), (h1, h2), (c1, c2)):
        _close(a, b)


@pytest.mark.parametrize("B,I,H,T", [(2, 3, 4, 6), (1, 1, 2, 3)])
def test_1997_cell_is_the_forget_gate_cell_with_f_fixed_at_one(B, I, H, T):
    """forget_gate=False stacks three gates (i, g, o) and keeps c: c' = c + i * g. It equals
    nn.LSTM whose forget rows are zero weights and a bias of 50, so f = sigmoid(50) = 1.0 in
    float64 (1 - 2e-22 rounds to 1) and its derivative, 2e-22, is below every tolerance."""
    torch.manual_seed(B + I + H + T)
    ours = LSTM(I, H, forget_gate=False, batch_first=True).double()
    assert ours.weight_ih_l0.shape == (3 * H, I) and ours.weight_hh_l0.shape == (3 * H, H)
    ref = nn.LSTM(I, H, batch_first=True).double()
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            i, g, o = getattr(ours, name).chunk(3)
            f = torch.zeros_like(i) + (50.0 if name == "bias_ih_l0" else 0.0)
            getattr(ref, name).copy_(torch.cat([i, f, g, o]))
    x = torch.randn(B, T, I, dtype=torch.float64)
    out = {}
    for who, m in (("ours", ours), ("ref", ref)):
        xi = x.clone().requires_grad_(True)
        o, (h, c) = m(xi)
        (o.sum() + c.sum()).backward()
        out[who] = (o, c, xi.grad)
    for a, b in zip(out["ours"], out["ref"]):
        _close(a, b)
    # and the cell state only accumulates: c_T = sum over t of i_t * g_t
    cell = ours.cell(0)
    h, c, total = torch.zeros(B, H, dtype=torch.float64), torch.zeros(B, H, dtype=torch.float64), 0
    for t in range(T):
        gates = cell.gates(x[:, t], (h, c))
        assert torch.equal(gates["f"], torch.ones_like(gates["f"]))
        total = total + gates["i"] * gates["g"]
        h, c = cell(x[:, t], (h, c))
    _close(c, total)


def test_lstm_gates_function_matches_the_cell():
    torch.manual_seed(4)
    cell = LSTMCell(3, 2).double()
    x, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 2, dtype=torch.float64)
    gates = lstm_gates(x, h, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    for k, v in cell.gates(x, (h, torch.zeros_like(h))).items():
        _close(gates[k], v)


def test_initialisation_follows_pytorch_bounds():
    torch.manual_seed(0)
    cell = LSTMCell(10, 16)
    for p in cell.parameters():
        assert p.abs().max() <= 0.25 and p.std() > 0.1  # U(-1/4, 1/4): std 0.144


def test_to_dtype_keeps_the_cells_in_sync():
    m = LSTM(2, 3, 2).double()
    assert m.cell(1).weight_hh.dtype == torch.float64
    assert m.cell(1).weight_hh is m.weight_hh_l1
    out, _ = m(torch.randn(4, 1, 2, dtype=torch.float64))
    assert out.dtype == torch.float64


def test_bad_inputs_get_clear_errors():
    cell, layer = LSTMCell(3, 4), LSTM(3, 4, batch_first=True)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 3\) or \(3,\), got \(2, 5\)"):
        cell(torch.randn(2, 5))
    with pytest.raises(TypeError, match="pair"):
        cell(torch.randn(2, 3), torch.randn(2, 4))
    with pytest.raises(ValueError, match=r"h must have shape \(2, 4\), got \(2, 3\)"):
        cell(torch.randn(2, 3), (torch.randn(2, 3), torch.randn(2, 4)))
    with pytest.raises(TypeError, match="floating-point"):
        cell(torch.ones(2, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"\(B, T, 3\).*got \(2, 7, 4\)"):
        layer(torch.randn(2, 7, 4))
    with pytest.raises(ValueError, match=r"h_0 must have shape \(1, 2, 4\), got \(2, 4\)"):
        layer(torch.randn(2, 7, 3), (torch.randn(2, 4), torch.randn(2, 4)))
    with pytest.raises(ValueError, match="hidden_size must be a positive int"):
        LSTM(3, 0)
