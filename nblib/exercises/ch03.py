"""Public checks of chapter 03, the multilayer perceptron (registered on import)."""
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from nblib.exercises.expect import expect_close, expect_dtype, expect_shape, expect_true
from nblib.exercises.registry import public_check

__all__ = ["xor_pattern", "xor_points", "leaky_layer_gain"]

XOR_GAP = 0.15          # no point lies within this distance of either line (base square)


def xor_pattern(rng):
    """A random XOR pattern (03-train-xor-anywhere), drawn from ``rng`` (numpy Generator).

    In the base square [-1, 1]^2 two lines cut the plane into four regions, and opposite
    regions share a class: the lines cross at an angle of 60 to 120 degrees, at a point up
    to 0.25 from the centre in each coordinate (in general not where the data's mean or
    median is), and which pair of regions is class 1 is drawn too. The whole square is then mapped by a
    random affine map: a rotation drawn uniformly over the whole circle, a stretch by up to
    2 along one axis (1/stretch along the other), a shear of up to 0.5, a scale of 0.5 to 3,
    and a shift of 3 to 5 times that scale in each coordinate. Returns a dict.
    """
    first = rng.uniform(0, math.pi)
    angles = np.array([first, first + rng.uniform(math.pi / 3, 2 * math.pi / 3)])
    normals = np.stack([-np.sin(angles), np.cos(angles)], axis=1)    # (2 lines, 2)
    crossing = rng.uniform(-0.25, 0.25, 2)
    turn = rng.uniform(0, 2 * math.pi)
    stretch, shear, scale = rng.uniform(1, 2), rng.uniform(-0.5, 0.5), rng.uniform(0.5, 3)
    rotation = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    matrix = scale * rotation @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([stretch, 1 / stretch])
    shift = scale * rng.choice([-1.0, 1.0], 2) * rng.uniform(3, 5, 2)
    return {"normals": normals, "offsets": normals @ crossing, "flip": bool(rng.integers(2)),
            "matrix": matrix, "shift": shift}


def xor_points(n, pattern, rng, noise=0.02):
    """``n`` points of ``pattern``: uniform in the base square but outside the two bands of
    half-width ``XOR_GAP`` around the lines, labelled by the regions (XOR of the two sides),
    moved by Gaussian noise of std ``noise`` (which can carry a point across a line), then
    mapped. Returns x (n, 2) float32 and y (n,) int64."""
    base = np.zeros((0, 2))
    while len(base) < n:
        cand = rng.uniform(-1, 1, (2 * n, 2))
        dist = cand @ pattern["normals"].T - pattern["offsets"]     # (2n, 2 lines)
        base = np.concatenate([base, cand[(np.abs(dist) > XOR_GAP).all(axis=1)]])
    base = base[:n]
    side = base @ pattern["normals"].T - pattern["offsets"] > 0
    y = (side[:, 0] != side[:, 1]) ^ pattern["flip"]
    base = base + noise * rng.standard_normal((n, 2))
    x = base @ pattern["matrix"].T + pattern["shift"]
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y.astype(np.int64))


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
                    hint=("return a tuple of two tensors: the gradient with respect to X "
                          "first, then the one with respect to W",
                          "the layer has no bias, so there are exactly two gradients: not "
                          "one tensor, not three, not None"))
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
                    hint=("return a tuple of four tensors, one gradient per parameter",
                          "keep the order of the parameters in the signature: the "
                          "gradients of W1, b1, W2 and b2, in that order"))
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


XOR_TESTS = {"train": (200, 0.02, 0.97), "small": (100, 0.08, 0.95)}  # n, noise, mean acc
XOR_PATTERNS = 5        # patterns per graded test (the public check uses 2)
XOR_NEW = 500           # new points per pattern
XOR_SECONDS = 1.0       # per call on average, in the public check


@public_check("03-train-xor-anywhere")
def _(train_xor):
    rng = np.random.default_rng(2024)
    hints = ("the pattern is rotated, stretched, sheared and shifted, and its two lines "
             "do not cross at the centre of the data: no rule written in advance works, "
             "the model must learn from x, y",
             "train a small network on x, y, as section 3 did on XOR; inputs far from 0 "
             "and on different scales slow training down (look at x's mean and std), "
             "and give the optimizer enough steps")
    seconds, calls = 0.0, 0
    for name, patterns in (("train", 2), ("small", 2)):
        n, noise, needed = XOR_TESTS[name]
        accs = []
        for k in range(patterns):
            pattern = xor_pattern(rng)
            x, y = xor_points(n, pattern, rng, noise)
            x_new, y_new = xor_points(XOR_NEW, pattern, rng)
            start = time.perf_counter()
            pred = train_xor(x, y, x_new, k)
            seconds, calls = seconds + time.perf_counter() - start, calls + 1
            expect_shape(pred, (XOR_NEW,), what="train_xor(x, y, x_new, seed) (one label per "
                         "new point)", hint=("return one label per row of x_new",
                                             "take the argmax over the class dimension of "
                                             "the new points' logits"))
            expect_dtype(pred, torch.int64, what="the labels returned by train_xor",
                         hint=("return the labels as an int64 tensor",
                               "argmax returns int64; a float tensor of 0s and 1s is not "
                               "accepted"))
            accs.append((pred.cpu() == y_new).float().mean().item())  # pred may be on CUDA
        mean = sum(accs) / len(accs)
        shown = ", ".join(f"{100 * a:.1f}" for a in accs)
        expect_true(mean >= needed, f"trained on {n} points (noise {noise}), a mean accuracy "
                    f"on {XOR_NEW} new points of each of {patterns} patterns >= "
                    f"{100 * needed:.0f} % (got {100 * mean:.1f} %: {shown})", hint=hints)
    expect_true(seconds < XOR_SECONDS * calls, f"{calls} calls of train_xor to take under "
                f"{XOR_SECONDS * calls:g} s in all (took {seconds:.2f} s)",
                hint=("the graded tests call train_xor 10 times within 10 s in all: fewer "
                      "steps, or a smaller network",
                      "full-batch steps on a few hundred points take about a millisecond "
                      "each: a few hundred steps are enough"))


def leaky_layer_gain(std, negative_slope, width, depth=20, stacks=20, batch=32, seed=0):
    """The experiment of 03-leaky-init: ``stacks`` independent stacks of ``depth`` bias-free
    leaky-ReLU layers of ``width`` units with N(0, std^2) weights, each fed a batch of
    ``batch`` standard-normal inputs. Returns the mean, over every layer of every stack, of
    (mean square of the layer's output) / (mean square of its input): 1 when the std keeps
    the signal's scale; ``gain ** depth`` is about what ``depth`` layers do to it."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(stacks, batch, width, dtype=torch.float64, generator=g)
    gains = []
    for _ in range(depth):
        w = torch.randn(stacks, width, width, dtype=torch.float64, generator=g) * std
        out = F.leaky_relu(a @ w.transpose(1, 2), negative_slope)
        gains.append(out.pow(2).mean(dim=(1, 2)) / a.pow(2).mean(dim=(1, 2)))
        a = out
    return torch.stack(gains).mean().item()


LEAKY_TOLERANCE = 0.05  # the mean gain per layer must be within 5 % of 1


@public_check("03-leaky-init")
def _(leaky_relu_init_std):
    hints = ("keep the mean square of the activations the same from layer to layer: "
             "what fraction of E[z^2] does a leaky ReLU pass on, for z symmetric around 0?",
             "section 9's argument for ReLU carries over, with another fraction in place of "
             "ReLU's 1/2: compute it by splitting E[leaky(z)^2] at z = 0")
    for slope in (0.0, 0.3, 0.7):
        std = leaky_relu_init_std(128, slope)
        expect_true(isinstance(std, (int, float)) and not isinstance(std, bool),
                    f"leaky_relu_init_std(128, {slope}) to return a Python number (got "
                    f"{type(std).__name__})",
                    hint=("return a Python float, not a tensor or an array",
                          "use math.sqrt, or .item() on a one-element tensor"))
        gain = leaky_layer_gain(std, slope, 128)
        expect_true(abs(gain - 1) < LEAKY_TOLERANCE,
                    f"with weights of std leaky_relu_init_std(128, {slope}) = {std:.4g}, a "
                    f"leaky-ReLU layer (slope {slope}, width 128) to keep the mean square of "
                    f"its input within {100 * LEAKY_TOLERANCE:.0f} % on average; it "
                    f"multiplies it by {gain:.3f} (about {gain ** 20:.3g} after 20 layers)",
                    hint=hints)
