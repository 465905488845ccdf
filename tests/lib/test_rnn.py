"""nblib.nn.rnn against PyTorch: RNNCell and RNN equal nn.RNNCell / nn.RNN with copied weights
(forward and every gradient, float64, time-first and batch-first, several layers, tanh and relu),
and the hand-written BPTT loop equals autograd."""
import pytest
import torch
from torch import nn

from nblib.nn import rnn

F64 = torch.float64


def _grads(module, *inputs):
    return [p.grad for p in module.parameters()] + [x.grad for x in inputs]


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("batched", [True, False])
def test_cell_equals_torch_forward_and_backward(nonlinearity, batched):
    g = torch.Generator().manual_seed(1)
    ref = nn.RNNCell(3, 5, nonlinearity=nonlinearity, dtype=F64)
    ours = rnn.RNNCell(3, 5, nonlinearity=nonlinearity, dtype=F64)
    ours.load_state_dict(ref.state_dict())
    shape = (4,) if batched else ()
    outs = []
    for m in (ref, ours):
        x = torch.randn(*shape, 3, dtype=F64, generator=torch.Generator().manual_seed(2))
        h = torch.randn(*shape, 5, dtype=F64, generator=torch.Generator().manual_seed(3))
        x.requires_grad_(True), h.requires_grad_(True)
        y = m(x, h)
        (y * torch.randn(y.shape, dtype=F64, generator=g.manual_seed(4))).sum().backward()
        outs.append([y.detach()] + _grads(m, x, h))
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("seed", [0, 1])
def test_rnn_equals_nn_rnn_with_copied_weights(num_layers, batch_first, nonlinearity, seed):
    g = torch.Generator().manual_seed(seed)
    T, N, D, H = (int(torch.randint(lo, hi, (), generator=g)) for lo, hi in
                  ((1, 9), (1, 5), (1, 6), (1, 8)))
    ref = nn.RNN(D, H, num_layers=num_layers, nonlinearity=nonlinearity,
                 batch_first=batch_first, dtype=F64)
    ours = rnn.RNN(D, H, num_layers=num_layers, nonlinearity=nonlinearity,
                   batch_first=batch_first, dtype=F64)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    ours.load_state_dict(ref.state_dict())
    x0 = torch.randn((N, T, D) if batch_first else (T, N, D), dtype=F64, generator=g)
    h00 = torch.randn(num_layers, N, H, dtype=F64, generator=g)
    w_out = torch.randn((N, T, H) if batch_first else (T, N, H), dtype=F64, generator=g)
    w_h = torch.randn(num_layers, N, H, dtype=F64, generator=g)
    results = []
    for m in (ref, ours):
        x, h0 = x0.clone().requires_grad_(True), h00.clone().requires_grad_(True)
        out, h_n = m(x, h0)
        ((out * w_out).sum() + (h_n * w_h).sum()).backward()
        results.append([out.detach(), h_n.detach()] + _grads(m, x, h0))
    assert len(results[0]) == 2 + 4 * num_layers + 2
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)  # relative to values of order 1


def test_rnn_default_h0_unbatched_and_no_bias_match_torch():
    ref = nn.RNN(2, 3, num_layers=2, bias=False, dtype=F64)
    ours = rnn.RNN(2, 3, num_layers=2, bias=False, dtype=F64)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(5, 2, dtype=F64)                 # unbatched (T, D)
    for a, b in zip(ref(x), ours(x)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    assert ours(x)[1].shape == (2, 3)


def test_initialisation_is_pytorchs_uniform():
    torch.manual_seed(0)
    m = rnn.RNN(4, 100)
    k = 100 ** -0.5
    for p in m.parameters():
        assert p.abs().max() <= k and p.abs().max() > 0.9 * k


@pytest.mark.parametrize("seed", range(4))
def test_bptt_by_hand_equals_autograd(seed):
    g = torch.Generator().manual_seed(seed)
    T, N, D, H = (int(torch.randint(lo, hi, (), generator=g)) for lo, hi in
                  ((1, 12), (1, 5), (1, 5), (1, 9)))
    leaves = [torch.randn(*s, dtype=F64, generator=g).requires_grad_(True)
              for s in ((T, N, D), (N, H), (H, D), (H, H), (H,))]
    x, h0, W_xh, W_hh, b = leaves
    states, h = [], h0                    # the forward pass, keeping every h_t's gradient
    for t in range(T):
        h = torch.tanh(x[t] @ W_xh.T + h @ W_hh.T + b)
        h.retain_grad()
        states.append(h)
    hs = torch.stack(states)
    torch.testing.assert_close(hs, rnn.rnn_forward(x, h0, W_xh, W_hh, b), rtol=0, atol=0)
    grad_hs = torch.randn(T, N, H, dtype=F64, generator=g)
    if seed % 2:
        grad_hs[:-1] = 0                  # a loss on the last state only
    (hs * grad_hs).sum().backward()
    ours = rnn.bptt(x.detach(), h0.detach(), hs.detach(), W_xh.detach(), W_hh.detach(), grad_hs)
    for name, mine, theirs in [("dW_xh", ours.dW_xh, W_xh.grad), ("dW_hh", ours.dW_hh, W_hh.grad),
                               ("db", ours.db, b.grad), ("dx", ours.dx, x.grad),
                               ("dh0", ours.dh0, h0.grad)]:
        torch.testing.assert_close(mine, theirs, rtol=1e-9, atol=1e-12, msg=name)
    # The total dL/dh_t of the loop equals autograd's gradient of each state.
    assert len(ours.dh) == T
    torch.testing.assert_close(torch.stack(ours.dh), torch.stack([h.grad for h in states]),
                               rtol=1e-9, atol=1e-12)


def test_rnn_forward_is_the_modules_forward():
    m = rnn.RNN(3, 4, dtype=F64)
    x, h0 = torch.randn(6, 2, 3, dtype=F64), torch.randn(1, 2, 4, dtype=F64)
    b = m.bias_ih_l0 + m.bias_hh_l0
    hs = rnn.rnn_forward(x, h0[0], m.weight_ih_l0, m.weight_hh_l0, b)
    torch.testing.assert_close(hs, m(x, h0)[0], rtol=0, atol=1e-12)


def test_the_backward_factor_is_the_transposed_jacobian():
    g = torch.Generator().manual_seed(0)
    W_hh, W_xh = torch.randn(4, 4, dtype=F64, generator=g), torch.randn(4, 2, dtype=F64, generator=g)
    x, h_prev = torch.randn(2, dtype=F64, generator=g), torch.randn(4, dtype=F64, generator=g)
    step = lambda h: torch.tanh(W_xh @ x + W_hh @ h)  # noqa: E731
    J = torch.autograd.functional.jacobian(step, h_prev)       # dh_t / dh_{t-1}
    torch.testing.assert_close(rnn.tanh_jacobian_t(W_hh, step(h_prev)), J.T, rtol=1e-12, atol=0)


@pytest.mark.parametrize("rho", [0.3, 1.0, 1.7])
def test_scaled_orthogonal_has_the_asked_spectral_radius_and_norm(rho):
    W = rnn.scaled_orthogonal(12, rho, generator=torch.Generator().manual_seed(3))
    assert abs(rnn.spectral_radius(W) - rho) < 1e-10
    torch.testing.assert_close(torch.linalg.svdvals(W), torch.full((12,), rho, dtype=F64))


def test_bad_inputs_get_clear_errors():
    m = rnn.RNN(3, 4, num_layers=2, batch_first=True)
    with pytest.raises(ValueError, match=r"\(N, T, D\) or unbatched \(T, D\) with D = input_size = 3, got \(2, 5, 4\)"):
        m(torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match=r"hx must have shape \(2, 2, 4\), got \(1, 2, 4\)"):
        m(torch.randn(2, 5, 3), torch.zeros(1, 2, 4))
    with pytest.raises(TypeError, match="input needs a floating-point tensor, got torch.int64"):
        m(torch.zeros(2, 5, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        rnn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="num_layers must be a positive int, got 0"):
        rnn.RNN(3, 4, num_layers=0)
    with pytest.raises(ValueError, match=r"RNNCell input must be \(N, 3\) or \(3,\)"):
        rnn.RNNCell(3, 4)(torch.randn(2, 2, 3))
    x, h0 = torch.randn(5, 2, 3), torch.zeros(2, 4)
    with pytest.raises(ValueError, match=r"W_xh must have shape \(4, 3\), got \(3, 4\)"):
        rnn.rnn_forward(x, h0, torch.randn(3, 4), torch.randn(4, 4), torch.zeros(4))
    with pytest.raises(ValueError, match=r"grad_hs must have shape \(5, 2, 4\), got \(5, 4\)"):
        rnn.bptt(x, h0, torch.zeros(5, 2, 4), torch.randn(4, 3), torch.randn(4, 4),
                 torch.zeros(5, 4))
    with pytest.raises(ValueError, match="rho must be >= 0, got -1"):
        rnn.scaled_orthogonal(3, -1)
