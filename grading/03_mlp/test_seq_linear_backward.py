"""Graded tests of 03-seq-linear-backward: Z = X W^T (no bias) on X (B, T, d_in).

dX = dZ W (B, T, d_in); dW = sum over every (b, t) of dZ[b, t]^T X[b, t] (d_out, d_in).
"""
import torch
import torch.nn.functional as F

from nblib.grading import assert_close, assert_inputs_unchanged, question

FORBIDDEN = {"03-seq-linear-backward": [".backward", "torch.autograd", ".grad", "torch.func", "functorch",
                                        "nblib", "getattr", "eval", "exec", "__import__"]}


def _problem(rng, dtype=torch.float64):
    B, T, d_in, d_out = (int(torch.randint(1, 7, (), generator=rng)) for _ in range(4))
    X = torch.randn(B, T, d_in, dtype=dtype, generator=rng)
    W = torch.randn(d_out, d_in, dtype=dtype, generator=rng)
    dZ = torch.randn(B, T, d_out, dtype=dtype, generator=rng)
    return X, W, dZ


def _autograd(X, W, dZ):
    X, W = X.clone().requires_grad_(), W.clone().requires_grad_()
    F.linear(X, W).backward(dZ)
    return [X.grad, W.grad]


@question("03-seq-linear-backward", points=1)
def test_matches_autograd_on_random_shapes(student, reference, rng):
    X, W, dZ = _problem(rng)
    out = student.seq_linear_backward(X, W, dZ)
    assert_inputs_unchanged(student, (X, W, dZ), positions=(0, 1))  # stated: X, W unchanged
    assert_close(list(out), _autograd(X, W, dZ), rtol=1e-9, atol=1e-12)
    assert_close(list(out), list(reference.seq_linear_backward(X, W, dZ)), rtol=1e-9, atol=1e-12)


@question("03-seq-linear-backward", points=1)
def test_float32_keeps_its_dtype_and_long_sequences(student, rng):
    X = torch.randn(2, 33, 5, generator=rng)
    W = torch.randn(4, 5, generator=rng)
    dZ = torch.randn(2, 33, 4, generator=rng)
    out = student.seq_linear_backward(X, W, dZ)
    assert_close(list(out), _autograd(X, W, dZ), rtol=1e-4, atol=1e-5, check_dtype=True)
