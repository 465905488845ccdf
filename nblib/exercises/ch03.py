"""Public checks of chapter 03, the multilayer perceptron (registered on import)."""
import time

import numpy as np
import torch
import torch.nn.functional as F

from nblib.data import toy_2d
from nblib.exercises.expect import expect_close, expect_shape, expect_true
from nblib.exercises.registry import public_check


@public_check("03-linear-backward")
def _(linear_backward):
    g = torch.Generator().manual_seed(3)
    X = torch.randn(5, 4, dtype=torch.float64, generator=g).requires_grad_(True)
    W = torch.randn(3, 4, dtype=torch.float64, generator=g).requires_grad_(True)
    b = torch.randn(3, dtype=torch.float64, generator=g).requires_grad_(True)
    dZ = torch.randn(5, 3, dtype=torch.float64, generator=g)
    out = linear_backward(X.detach(), W.detach(), dZ)
    expect_true(isinstance(out, (tuple, list)) and len(out) == 3,
                "linear_backward to return three tensors (dX, dW, db)", hint="return dX, dW, db")
    dX, dW, db = out
    expect_shape(dX, (5, 4), what="dX (shape of X)", hint="dX = dZ @ W")
    expect_shape(dW, (3, 4), what="dW (shape of W, (d_out, d_in))", hint="dW = dZ.T @ X")
    expect_shape(db, (3,), what="db (shape of b)", hint="sum dZ over the batch dimension")
    F.linear(X, W, b).backward(dZ)  # autograd's answer
    expect_close(dX, X.grad, what="dX", hint="dX = dZ @ W")
    expect_close(dW, W.grad, what="dW", hint="dW = dZ.T @ X: each example adds an outer product")
    expect_close(db, b.grad, what="db", hint="db = dZ.sum(dim=0)")


@public_check("03-relu-backward")
def _(relu_backward):
    Z = torch.tensor([[-2.0, -0.5, 0.0, 0.5, 3.0]], dtype=torch.float64, requires_grad=True)
    dA = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0]], dtype=torch.float64)
    dZ = relu_backward(Z.detach(), dA)
    expect_shape(dZ, (1, 5), what="relu_backward(Z, dA)")
    torch.relu(Z).backward(dA)
    expect_close(dZ, Z.grad, what="relu_backward on Z = [-2, -0.5, 0, 0.5, 3]",
                 hint="pass dA where Z > 0, zero elsewhere (also at Z == 0)")


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
                     hint="per class 2TP / (2TP + FP + FN), 0 if that is 0/0; average over all classes")


@public_check("03-train-xor")
def _(train_xor):
    x, y = toy_2d("xor", n=200, noise=0.2, seed=0)
    x_new, y_new = toy_2d("xor", n=400, noise=0.2, seed=1)
    start = time.perf_counter()
    pred = train_xor(x, y, x_new, seed=0)
    seconds = time.perf_counter() - start
    expect_shape(pred, (400,), what="train_xor(x, y, x_new) (one label per new point)")
    acc = (torch.as_tensor(pred).long().cpu() == y_new).float().mean().item()  # pred may be on CUDA
    expect_true(acc >= 0.98, f"accuracy on 400 new XOR points >= 98 % (got {100 * acc:.1f} %)",
                hint="one hidden layer of a few ReLUs, Adam, a few hundred full-batch steps")
    expect_true(seconds < 2.0, f"training to take under 2 s (took {seconds:.2f} s)")
