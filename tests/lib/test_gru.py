"""nblib.nn.gru: the from-scratch GRU equals nn.GRUCell / nn.GRU with copied weights, forward
and backward, in float64, on random shapes; PyTorch's gate order is r, z, n and its reset gate
multiplies the hidden product, r * (W_hn h + b_hn); bad input is explained."""
import pytest
import torch
from torch import nn

from nblib.nn.gru import GRU, GRUCell, gru_gates

TOL = dict(rtol=1e-10, atol=1e-12)


def _close(a, b):
    torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("B,I,H,bias,unbatched", [(1, 1, 1, True, False), (5, 3, 4, True, False),
                                                  (6, 7, 2, False, False), (1, 4, 3, True, True)])
def test_cell_equals_nn_grucell_forward_and_backward(B, I, H, bias, unbatched):
    torch.manual_seed(B * 100 + I * 10 + H)
    ref, ours = nn.GRUCell(I, H, bias=bias).double(), GRUCell(I, H, bias=bias).double()
    ours.load_state_dict(ref.state_dict())
    x = torch.randn((I,) if unbatched else (B, I), dtype=torch.float64)
    h0 = torch.randn((H,) if unbatched else (B, H), dtype=torch.float64)
    res = {}
    for who, cell in (("ref", ref), ("ours", ours)):
        xs = [t.clone().requires_grad_(True) for t in (x, h0)]
        h = cell(xs[0], xs[1])
        (h * torch.linspace(-2, 1, h.numel(), dtype=h.dtype).view_as(h)).sum().backward()
        res[who] = [h] + [t.grad for t in xs] + [p.grad for p in cell.parameters()]
    for a, b in zip(res["ours"], res["ref"]):
        _close(a, b)


def test_gate_order_is_r_z_n_and_reset_is_applied_after_the_hidden_product():
    torch.manual_seed(0)
    cell = GRUCell(3, 2).double()
    x, h = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    gi = x @ cell.weight_ih.T + cell.bias_ih
    gh = h @ cell.weight_hh.T + cell.bias_hh
    gates = cell.gates(x, h)
    assert list(gates) == ["r", "z", "n"]
    r = torch.sigmoid(gi[:, 0:2] + gh[:, 0:2])
    z = torch.sigmoid(gi[:, 2:4] + gh[:, 2:4])
    _close(gates["r"], r)
    _close(gates["z"], z)
    _close(gates["n"], torch.tanh(gi[:, 4:6] + r * gh[:, 4:6]))          # r * (W_hn h + b_hn)
    _close(cell(x, h), (1 - z) * gates["n"] + z * h)                     # z keeps the old h
    # Cho et al. (2014) apply r before the product, W_hn (r * h): a different function
    cho = torch.tanh(gi[:, 4:6] + (r * h) @ cell.weight_hh[4:6].T + cell.bias_hh[4:6])
    assert (cho - gates["n"]).abs().max() > 1e-3


@pytest.mark.parametrize("T,B,I,H,layers,batch_first,bias,with_state", [
    (1, 1, 1, 1, 1, False, True, False),
    (6, 3, 2, 5, 1, True, True, True),
    (9, 2, 4, 3, 2, False, True, True),
    (5, 4, 3, 2, 3, True, False, False),
    (40, 2, 1, 6, 1, True, True, False),
])
def test_layer_equals_nn_gru_forward_and_backward(T, B, I, H, layers, batch_first, bias, with_state):
    torch.manual_seed(T * 1000 + B * 100 + I * 10 + H)
    ref = nn.GRU(I, H, layers, bias=bias, batch_first=batch_first).double()
    ours = GRU(I, H, layers, bias=bias, batch_first=batch_first).double()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    ours.load_state_dict(ref.state_dict())
    x = torch.randn((B, T, I) if batch_first else (T, B, I), dtype=torch.float64)
    h0 = torch.randn(layers, B, H, dtype=torch.float64)
    res = {}
    for who, m in (("ref", ref), ("ours", ours)):
        xs = [t.clone().requires_grad_(True) for t in (x, h0)]
        out, h_n = m(xs[0], xs[1] if with_state else None)
        weights = torch.randn(out.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        ((out * weights).sum() + h_n.sin().sum()).backward()
        grads = [xs[0].grad] + ([xs[1].grad] if with_state else [])
        res[who] = [out, h_n] + grads + [p.grad for p in m.parameters()]
    assert len(res["ours"]) == len(res["ref"])
    for a, b in zip(res["ours"], res["ref"]):
        _close(a, b)


def test_unbatched_sequence_equals_nn_gru():
    torch.manual_seed(3)
    ref, ours = nn.GRU(2, 3, 2).double(), GRU(2, 3, 2).double()
    ours.load_state_dict(ref.state_dict())
    x, h0 = torch.randn(5, 2, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64)
    (o1, h1), (o2, h2) = ours(x, h0), ref(x, h0)
    _close(o1, o2)
    _close(h1, h2)


def test_gru_gates_function_matches_the_cell():
    torch.manual_seed(4)
    cell = GRUCell(3, 2).double()
    x, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 2, dtype=torch.float64)
    gates = gru_gates(x, h, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    for k, v in cell.gates(x, h).items():
        _close(gates[k], v)


def test_parameter_count_is_three_quarters_of_the_lstm():
    from nblib.nn.lstm import LSTM

    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    for I, H in ((1, 6), (8, 32)):
        assert count(GRU(I, H)) == 3 * (H * I + H * H + 2 * H) == count(nn.GRU(I, H))
        assert 4 * count(GRU(I, H)) == 3 * count(LSTM(I, H))


def test_bad_inputs_get_clear_errors():
    cell, layer = GRUCell(3, 4), GRU(3, 4)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 3\) or \(3,\), got \(2, 2\)"):
        cell(torch.randn(2, 2))
    with pytest.raises(ValueError, match=r"h must have shape \(2, 4\), got \(3, 4\)"):
        cell(torch.randn(2, 3), torch.randn(3, 4))
    with pytest.raises(TypeError, match="needs a torch.Tensor"):
        cell([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match=r"\(T, B, 3\).*got \(5, 2, 1\)"):
        layer(torch.randn(5, 2, 1))
    with pytest.raises(ValueError, match=r"h_0 must have shape \(1, 2, 4\), got \(2, 2, 4\)"):
        layer(torch.randn(5, 2, 3), torch.randn(2, 2, 4))


def test_mnist1d_gru_is_the_published_model():
    from nblib.nn.gru import Mnist1dGRU

    model = Mnist1dGRU()                       # bidirectional, 6 units, Linear(480, 10)
    assert sum(p.numel() for p in model.parameters()) == 5134
    assert model.out.in_features == 480 and model.rnn.bidirectional
    assert model(torch.randn(3, 40)).shape == (3, 10)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 40\), got \(3, 41\)"):
        model(torch.randn(3, 41))
