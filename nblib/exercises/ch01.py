"""Public self-checks of chapter 01 (the artificial neuron). Graded tests: grading/01_neuron/."""
import torch

from nblib.exercises.expect import expect_close, expect_raises, expect_shape, expect_true
from nblib.exercises.registry import public_check


@public_check("01-sigmoid")
def _(sigmoid, sigmoid_grad):
    x = torch.linspace(-6, 6, 13, dtype=torch.float64)
    expect_close(sigmoid(x), torch.sigmoid(x), what="sigmoid(linspace(-6, 6, 13))",
                 hint="sigma(x) = 1 / (1 + exp(-x))")
    s = torch.sigmoid(x)
    expect_close(sigmoid_grad(x), s * (1 - s), what="sigmoid_grad(linspace(-6, 6, 13))",
                 hint="sigma'(x) = sigma(x) * (1 - sigma(x))")


@public_check("01-sigmoid")
def _(sigmoid, sigmoid_grad):
    x = torch.tensor([-1000.0, -100.0, 100.0, 1000.0], dtype=torch.float64)
    out = sigmoid(x)
    expect_true(torch.isfinite(out).all(), "sigmoid(x) to be finite for x = -1000, -100, 100, 1000",
                hint="exp(-x) overflows for x = -1000: use exp(-|x|), which is always <= 1, and two branches")
    expect_close(out, torch.sigmoid(x), what="sigmoid([-1000, -100, 100, 1000])")
    expect_close(sigmoid_grad(x), torch.zeros(4, dtype=torch.float64), atol=1e-30,
                 what="sigmoid_grad([-1000, -100, 100, 1000])", hint="a saturated sigmoid has a (nearly) zero slope")


@public_check("01-dense-forward")
def _(dense_forward):
    x = torch.tensor([[1.0, 2.0], [0.0, -1.0], [3.0, 0.5]])  # (N=3, in=2)
    w = torch.tensor([[1.0, 0.0], [2.0, -1.0], [0.5, 0.5], [0.0, 1.0]])  # (out=4, in=2)
    b = torch.tensor([0.0, 1.0, -1.0, 2.0])  # (out=4,)
    out = dense_forward(x, w, b)
    expect_shape(out, (3, 4), what="dense_forward(x (3, 2), weight (4, 2), bias (4,))",
                 hint="one row per example, one column per output neuron: x @ weight.T + bias")
    expect_close(out, x @ w.T + b, what="dense_forward(x, weight, bias)")
    expect_raises(ValueError, dense_forward, x, torch.zeros(4, 3), b,
                  what="dense_forward(x (3, 2), weight (4, 3), bias (4,))",
                  hint="check that x.shape[1] == weight.shape[1] and raise ValueError naming both shapes")
    expect_raises(ValueError, dense_forward, x, w, torch.zeros(5),
                  what="dense_forward(x (3, 2), weight (4, 2), bias (5,))",
                  hint="bias needs one entry per output neuron: shape (weight.shape[0],)")


@public_check("01-perceptron-step")
def _(perceptron_step):
    w, b = torch.tensor([1.0, -1.0]), 0.0
    x = torch.tensor([2.0, 1.0])  # z = 1 >= 0: the unit says +1
    w2, b2 = perceptron_step(w, b, x, 1.0, 0.5)
    expect_close(w2, w, what="the weights after a correct prediction", hint="no mistake, no change")
    expect_close(b2, 0.0, what="the bias after a correct prediction")
    w2, b2 = perceptron_step(w, b, x, -1.0, 0.5)
    expect_close(w2, torch.tensor([0.0, -1.5]), what="the weights after a mistake on y = -1",
                 hint="w <- w + lr * y * x")
    expect_close(b2, -0.5, what="the bias after a mistake on y = -1", hint="b <- b + lr * y")
    w2, b2 = perceptron_step(torch.zeros(2), 0.0, x, -1.0, 1.0)
    expect_close(w2, torch.tensor([-2.0, -1.0]), what="the weights when z = 0 exactly and y = -1",
                 hint="z = 0 counts as predicting +1 (step(0) = 1), so y = -1 is a mistake")


@public_check("01-collapse")
def _(collapse):
    g = torch.Generator().manual_seed(0)
    sizes = [3, 5, 4, 2]
    weights = [torch.randn(o, i, generator=g, dtype=torch.float64) for i, o in zip(sizes, sizes[1:])]
    biases = [torch.randn(o, generator=g, dtype=torch.float64) for o in sizes[1:]]
    W, b = collapse(weights, biases)
    expect_shape(W, (2, 3), what="W for layers 3 -> 5 -> 4 -> 2", hint="W maps the 3 inputs to the 2 outputs")
    expect_shape(b, (2,), what="b for layers 3 -> 5 -> 4 -> 2")
    x = torch.randn(7, 3, generator=g, dtype=torch.float64)
    h = x
    for wi, bi in zip(weights, biases):
        h = h @ wi.T + bi
    expect_close(x @ W.T + b, h, what="x @ W.T + b compared with the three layers applied in turn",
                 hint="W = W3 @ W2 @ W1 and b = W3 @ (W2 @ b1 + b2) + b3")


@public_check("01-xor-network")
def _(xor_network):
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    out = xor_network(x)
    expect_shape(out, (4,), what="xor_network(x) for the four corners x (4, 2)")
    expect_close(out, torch.tensor([0.0, 1.0, 1.0, 0.0]), what="xor_network on (0,0), (0,1), (1,0), (1,1)",
                 hint="one hidden unit for OR, one for AND, output = OR and not AND")
