"""Graded tests of 04-conv-backward-input: dL/dx of a stride-1 conv2d with padding p, without
autograd, against autograd, on random shapes (non-square kernels, N = 1, any 0 <= p <= k - 1).

dx = conv2d(grad_output, weight flipped in both spatial axes with its channel axes swapped,
padding = k - 1 - p): a full correlation, minus the forward padding.
"""
import torch

from nblib.exercises.ch04 import conv_input_grad_autograd
from nblib.grading import assert_close, assert_inputs_unchanged, question

FORBIDDEN = {"04-conv-backward-input": [
    ".backward", "torch.autograd", ".grad", "torch.func", "functorch", "F.conv_transpose2d",
    ".conv_transpose2d", ".conv_transpose1d", ".ConvTranspose2d", "torch.nn.grad",
    ".conv2d_input", "torch._C", "nblib", "getattr", "eval", "exec", "__import__"]}


def _problem(rng, dtype=torch.float64):
    N, C, O = (int(torch.randint(1, 5, (), generator=rng)) for _ in range(3))
    kh, kw = (int(torch.randint(1, 6, (), generator=rng)) for _ in range(2))
    p = int(torch.randint(0, min(kh, kw), (), generator=rng))
    H, W = (k + int(torch.randint(0, 7, (), generator=rng)) for k in (kh, kw))
    weight = torch.randn(O, C, kh, kw, dtype=dtype, generator=rng)
    grad_output = torch.randn(N, O, H + 2 * p - kh + 1, W + 2 * p - kw + 1, dtype=dtype,
                              generator=rng)
    return grad_output, weight, p


@question("04-conv-backward-input", points=2)
def test_matches_autograd_on_random_shapes(student, reference, rng):
    for _ in range(4):
        grad_output, weight, p = _problem(rng)
        dx = student.conv2d_input_grad(grad_output, weight, p)
        assert_close(dx, conv_input_grad_autograd(grad_output, weight, p), rtol=1e-9, atol=1e-10)
        assert_close(dx, reference.conv2d_input_grad(grad_output, weight, p), rtol=1e-9,
                     atol=1e-10)


@question("04-conv-backward-input", points=1)
def test_float32_keeps_its_dtype_and_inputs_are_unchanged(student, rng):
    grad_output, weight, p = _problem(rng, torch.float32)
    dx = student.conv2d_input_grad(grad_output, weight, p)
    assert_inputs_unchanged(student, (grad_output, weight, p))
    assert_close(dx, conv_input_grad_autograd(grad_output, weight, p), rtol=1e-4, atol=1e-4,
                 check_dtype=True)
