"""Graded tests of 03-linear-backward: dX = dZ W, dW = dZ^T X, db = sum_n dZ (W is (d_out, d_in))."""
import torch
import torch.nn.functional as F

from nblib.grading import assert_close, question

FORBIDDEN = {"03-linear-backward": [".backward", "torch.autograd", ".grad", "torch.func", "functorch",
                                    "nblib", "getattr", "eval", "exec", "__import__"]}


def _problem(rng):
    n, d_in, d_out = (int(torch.randint(1, 9, (), generator=rng)) for _ in range(3))
    X = torch.randn(n, d_in, dtype=torch.float64, generator=rng)
    W = torch.randn(d_out, d_in, dtype=torch.float64, generator=rng)
    dZ = torch.randn(n, d_out, dtype=torch.float64, generator=rng)
    return X, W, dZ


def _autograd(X, W, dZ):
    X, W = X.clone().requires_grad_(), W.clone().requires_grad_()
    b = torch.zeros(W.shape[0], dtype=W.dtype, requires_grad=True)
    F.linear(X, W, b).backward(dZ)
    return [X.grad, W.grad, b.grad]


@question("03-linear-backward", points=1)
def test_matches_autograd_on_random_shapes(student, reference, rng):
    X, W, dZ = _problem(rng)
    out = student.linear_backward(X, W, dZ)
    assert_close(list(out), _autograd(X, W, dZ), rtol=1e-9, atol=1e-12)
    assert_close(list(out), list(reference.linear_backward(X, W, dZ)), rtol=1e-9, atol=1e-12)


@question("03-linear-backward", points=1)
def test_non_square_batch_of_one_and_float32(student, reference, rng):
    X = torch.randn(1, 7, generator=rng)
    W = torch.randn(3, 7, generator=rng)
    dZ = torch.randn(1, 3, generator=rng)
    out = student.linear_backward(X, W, dZ)
    assert_close(list(out), _autograd(X, W, dZ), rtol=1e-5, atol=1e-6)
