"""Public checks of chapter 03, the multilayer perceptron (registered on import)."""
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from nblib.exercises.expect import expect_close, expect_dtype, expect_shape, expect_true
from nblib.exercises.registry import public_check

__all__ = ["xor_anywhere"]


def xor_anywhere(n, rng, noise=0.2, transform=None):
    """XOR-like points: four clusters at (+-1, +-1), then rotated, scaled and shifted.

    ``transform`` is (angle, scale, shift (2,), flip); drawn from ``rng`` when None:
    the angle is within 11.25 degrees of a diagonal (so the
    clusters sit near the axes), the shift moves all four
    clusters into one quadrant, and ``flip`` swaps which diagonal is class 1.
    Returns x (n, 2) float32, y (n,) int64 and the transform.
    """
    if transform is None:
        angle = rng.integers(4) * math.pi / 2 + rng.uniform(3 * math.pi / 16, 5 * math.pi / 16)
        scale = rng.uniform(0.5, 3.0)
        shift = scale * rng.choice([-1.0, 1.0], 2) * rng.uniform(3.0, 5.0, 2)
        transform = (angle, scale, shift, bool(rng.integers(2)))
    angle, scale, shift, flip = transform
    centres = rng.choice([-1.0, 1.0], size=(n, 2))
    points = centres + noise * rng.standard_normal((n, 2))
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    x = scale * points @ rot.T + np.asarray(shift)
    y = (centres[:, 0] != centres[:, 1]) ^ flip
    return (torch.tensor(x, dtype=torch.float32), torch.tensor(y.astype(np.int64)), transform)


@public_check("03-seq-linear-backward")
def _(seq_linear_backward):
    g = torch.Generator().manual_seed(3)
    for B, T, d_in, d_out, dtype in ((2, 5, 4, 3, torch.float64), (3, 1, 6, 2, torch.float32)):
        X = torch.randn(B, T, d_in, dtype=dtype, generator=g).requires_grad_(True)
        W = torch.randn(d_out, d_in, dtype=dtype, generator=g).requires_grad_(True)
        dZ = torch.randn(B, T, d_out, dtype=dtype, generator=g)
        X0, W0 = X.detach().clone(), W.detach().clone()
        out = seq_linear_backward(X.detach(), W.detach(), dZ)
        expect_true(isinstance(out, (tuple, list)) and len(out) == 2,
                    "seq_linear_backward to return two tensors (dX, dW)",
                    hint="the layer has no bias: return the pair (dX, dW)")
        dX, dW = out
        case = f"for X of shape {(B, T, d_in)} ({dtype})"
        expect_shape(dX, (B, T, d_in), what=f"dX {case}",
                     hint=("dX has the shape of X: one gradient row per sequence position",
                           "each position is an ordinary linear layer on one row; matmul "
                           "broadcasts over the leading (B, T) dimensions"))
        expect_shape(dW, (d_out, d_in), what=f"dW {case}",
                     hint=("dW has the shape of W, (d_out, d_in), whatever B and T are",
                           "W is shared by all B*T positions: view them as B*T rows, then "
                           "ask which product of dZ and X has the shape of W"))
        expect_dtype(dW, dtype, what=f"dW {case}",
                     hint=("keep the inputs' dtype: do not convert to another precision",
                           "products of float32 tensors stay float32; avoid torch.tensor(...) "
                           "or numpy round trips"))
        F.linear(X, W).backward(dZ)  # autograd's answer
        tol = dict(rtol=1e-9, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-4, atol=1e-5)
        expect_close(dX, X.grad, **tol, what=f"dX {case}",
                     hint=("write the chain rule for one entry Z[b, t, j] and see which "
                           "entries of X it touches",
                           "for every (b, t) the rule is the single-row one; no sum over "
                           "positions is needed for dX"))
        expect_close(dW, W.grad, **tol, what=f"dW {case}",
                     hint=("every position (b, t) adds its own contribution to dW",
                           "sum the per-position outer products over both B and T, e.g. "
                           "by reshaping to (B*T, ...) first"))
        expect_true(torch.equal(X.detach(), X0) and torch.equal(W.detach(), W0),
                    "X and W to be left unchanged (no in-place operations)",
                    hint=("an operation ending in _ (such as mul_) or an augmented "
                          "assignment changed an input",
                          "compute new tensors instead of modifying X or W"))


def _mlp_problem(g, n, d, h, c, dtype=torch.float64, scale=1.0):
    X = torch.randn(n, d, dtype=dtype, generator=g)
    y = torch.randint(0, c, (n,), generator=g)
    params = [torch.randn(h, d, dtype=dtype, generator=g) * scale / math.sqrt(d),
              torch.randn(h, dtype=dtype, generator=g),
              torch.randn(c, h, dtype=dtype, generator=g) * scale / math.sqrt(h),
              torch.randn(c, dtype=dtype, generator=g)]
    return X, y, params


def mlp_autograd(X, y, W1, b1, W2, b2):
    """The reference gradients of the mean cross-entropy of the 2-layer tanh MLP."""
    leaves = [t.clone().requires_grad_(True) for t in (W1, b1, W2, b2)]
    w1, c1, w2, c2 = leaves
    logits = torch.tanh(X @ w1.T + c1) @ w2.T + c2
    F.cross_entropy(logits, y).backward()
    return [t.grad for t in leaves]


@public_check("03-mlp-backward")
def _(mlp_backward):
    g = torch.Generator().manual_seed(5)
    names = ("dW1", "db1", "dW2", "db2")
    top = ("start at the top: what is the gradient of the mean cross-entropy with "
           "respect to the logits (section 2; mind the 1/N)?",
           "the second layer is a linear layer whose input is A1 = tanh(Z1): its "
           "weight and bias gradients follow the linear-layer rules with that input")
    below = ("send the gradient down through W2 to A1, then through tanh",
             "tanh's derivative can be written with its output A1, which the forward "
             "pass already computed; then the first linear layer has input X")
    for n, d, h, c, scale in ((7, 4, 5, 3, 1.0), (16, 3, 8, 4, 1.0), (4, 3, 6, 5, 400.0)):
        X, y, params = _mlp_problem(g, n, d, h, c, scale=scale)
        copies = [p.clone() for p in params]
        out = mlp_backward(X, y, *params)
        expect_true(isinstance(out, (tuple, list)) and len(out) == 4,
                    "mlp_backward to return four tensors (dW1, db1, dW2, db2)",
                    hint="one gradient per parameter, in the order W1, b1, W2, b2")
        case = f"(N={n}, d={d}, h={h}, C={c}{', huge logits' if scale > 1 else ''})"
        for name, got, p in zip(names, out, params):
            expect_shape(got, tuple(p.shape), what=f"{name} {case}",
                         hint=("each gradient has the shape of its parameter",
                               "sum over the batch dimension for the biases; for the "
                               "weights, match shapes (out, in)"))
        expected = mlp_autograd(X, y, *params)
        for i in (3, 2, 1, 0):  # from the top, where the backward pass starts
            hint = top if i >= 2 else below
            if scale > 1:
                hint = ("with logits in the thousands, what does exp do in float64?",
                        "softmax(z) = softmax(z - max z) for each row: subtract each "
                        "row's maximum before exponentiating")
            expect_close(out[i], expected[i], rtol=1e-7, atol=1e-10,
                         what=f"{names[i]} {case}", hint=hint)
        expect_true(all(torch.equal(a, b) for a, b in zip(params, copies)),
                    "the parameters to be left unchanged (no in-place operations)",
                    hint=("an in-place operation changed an input",
                          "compute new tensors instead of modifying W1, b1, W2 or b2"))


@public_check("03-f1")
def _(macro_f1):
    from sklearn.metrics import f1_score

    cases = [
        (torch.tensor([0, 1, 2, 2, 1, 0]), torch.tensor([0, 2, 2, 2, 1, 1]), 3),
        (torch.tensor([0, 0, 1, 1]), torch.tensor([0, 0, 1, 1]), 2),
        (torch.tensor([0, 0, 1, 1]), torch.tensor([0, 0, 0, 0]), 3),  # class 2 never occurs: F1 0
    ]
    for y_true, y_pred, c in cases:
        expected = f1_score(y_true.numpy(), y_pred.numpy(), labels=np.arange(c), average="macro", zero_division=0)
        got = macro_f1(y_true, y_pred, c)
        expect_close(got, float(expected), what=f"macro_f1({y_true.tolist()}, {y_pred.tolist()}, {c})",
                     hint=("count, for each class separately, true positives, false "
                           "positives and false negatives; then average over classes",
                           "every class in 0..C-1 counts, also one that never occurs: "
                           "its F1 is 0 when its denominator is 0"))


@public_check("03-train-xor-anywhere")
def _(train_xor):
    rng = np.random.default_rng(0)
    transform = (math.radians(40), 2.5, np.array([7.0, -9.0]), True)
    x, y, _ = xor_anywhere(200, rng, 0.2, transform)
    x_new, y_new, _ = xor_anywhere(400, rng, 0.2, transform)
    hints = ("the clusters are rotated, scaled and shifted: a rule written for the "
             "original corners cannot work; the model must learn from x, y",
             "standardise the inputs with the training points' mean and std, then "
             "train a small MLP (one hidden layer of a few ReLUs) with Adam")
    start = time.perf_counter()
    pred = train_xor(x, y, x_new, 0)
    seconds = time.perf_counter() - start
    expect_shape(pred, (400,), what="train_xor(x, y, x_new, seed) (one label per new point)",
                 hint=("return one integer label per row of x_new",
                       "take the argmax over the class dimension of the logits"))
    acc = (torch.as_tensor(pred).long().cpu() == y_new).float().mean().item()  # pred may be on CUDA
    expect_true(acc >= 0.97, f"accuracy on 400 new points >= 97 % (got {100 * acc:.1f} %)", hint=hints)
    expect_true(seconds < 2.0, f"training to take under 2 s (took {seconds:.2f} s)",
                hint=("fewer steps, or a smaller network", "full-batch steps on 200 points "
                      "take well under a millisecond each: a few hundred are enough"))
    # the smaller form of the graded test on a small, noisier training set
    transform = (math.radians(130), 0.7, np.array([-3.0, -4.0]), False)
    x, y, _ = xor_anywhere(60, rng, 0.3, transform)
    x_new, y_new, _ = xor_anywhere(400, rng, 0.2, transform)
    acc = (torch.as_tensor(train_xor(x, y, x_new, 1)).long().cpu() == y_new).float().mean().item()
    expect_true(acc >= 0.93, f"trained on 60 noisier points, accuracy on 400 new points >= 93 % "
                f"(got {100 * acc:.1f} %)", hint=hints)


def leaky_depth_ratio(std, negative_slope, depth=30, width=256, seed=0):
    """Mean square of the activations after ``depth`` leaky-ReLU layers over that of the input."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(256, width, dtype=torch.float64, generator=g)
    first = a.pow(2).mean()
    for _ in range(depth):
        w = torch.randn(width, width, dtype=torch.float64, generator=g) * std
        a = F.leaky_relu(a @ w.T, negative_slope)
    return (a.pow(2).mean() / first).item()


@public_check("03-leaky-init")
def _(leaky_relu_init_std):
    hints = ("keep the mean square of the activations the same from layer to layer: "
             "what fraction of E[z^2] does a leaky ReLU keep?",
             "for z symmetric around 0 the output is z half of the time and a*z the other "
             "half; then choose Var W so that fan_in * Var W * that fraction is 1")
    for slope in (0.0, 0.2, 0.5):
        std = leaky_relu_init_std(256, slope)
        expect_true(isinstance(std, (int, float)) and not isinstance(std, bool),
                    f"leaky_relu_init_std(256, {slope}) to return a float (got {type(std).__name__})",
                    hint=("return a Python number", "use math.sqrt, or .item() on a tensor"))
        ratio = leaky_depth_ratio(std, slope)
        expect_true(0.5 < ratio < 2.0, f"30 leaky-ReLU layers (slope {slope}, width 256) with "
                    f"weights of std leaky_relu_init_std(256, {slope}) = {std:.4g} to keep the "
                    f"activations' mean square within a factor 2 (it changed by {ratio:.3g}x)",
                    hint=hints)
    ref = math.sqrt(2 / ((1 + 0.3 ** 2) * 100))
    expect_close(leaky_relu_init_std(100, 0.3), ref, rtol=1e-9,
                 what="leaky_relu_init_std(100, 0.3)", hint=hints)
