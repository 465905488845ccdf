"""Public self-checks of chapter 01 (the artificial neuron). Graded tests: grading/01_neuron/.

Every hint has two tiers: a direction first, then more detail; no tier gives the solution's
formula. Each requirement the graded tests check is checked here too, in a smaller form.
"""
import torch
import torch.nn.functional as F

from nblib.exercises.expect import (expect_close, expect_dtype, expect_raises, expect_shape,
                                    expect_true)
from nblib.exercises.registry import public_check

F64 = torch.float64


def _softplus_exact(x):
    """log(1 + e^x) by PyTorch's own stable function (the learner may not use it)."""
    return torch.logaddexp(torch.zeros_like(x), x)


# ---------------------------------------------------------------------------------------------
# 01-softplus
# ---------------------------------------------------------------------------------------------
@public_check("01-softplus")
def _(softplus, softplus_grad):
    x = torch.linspace(-6, 6, 13, dtype=F64)
    out = softplus(x)
    expect_shape(out, (13,), what="softplus(linspace(-6, 6, 13))",
                 hint=("softplus works elementwise: the result has the shape of x",
                       "avoid reductions (sum, max over a dimension): use elementwise operations"))
    expect_close(out, _softplus_exact(x), what="softplus(linspace(-6, 6, 13))",
                 hint=("softplus(x) = log(1 + e^x); check by hand that softplus(0) = log 2 = 0.693",
                       "for large positive x it approaches x, for very negative x it approaches 0 "
                       "from above; compare your values at -6 and 6 with that"))


@public_check("01-softplus")
def _(softplus, softplus_grad):
    x = torch.tensor([-1000.0, -100.0, 0.0, 100.0, 1000.0], dtype=F64)
    out = softplus(x)
    expect_true(torch.isfinite(out).all(), "softplus(x) to be finite for x = -1000, -100, 0, 100, 1000",
                hint=("e^x overflows to inf for x above about 709 (float64) or 88 (float32), "
                      "and log(inf) is inf",
                      "for x > 0, take e^x out of the logarithm by hand, so that the only "
                      "exponential left has an exponent <= 0"))
    expect_close(out, _softplus_exact(x), what="softplus([-1000, -100, 0, 100, 1000])",
                 hint=("for large positive x, softplus(x) is x plus a tiny positive amount",
                       "write log(1 + e^x) as (a part that is exact) + log(1 + something in (0, 1])"))
    x32 = x.float()
    out32 = softplus(x32)
    expect_dtype(out32, torch.float32, what="softplus of a float32 tensor",
                 hint=("the result should have the dtype of x: float32 in, float32 out",
                       "create constants with dtype=x.dtype (torch.zeros_like(x) does), never .double()"))
    expect_close(out32, _softplus_exact(x32), what="softplus of the same values in float32",
                 hint=("float32 overflows much earlier than float64: e^89 is already inf",
                       "no exponential of a positive number may appear anywhere in your formula"))


@public_check("01-softplus")
def _(softplus, softplus_grad):
    x = torch.tensor([-50.0, -40.0, -30.0], dtype=F64)
    expect_close(softplus(x), torch.exp(x), rtol=1e-6, atol=0.0,
                 what="softplus([-50, -40, -30]) (about e^x, e.g. 1.9e-22 at -50)",
                 hint=("for x = -50, 1 + e^x rounds to exactly 1 in float64, so log(1 + e^x) "
                       "gives 0, not 1.9e-22",
                       "torch.log1p(u) computes log(1 + u) accurately when u is tiny"))


@public_check("01-softplus")
def _(softplus, softplus_grad):
    x = torch.linspace(-6, 6, 13, dtype=F64)
    h = 1e-5
    central = (_softplus_exact(x + h) - _softplus_exact(x - h)) / (2 * h)
    expect_close(softplus_grad(x), central, rtol=1e-7, atol=1e-9,
                 what="softplus_grad(linspace(-6, 6, 13)) against a central difference",
                 hint=("differentiate log(1 + e^x) by the chain rule (the outer function is the "
                       "logarithm, the inner one 1 + e^x); at x = 0 the slope must be 1/2",
                       "evaluate your formula by hand at x = -2, 0 and 2 and compare with the "
                       "expected values: a wrong sign or a missing factor usually comes from "
                       "the inner derivative"))
    xl = torch.tensor([-1000.0, -100.0, 100.0, 1000.0], dtype=F64)
    out = softplus_grad(xl)
    expect_true(torch.isfinite(out).all(), "softplus_grad(x) to be finite for x = +-100, +-1000",
                hint=("for x = 1000 an exponential in your formula overflows to inf, and inf / inf "
                      "(or 0 * inf) is nan",
                      "for x > 0, multiply the numerator and the denominator of your fraction by "
                      "the same factor, chosen so that every exponent left is <= 0; torch.where "
                      "can use one form for x > 0 and another for x <= 0"))
    expect_close(out, torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=F64), atol=1e-30,
                 what="softplus_grad([-1000, -100, 100, 1000])",
                 hint=("far to the left softplus is flat, far to the right it has slope 1",
                       "check your derivative's limits for x -> -inf and x -> +inf"))


@public_check("01-softplus")
def _(softplus, softplus_grad):
    x = torch.tensor([-1000.0, -100.0, -3.0, 0.0, 3.0, 100.0, 1000.0], dtype=F64)
    h = 1e-5
    expected = ((_softplus_exact(x + h) - _softplus_exact(x - h)) / (2 * h)).float()
    out32 = softplus_grad(x.float())
    expect_dtype(out32, torch.float32, what="softplus_grad of a float32 tensor",
                 hint=("the derivative should have the dtype of x too: float32 in, float32 out",
                       "build every constant and intermediate tensor in x's dtype; never call "
                       ".double() or pass dtype=torch.float64"))
    expect_true(torch.isfinite(out32).all(), "softplus_grad(x) to be finite in float32 for x = "
                "-1000, -100, -3, 0, 3, 100, 1000",
                hint=("in float32 e^x overflows to inf already above x = 88",
                      "the same rewriting as for float64 works: no exponential of a positive "
                      "number may remain"))
    expect_close(out32, expected, rtol=1e-5, atol=1e-7,
                 what="softplus_grad of [-1000, -100, -3, 0, 3, 100, 1000] in float32",
                 hint=("compare with your float64 results: they should agree to float32's "
                       "precision",
                       "look for a step that loses float32's precision, such as 1 minus a number "
                       "close to 1"))


# ---------------------------------------------------------------------------------------------
# 01-bilinear-forward
# ---------------------------------------------------------------------------------------------
@public_check("01-bilinear-forward")
def _(bilinear_forward):
    x1 = torch.tensor([[1.0, 2.0], [0.0, -1.0], [3.0, 0.5]])            # (N=3, in1=2)
    x2 = torch.tensor([[1.0, 0.0, 2.0], [1.0, 1.0, 1.0], [-1.0, 0.5, 0.0]])  # (N=3, in2=3)
    g = torch.Generator().manual_seed(0)
    w = torch.randint(-2, 3, (4, 2, 3), generator=g).float()           # (out=4, in1, in2)
    b = torch.tensor([0.0, 1.0, -1.0, 2.0])                             # (out=4,)
    out = bilinear_forward(x1, x2, w, b)
    what = "bilinear_forward(x1 (3, 2), x2 (3, 3), weight (4, 2, 3), bias (4,))"
    expect_shape(out, (3, 4), what=what,
                 hint=("one row per example, one column per output neuron",
                       "the two feature indices are summed away; the example index and the "
                       "neuron index stay"))
    expect_close(out, F.bilinear(x1, x2, w, b), what=what,
                 hint=("write z_k for one example as a double sum over the two feature "
                       "indices, then check entry (0, 1) by hand",
                       "every product x1[n, i] * weight[k, i, j] * x2[n, j] appears once; "
                       "torch.einsum can name all four indices in one call"))
    x64 = [t.double() for t in (x1, x2, w, b)]
    expect_dtype(bilinear_forward(*x64), torch.float64, what="the result for float64 inputs",
                 hint=("keep the inputs' dtype: do not create float32 tensors along the way",
                       "a torch.zeros(...) without dtype= is float32"))
    bad = {"x1 (3, 2), x2 (2, 3)": (x1, x2[:2], w, b),
           "x1 (3, 2), weight (4, 3, 3)": (x1, x2, torch.zeros(4, 3, 3), b),
           "x2 (3, 3), weight (4, 2, 2)": (x1, x2, torch.zeros(4, 2, 2), b),
           "weight (4, 2, 3), bias (5,)": (x1, x2, w, torch.zeros(5))}
    for shapes, args in bad.items():
        expect_raises(ValueError, bilinear_forward, *args,
                      what=f"bilinear_forward with {shapes}",
                      hint=("compare every size that must agree before computing: the "
                            "examples of x1 and x2, each input's features with weight's, "
                            "bias with the outputs",
                            "raise ValueError yourself (an assert, or einsum's RuntimeError, "
                            "is not one), naming the shapes received"))


# ---------------------------------------------------------------------------------------------
# 01-averaged-perceptron
# ---------------------------------------------------------------------------------------------
_AP_X = [[1.0, 2.0], [-1.0, 1.0]]
_AP_Y = [-1.0, 1.0]


@public_check("01-averaged-perceptron")
def _(averaged_perceptron):
    # Worked by hand: epoch 1 makes two mistakes, w: (0, 0) -> (-1, -2) -> (-2, -1), b: 0 -> -1 -> 0.
    x, y = torch.tensor(_AP_X, dtype=F64), torch.tensor(_AP_Y, dtype=F64)
    w_avg, b_avg = averaged_perceptron(x, y, 1, 1.0)
    expect_shape(w_avg, (2,), what="w_avg for x (2, 2)",
                 hint=("w_avg has one entry per feature: shape (d,)",
                       "average over the visits, not over the features or the examples' axis of x"))
    expect_close([w_avg, b_avg], [torch.tensor([-1.5, -1.5], dtype=F64), -0.5],
                 what="(w_avg, b_avg) after 1 epoch on x = [[1, 2], [-1, 1]], y = [-1, 1], lr = 1",
                 hint=("start from w = 0, b = 0; at z = 0 the unit predicts +1, so the first "
                       "example (y = -1) is a mistake",
                       "add the current w and b to running sums after every visit, mistake or "
                       "not, and divide by N * epochs at the end"))
    w_avg, b_avg = averaged_perceptron(x, y, 3, 1.0)
    expect_close([w_avg, b_avg], [torch.tensor([-11 / 6, -7 / 6], dtype=F64), -1 / 6],
                 what="(w_avg, b_avg) after 3 epochs on the same data",
                 hint=("the data are separated after epoch 1, but the average must still count "
                       "the visits of epochs 2 and 3: run every epoch",
                       "if two names refer to the same tensor, an in-place += changes both: keep "
                       "the running sum as a tensor of its own"))


@public_check("01-averaged-perceptron")
def _(averaged_perceptron):
    x, y = torch.tensor(_AP_X, dtype=F64), torch.tensor(_AP_Y, dtype=F64)
    w_avg, b_avg = averaged_perceptron(x, y, 1, 0.5)
    expect_close([w_avg, b_avg], [torch.tensor([-0.75, -0.75], dtype=F64), -0.25],
                 what="(w_avg, b_avg) after 1 epoch with lr = 0.5",
                 hint=("the learning rate scales every update of w and b",
                       "from zero weights every update is lr times what it is with lr = 1"))
    x0, y0 = x.clone(), y.clone()
    x32, y32 = x.float(), y.float()
    w32, _ = averaged_perceptron(x32, y32, 2, 1.0)
    expect_dtype(w32, torch.float32, what="w_avg for float32 x",
                 hint=("the averaged weights should have x's dtype",
                       "do not fix a dtype yourself (no .double(), no dtype=torch.float64): "
                       "let every tensor you create take its dtype from x"))
    averaged_perceptron(x, y, 2, 1.0)
    expect_true(torch.equal(x, x0) and torch.equal(y, y0), "x and y to be unchanged by the call",
                hint=("your function changed x or y in place",
                      "update w with w = w + ..., and never assign into x, y or a row of x"))


# ---------------------------------------------------------------------------------------------
# 01-local-affine
# ---------------------------------------------------------------------------------------------
def relu_net(weights, biases, x):
    """ReLU after every layer but the last; x (..., d_in)."""
    h = x
    for k, (w, b) in enumerate(zip(weights, biases)):
        h = h @ w.T + b
        if k < len(weights) - 1:
            h = torch.clamp(h, min=0)
    return h


def _numerical_map(weights, biases, x0, h=1e-4):
    """The affine map of the network around x0, from central differences (exact on a linear piece)."""
    eye = torch.eye(x0.shape[0], dtype=x0.dtype)
    cols = [(relu_net(weights, biases, x0 + h * e) - relu_net(weights, biases, x0 - h * e)) / (2 * h)
            for e in eye]
    W = torch.stack(cols, dim=1)
    return W, relu_net(weights, biases, x0) - W @ x0


def _ap_net(dtype=F64):
    g = torch.Generator().manual_seed(1)
    sizes = [3, 5, 4, 2]
    weights = [torch.randn(o, i, generator=g, dtype=F64).to(dtype) for i, o in zip(sizes, sizes[1:])]
    biases = [torch.randn(o, generator=g, dtype=F64).to(dtype) for o in sizes[1:]]
    x0 = torch.randn(3, generator=g, dtype=F64).to(dtype)
    return weights, biases, x0


@public_check("01-local-affine")
def _(local_affine_map):
    weights, biases, x0 = _ap_net()
    W, b = local_affine_map(weights, biases, x0)
    expect_shape(W, (2, 3), what="W for layers 3 -> 5 -> 4 -> 2",
                 hint=("W maps the network's 3 inputs to its 2 outputs: shape (2, 3)",
                       "build the map layer by layer, starting from the identity map of the input"))
    expect_shape(b, (2,), what="b for layers 3 -> 5 -> 4 -> 2",
                 hint=("b has one entry per output of the network",
                       "carry the offset along with W through every layer"))
    expect_close(x0 @ W.T + b, relu_net(weights, biases, x0), rtol=1e-9, atol=1e-9,
                 what="x0 @ W.T + b compared with the network's output at x0",
                 hint=("first get a network without ReLUs right (section 6), then ask what ReLU "
                       "does to one unit once you know the sign of its pre-activation at x0",
                       "near x0 an inactive unit outputs 0 whatever its input, an active one "
                       "passes its input through: change the map of each unit accordingly"))
    W_num, b_num = _numerical_map(weights, biases, x0)
    expect_close([W, b], [W_num, b_num], rtol=1e-6, atol=1e-8,
                 what="(W, b) compared with the network's slopes around x0 (central differences)",
                 hint=("the map must fit the network on a neighbourhood of x0, not only at x0",
                       "column j of W is how much the outputs change per unit of input j near x0"))


@public_check("01-local-affine")
def _(local_affine_map):
    weights, biases, x0 = _ap_net()
    one = local_affine_map(weights[:1], biases[:1], x0)
    expect_close(list(one), [weights[0], biases[0]], what="the map of a network with one layer",
                 hint=("with one layer there is no hidden layer and no ReLU: the map is the layer",
                       "apply ReLU only after hidden layers, never after the last layer"))
    w32, b32, x32 = _ap_net(torch.float32)
    W, _ = local_affine_map(w32, b32, x32)
    expect_dtype(W, torch.float32, what="W for float32 weights",
                 hint=("keep the weights' dtype",
                       "create the starting identity with dtype=weights[0].dtype"))
    x_copy = x0.clone()
    local_affine_map(weights, biases, x0)
    expect_true(torch.equal(x0, x_copy), "x0 to be unchanged by the call",
                hint=("your function changed x0 in place",
                      "compute new tensors (h = ...) instead of assigning into x0"))


# ---------------------------------------------------------------------------------------------
# 01-xor-weights
# ---------------------------------------------------------------------------------------------
CORNERS = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=F64)
XOR = torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=F64)
OR_AND = {(0.0, 1.0, 1.0, 1.0), (0.0, 0.0, 0.0, 1.0)}


def xor_forward(params, x):
    """The 2-2-1 step network of the exercise: (hidden (N, 2), output (N,)), in float64."""
    W1, b1, W2, b2 = (torch.as_tensor(p).to(F64) for p in params)
    hidden = (x @ W1.T + b1 >= 0).to(F64)
    return hidden, (hidden @ W2.T + b2 >= 0).to(F64).reshape(-1)


@public_check("01-xor-weights")
def _(xor_weights):
    params = xor_weights()
    expect_true(isinstance(params, (tuple, list)) and len(params) == 4,
                "xor_weights() to return four tensors (W1, b1, W2, b2)",
                hint=("return a tuple: W1, b1, W2, b2",
                      "return W1, b1, W2, b2 at the end of the function"))
    for p, shape, name in zip(params, [(2, 2), (2,), (1, 2), (1,)], ["W1", "b1", "W2", "b2"]):
        expect_shape(p, shape, what=name,
                     hint=("W1 (2, 2), b1 (2,), W2 (1, 2), b2 (1,): PyTorch's (out, in) layout",
                           "one row of W1 per hidden unit, one entry of b1 per hidden unit"))
    hidden, out = xor_forward(params, CORNERS)
    expect_close(out, XOR, what="the network's output on (0,0), (0,1), (1,0), (1,1)",
                 hint=("decide first which Boolean function each hidden unit computes, then find "
                       "a line that separates the corners where it is 1 from those where it is 0",
                       "the output unit sees only the two hidden values: which Boolean function "
                       "of them gives XOR, and which threshold unit computes it?"))
    columns = {tuple(c) for c in hidden.T.tolist()}
    expect_true(columns != OR_AND, "hidden units other than section 3's OR and AND",
                hint=("your hidden units compute OR and AND: the exercise asks for another pair",
                      "list the Boolean functions of two inputs that one threshold unit can "
                      "compute (all but XOR and XNOR), then look for a pair from which the output "
                      "unit can build XOR; there are several"))


@public_check("01-xor-weights")
def _(xor_weights):
    params = xor_weights()
    offsets = torch.tensor([-0.2, 0.0, 0.2], dtype=F64)
    grid = torch.cartesian_prod(offsets, offsets)                      # (9, 2)
    x = (CORNERS[:, None, :] + grid[None]).reshape(-1, 2)               # (36, 2)
    _, out = xor_forward(params, x)
    expect_close(out, XOR.repeat_interleave(len(grid)),
                 what="the output on the 36 points within 0.2 of a corner (offsets -0.2, 0, 0.2)",
                 hint=("some line passes too close to a corner: points within 0.2 of it fall on "
                       "the wrong side",
                       "put each threshold halfway between the values its unit must separate "
                       "(between 0 and 1, say 0.5, rather than at 0 or 1)"))
