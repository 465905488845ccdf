"""Specification of nblib.mlp: a from-scratch MLP whose hand-written backward pass agrees with
torch.autograd, and the MNIST-1D baseline modules."""
import pytest
import torch
import torch.nn.functional as F

from nblib import data
from nblib.nn.mlp import (MLP, LogisticRegression, Mnist1dMLP, ScratchMLP, count_parameters,
                          softmax_cross_entropy_grad)
from nblib.recipes import train_mnist1d_baseline

TOL = 1e-6
SHAPES = [[3, 4], [5, 7, 3], [4, 8, 6, 2], [6, 5, 5, 5, 4]]  # depths 1 to 4


def scratch_and_module(sizes, activation, seed=0):
    net = ScratchMLP(sizes, activation=activation, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    return net, net.to_module()


# ---------------------------------------------------------------- forward and backward vs autograd
@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("sizes", SHAPES, ids=lambda s: "-".join(map(str, s)))
def test_forward_matches_the_torch_module(sizes, activation):
    net, module = scratch_and_module(sizes, activation)
    x = torch.randn(11, sizes[0], dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(net(x), module(x), atol=TOL, rtol=0)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("sizes", SHAPES, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_gradient_matches_autograd(sizes, activation, seed):
    g = torch.Generator().manual_seed(100 + seed)
    net, module = scratch_and_module(sizes, activation, seed)
    x = torch.randn(9, sizes[0], dtype=torch.float64, generator=g).requires_grad_(True)
    upstream = torch.randn(9, sizes[-1], dtype=torch.float64, generator=g)  # any dLoss/dlogits

    (module(x) * upstream).sum().backward()  # autograd: d(sum(out * upstream)) / d(param)
    net.forward(x.detach())
    dx = net.backward(upstream)

    torch_grads = [t for lin in module.linears for t in (lin.weight.grad, lin.bias.grad)]
    assert len(net.grads) == len(torch_grads) == 2 * (len(sizes) - 1)
    for mine, ref, p in zip(net.grads, torch_grads, net.parameters()):
        assert mine.shape == p.shape
        assert torch.allclose(mine, ref, atol=TOL, rtol=0), (mine - ref).abs().max()
    assert torch.allclose(dx, x.grad, atol=TOL, rtol=0)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_training_with_cross_entropy_gradients_matches_autograd(activation):
    """The full chain: softmax-CE gradient -> backward -> a step, compared with autograd."""
    g = torch.Generator().manual_seed(3)
    net, module = scratch_and_module([4, 16, 16, 3], activation)
    x = torch.randn(20, 4, dtype=torch.float64, generator=g)
    y = torch.randint(0, 3, (20,), generator=g)
    loss, dlogits = softmax_cross_entropy_grad(net(x), y)
    net.backward(dlogits)
    ref = F.cross_entropy(module(x), y)
    ref.backward()
    assert abs(loss.item() - ref.item()) < TOL
    for mine, lin_param in zip(net.grads, [t for lin in module.linears for t in (lin.weight, lin.bias)]):
        assert torch.allclose(mine, lin_param.grad, atol=TOL, rtol=0)
    net.step(0.1)
    with torch.no_grad():
        for lin_param in module.parameters():
            lin_param -= 0.1 * lin_param.grad
    assert torch.allclose(net(x), module(x), atol=TOL, rtol=0)


def test_softmax_cross_entropy_grad_matches_autograd_and_sums_to_zero():
    g = torch.Generator().manual_seed(4)
    logits = (10 * torch.randn(13, 6, dtype=torch.float64, generator=g)).requires_grad_(True)
    y = torch.randint(0, 6, (13,), generator=g)
    loss, grad = softmax_cross_entropy_grad(logits.detach(), y)
    ref = F.cross_entropy(logits, y)
    ref.backward()
    assert abs(loss.item() - ref.item()) < TOL
    assert torch.allclose(grad, logits.grad, atol=TOL, rtol=0)
    assert torch.allclose(grad.sum(1), torch.zeros(13, dtype=torch.float64), atol=1e-12)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    logits = torch.tensor([[1000.0, 0.0], [0.0, -1000.0]], dtype=torch.float64)
    loss, grad = softmax_cross_entropy_grad(logits, torch.tensor([0, 0]))
    assert torch.isfinite(loss) and torch.isfinite(grad).all()


def test_initialisation_follows_nn_linear_bounds_and_generator():
    a = ScratchMLP([100, 50, 10], generator=torch.Generator().manual_seed(0))
    b = ScratchMLP([100, 50, 10], generator=torch.Generator().manual_seed(0))
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    assert a.weights[0].shape == (50, 100) and a.biases[0].shape == (50,)
    assert a.weights[0].abs().max() <= 0.1 and a.weights[1].abs().max() <= 50 ** -0.5


# ---------------------------------------------------------------- the torch modules
def test_mnist1d_mlp_has_the_published_15210_parameters():
    assert count_parameters(Mnist1dMLP()) == 15210
    assert count_parameters(LogisticRegression()) == 410


def test_mnist1d_mlp_is_residual():
    torch.manual_seed(0)
    m = Mnist1dMLP()
    x = torch.randn(5, 40)
    h = F.relu(m.linear1(x))
    h = h + F.relu(m.linear2(h))
    assert torch.allclose(m(x), m.linear3(h))
    assert m(x).shape == (5, 10) and LogisticRegression()(x).shape == (5, 10)


def test_mlp_layers_dropout_and_eval_mode():
    m = MLP([8, 32, 32, 3], activation="tanh", dropout=0.5)
    kinds = [type(layer).__name__ for layer in m.net]
    assert kinds == ["Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear"]
    x = torch.randn(4, 8)
    m.eval()
    assert torch.equal(m(x), m(x))  # dropout is off at test time
    assert count_parameters(MLP([8, 32, 3])) == 8 * 32 + 32 + 32 * 3 + 3


# ---------------------------------------------------------------- clear errors
@pytest.mark.parametrize("make", [lambda: ScratchMLP([4, 8, 3]), lambda: MLP([4, 8, 3]),
                                  lambda: LogisticRegression(4, 3), lambda: Mnist1dMLP(4, 8, 3)])
def test_wrong_input_shape_names_expected_and_received(make):
    model = make()
    with pytest.raises(ValueError, match=r"\(N, 4\).*got \(3, 5\)"):
        model(torch.randn(3, 5))
    with pytest.raises(ValueError, match=r"got \(4,\)"):
        model(torch.randn(4))


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="at least an input and an output"):
        ScratchMLP([4])
    with pytest.raises(ValueError, match=r"sizes\[1\] of \[4, 0, 2\] must be a positive int, got 0"):
        MLP([4, 0, 2])
    with pytest.raises(ValueError, match="activation must be 'relu' or 'tanh', got 'softplus'"):
        ScratchMLP([4, 2], activation="softplus")
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), got 1.0"):
        MLP([4, 2], dropout=1.0)
    with pytest.raises(TypeError, match=r"\(N, 4\)"):
        ScratchMLP([4, 2])([[1.0, 2.0, 3.0, 4.0]])


def test_backward_errors():
    net = ScratchMLP([4, 8, 3])
    with pytest.raises(RuntimeError, match="forward"):
        net.backward(torch.zeros(2, 3))
    net(torch.randn(2, 4))
    with pytest.raises(ValueError, match=r"\(2, 3\), got \(2, 4\)"):
        net.backward(torch.zeros(2, 4))
    with pytest.raises(TypeError, match=r"target needs an integer tensor, got torch.float32; class indices"):
        softmax_cross_entropy_grad(torch.zeros(2, 3), torch.zeros(2))
    with pytest.raises(ValueError, match=r"target must have shape \(2,\), one class index per row, got \(2, 1\)"):
        softmax_cross_entropy_grad(torch.zeros(2, 3), torch.zeros(2, 1, dtype=torch.int64))


# ---------------------------------------------------------------- training helpers
def test_train_mnist1d_baseline_learns_something_in_a_few_steps():
    torch.manual_seed(0)
    acc, history = train_mnist1d_baseline(LogisticRegression(), data.load_mnist1d(), steps=200)
    assert 15 < acc <= 100  # chance is 10 %
    assert history.step[-1] == 200


def test_softmax_cross_entropy_grad_accepts_int32_targets_and_rejects_out_of_range_ones():
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(4, 3, dtype=torch.float64, generator=g)
    y = torch.tensor([0, 2, 1, 2])
    loss64, grad64 = softmax_cross_entropy_grad(logits, y)
    loss32, grad32 = softmax_cross_entropy_grad(logits, y.to(torch.int32))  # indexing accepts int32: so must we
    torch.testing.assert_close(loss32, loss64)
    torch.testing.assert_close(grad32, grad64)
    with pytest.raises(IndexError, match=r"class index 3 .*\[0, 2\]"):
        softmax_cross_entropy_grad(logits, torch.tensor([0, 3, 1, 2]))
    with pytest.raises(IndexError, match=r"class index -1 .*\[0, 2\]"):
        softmax_cross_entropy_grad(logits, torch.tensor([0, -1, 1, 2]))


def test_scratch_mlp_names_a_dtype_mismatch_instead_of_a_matmul_error():
    net = ScratchMLP([4, 8, 3], dtype=torch.float64)
    with pytest.raises(TypeError, match=r"needs a float64 tensor, got torch\.float32 \(the weights' dtype\)"):
        net(torch.randn(2, 4))
    with pytest.raises(TypeError, match=r"needs a float64 tensor, got torch\.int64 \(the weights' dtype\)"):
        net(torch.ones(2, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"must be on cpu, got a tensor on meta"):
        net(torch.empty(2, 4, dtype=torch.float64, device="meta"))  # stands for a CUDA/CPU mix
    assert net(torch.randn(2, 4, dtype=torch.float64)).shape == (2, 3)
