"""Graded tests of 05-conv-bn-fold: a convolution with the folded weight and bias computes
what the convolution followed by eval-mode batch norm computes."""
import torch
import torch.nn.functional as F

from nblib.exercises.ch05 import bn_conv_reference
from nblib.grading import assert_close, question

FORBIDDEN = {"05-conv-bn-fold": [".fuse_conv_bn_eval", ".fuse_conv_bn_weights", "torch.fx", "torch.ao", "nblib", "getattr", "eval", "exec",
                                 "__import__"]}


def _problem(rng, with_bias, dtype=torch.float64):
    c_out, c_in = (int(torch.randint(1, 7, (), generator=rng)) for _ in range(2))
    w = torch.randn(c_out, c_in, 3, 3, dtype=dtype, generator=rng)
    b = torch.randn(c_out, dtype=dtype, generator=rng) if with_bias else None
    mean = torch.randn(c_out, dtype=dtype, generator=rng) * 2
    var = torch.rand(c_out, dtype=dtype, generator=rng) * 3 + 0.05
    gamma, beta = torch.randn(c_out, dtype=dtype, generator=rng), torch.randn(c_out, dtype=dtype, generator=rng)
    x = torch.randn(2, c_in, 7, 5, dtype=dtype, generator=rng)
    return x, (w, b, mean, var, gamma, beta)


@question("05-conv-bn-fold", points=1)
def test_folded_conv_equals_conv_then_batch_norm(student, reference, rng):
    for _ in range(3):
        x, inputs = _problem(rng, with_bias=True)
        eps = 10.0 ** int(torch.randint(-5, -1, (), generator=rng))
        w, b = student.fold_bn(*inputs, eps)
        assert_close(F.conv2d(x, w, b, padding=1), bn_conv_reference(x, *inputs, eps), rtol=1e-7, atol=1e-9)
        assert_close([w, b], list(reference.fold_bn(*inputs, eps)), rtol=1e-7, atol=1e-9)


@question("05-conv-bn-fold", points=1)
def test_without_conv_bias(student, rng):
    x, inputs = _problem(rng, with_bias=False)
    w, b = student.fold_bn(*inputs, 1e-5)
    assert_close(F.conv2d(x, w, b, padding=1), bn_conv_reference(x, *inputs, 1e-5), rtol=1e-7, atol=1e-9)
