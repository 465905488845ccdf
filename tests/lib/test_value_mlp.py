"""Specification of nblib.nn.value_mlp: micrograd's MLP of Values agrees with a torch MLP of
the same weights, forward and every gradient, and trains like one."""
import random

import pytest
import torch
from torch import nn

from nblib.autograd import Value
from nblib.nn.value_mlp import MLP, Layer, Neuron

TOL = 1e-10
SHAPES = [[2, 1], [3, 4, 2], [2, 5, 5, 1], [4, 3, 6, 2, 3]]


def torch_twin(sizes, nonlin, seed):
    """An nn.Sequential of nn.Linear layers (float64) with ``nonlin`` between them."""
    torch.manual_seed(seed)
    act = {"tanh": nn.Tanh, "relu": nn.ReLU}[nonlin]
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b).double())
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def linears(seq):
    return [m for m in seq if isinstance(m, nn.Linear)]


@pytest.mark.parametrize("nonlin", ["tanh", "relu"])
@pytest.mark.parametrize("sizes", SHAPES, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("seed", [0, 1])
def test_forward_and_every_gradient_match_torch(sizes, nonlin, seed):
    net = torch_twin(sizes, nonlin, seed)
    model = MLP.from_torch(linears(net), nonlin)
    g = torch.Generator().manual_seed(10 + seed)
    x = torch.randn(5, sizes[0], dtype=torch.float64, generator=g)
    upstream = torch.randn(5, sizes[-1], dtype=torch.float64, generator=g)

    out_t = net(x)
    (out_t * upstream).sum().backward()
    outs = [model(row) for row in x.tolist()]
    loss = sum((o * u for out, up in zip(outs, upstream.tolist()) for o, u in zip(out, up)),
               Value(0.0))
    loss.backward()

    assert torch.allclose(torch.tensor([[o.data for o in out] for out in outs],
                                       dtype=torch.float64), out_t.detach(), atol=TOL, rtol=0)
    for layer, lin in zip(model.layers, linears(net)):
        dw = torch.tensor([[w.grad for w in n.w] for n in layer.neurons], dtype=torch.float64)
        db = torch.tensor([n.b.grad for n in layer.neurons], dtype=torch.float64)
        assert torch.allclose(dw, lin.weight.grad, atol=TOL, rtol=0)
        assert torch.allclose(db, lin.bias.grad, atol=TOL, rtol=0)


def test_gradient_with_respect_to_the_input_matches_torch():
    net = torch_twin([3, 4, 1], "tanh", 0)
    model = MLP.from_torch(linears(net), "tanh")
    x = torch.tensor([0.3, -1.2, 0.7], dtype=torch.float64, requires_grad=True)
    net(x).sum().backward()
    xv = [Value(v) for v in x.tolist()]
    model(xv)[0].backward()
    assert torch.allclose(torch.tensor([v.grad for v in xv], dtype=torch.float64), x.grad,
                          atol=TOL, rtol=0)


def test_state_round_trips_through_torch():
    model = MLP([2, 3, 1], seed=4)
    net = torch_twin([2, 3, 1], "tanh", 0)
    with torch.no_grad():
        for lin, (w, b) in zip(linears(net), model.state()):
            lin.weight.copy_(torch.tensor(w, dtype=torch.float64))
            lin.bias.copy_(torch.tensor(b, dtype=torch.float64))
    again = MLP.from_torch(linears(net))
    assert again.state() == model.state()


@pytest.mark.parametrize("nonlin", ["tanh", "relu"])
def test_to_torch_builds_the_same_network(nonlin):
    model = MLP([3, 5, 4, 2], nonlin=nonlin, seed=1)
    net = model.to_torch(torch.float64)
    x = torch.randn(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ours = torch.tensor([[o.data for o in model(row)] for row in x.tolist()], dtype=torch.float64)
    assert torch.allclose(net(x), ours, atol=TOL, rtol=0)
    assert MLP.from_torch(linears(net), nonlin).state() == model.state()


def test_parameters_count_and_zero_grad():
    model = MLP([2, 16, 16, 1])
    assert len(model.parameters()) == 2 * 16 + 16 + 16 * 16 + 16 + 16 + 1
    out = model([0.5, -0.5])[0]
    out.backward()
    assert any(p.grad != 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0 for p in model.parameters())


def test_initialisation_is_seeded_and_in_nn_linear_range():
    a, b = MLP([4, 8, 2], seed=3), MLP([4, 8, 2], seed=3)
    assert a.state() == b.state()
    assert MLP([4, 8, 2], seed=4).state() != a.state()
    w, bias = a.state()[0]
    assert all(abs(v) <= 0.5 for row in w for v in row) and all(abs(v) <= 0.5 for v in bias)


def test_the_last_layer_is_linear():
    model = MLP([2, 3, 2], nonlin="relu")
    assert [n.nonlin for n in model.layers[0].neurons] == ["relu"] * 3
    assert [n.nonlin for n in model.layers[-1].neurons] == ["linear"] * 2


def test_a_training_step_lowers_the_loss_like_torch_sgd():
    net = torch_twin([2, 4, 1], "tanh", 0)
    model = MLP.from_torch(linears(net), "tanh")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 2, dtype=torch.float64, generator=g)
    y = torch.randn(8, 1, dtype=torch.float64, generator=g)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        ((net(x) - y) ** 2).mean().backward()
        opt.step()
        model.zero_grad()
        sq = [(model(row)[0] - t) ** 2 for row, t in zip(x.tolist(), y[:, 0].tolist())]
        loss = sum(sq, Value(0.0)) / len(sq)
        loss.backward()
        for p in model.parameters():
            p.data -= 0.1 * p.grad
    for lin, (w, b) in zip(linears(net), model.state()):
        assert torch.allclose(lin.weight.detach(), torch.tensor(w, dtype=torch.float64), atol=TOL)
        assert torch.allclose(lin.bias.detach(), torch.tensor(b, dtype=torch.float64), atol=TOL)


def test_bad_arguments_are_refused_clearly():
    with pytest.raises(ValueError, match="sizes"):
        MLP([3])
    with pytest.raises(ValueError, match="nonlin"):
        Neuron(2, "sigmoid")
    with pytest.raises(ValueError, match="takes 2 inputs"):
        MLP([2, 1])([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="takes 3 inputs"):
        Layer(3, 2, rng=random.Random(0))([1.0])
