"""Public checks of chapter 04, convolution from scratch (registered on import)."""
import torch
import torch.nn.functional as F

from nblib.exercises.expect import expect_close, expect_dtype, expect_shape, expect_true
from nblib.exercises.registry import public_check

__all__ = ["conv_input_grad_autograd", "receptive_field_measured"]


def conv_input_grad_autograd(grad_output, weight, padding):
    """The reference: d(sum(conv2d(x, weight, padding) * grad_output)) / dx, by autograd."""
    N, _, ho, wo = grad_output.shape
    _, C, kh, kw = weight.shape
    x = torch.zeros(N, C, ho + kh - 1 - 2 * padding, wo + kw - 1 - 2 * padding,
                    dtype=grad_output.dtype, requires_grad=True)
    F.conv2d(x, weight, padding=padding).backward(grad_output)
    return x.grad


def receptive_field_measured(kernel_sizes, strides, dilations):
    """The receptive field measured by a gradient (nblib.nn.conv.measure_receptive_field)."""
    from nblib.nn.conv import measure_receptive_field

    return measure_receptive_field(kernel_sizes, strides, dilations)


@public_check("04-conv-backward-input")
def _(conv2d_input_grad):
    g = torch.Generator().manual_seed(4)
    cases = [  # (N, C, O, H, W, kh, kw, padding, dtype)
        (2, 3, 4, 6, 7, 3, 3, 0, torch.float64),
        (1, 2, 3, 5, 5, 3, 2, 1, torch.float64),
        (3, 1, 2, 4, 6, 2, 3, 1, torch.float32),
    ]
    for N, C, O, H, W, kh, kw, p, dtype in cases:
        weight = torch.randn(O, C, kh, kw, dtype=dtype, generator=g)
        ho, wo = H + 2 * p - kh + 1, W + 2 * p - kw + 1
        grad_output = torch.randn(N, O, ho, wo, dtype=dtype, generator=g)
        w0, g0 = weight.clone(), grad_output.clone()
        dx = conv2d_input_grad(grad_output, weight, p)
        case = f"for x of shape {(N, C, H, W)}, weight {(O, C, kh, kw)}, padding {p}"
        expect_shape(dx, (N, C, H, W), what=f"dx {case}",
                     hint=("dx has the shape of the input x; work out H and W from the "
                           "output's size, the kernel's size and the padding",
                           "a 'full' correlation pads the upstream gradient so that the kernel "
                           "also visits positions where it only partly overlaps; the forward "
                           "padding p takes some of that padding back"))
        expect_dtype(dx, dtype, what=f"dx {case}",
                     hint=("keep the inputs' dtype", "do not create tensors with a fixed dtype; "
                           "operations on float32 tensors stay float32"))
        tol = dict(rtol=1e-9, atol=1e-10) if dtype == torch.float64 else dict(rtol=1e-4, atol=1e-5)
        expect_close(dx, conv_input_grad_autograd(grad_output, weight, p), **tol,
                     what=f"dx {case}",
                     hint=("write y[n, o, i, j] as a sum over (c, u, v) and ask which output "
                           "cells a single input cell x[n, c, a, b] takes part in, and with "
                           "which weight",
                           "each input cell collects grad_output times the weight that joined "
                           "them; going backward, the output channels play the role of input "
                           "channels: which axis of the weight must come first for F.conv2d?"))
        expect_true(torch.equal(weight, w0) and torch.equal(grad_output, g0),
                    "grad_output and weight to be left unchanged (no in-place operations)",
                    hint=("an operation ending in _ changed an input",
                          "flip() and transpose() return new tensors or views; do not write "
                          "into them"))


@public_check("04-receptive-field")
def _(receptive_field):
    stacks = [([3, 3, 3], [1, 1, 1], [1, 1, 1]),
              ([3, 3], [2, 1], [1, 1]),
              ([5, 3, 3], [2, 2, 1], [1, 1, 2]),
              ([1, 2], [2, 1], [1, 1]),
              ([3], [4], [3])]
    for kernels, strides, dilations in stacks:
        got = receptive_field(kernels, strides, dilations)
        what = f"receptive_field({kernels}, {strides}, {dilations})"
        expect_true(isinstance(got, int) and not isinstance(got, bool),
                    f"{what} to return a Python int (got {type(got).__name__})",
                    hint=("return an int", "int(...) around a tensor or a float"))
        expect_close(got, receptive_field_measured(kernels, strides, dilations),
                     what=f"{what} (measured by the gradient of one output)",
                     hint=("a layer with kernel k and dilation d widens the field by d (k - 1) "
                           "of *its own input's* cells; how many input cells of the network is "
                           "one cell of that layer's input apart from the next?",
                           "the layers before layer l multiply distances by the product of "
                           "their strides: add up each layer's widening, measured in "
                           "network-input cells, starting from 1"))


@public_check("04-adaptive-avg-pool")
def _(adaptive_avg_pool2d):
    g = torch.Generator().manual_seed(6)
    cases = [((2, 3, 8, 8), (4, 4)), ((1, 2, 7, 5), (3, 2)), ((1, 1, 5, 6), (5, 6)),
             ((2, 1, 4, 3), (1, 1)), ((1, 2, 3, 4), (5, 7))]
    for shape, out in cases:
        x = torch.randn(*shape, dtype=torch.float64, generator=g, requires_grad=True)
        x0 = x.detach().clone()
        y = adaptive_avg_pool2d(x, out)
        what = f"adaptive_avg_pool2d(x of shape {shape}, {out})"
        expect_shape(y, (*shape[:2], *out), what=what,
                     hint=("the output has the requested spatial size, whatever the input's",
                           "keep N and C; one output cell per (row, column) of output_size"))
        ref = F.adaptive_avg_pool2d(x.detach(), out)
        expect_close(y, ref, rtol=1e-10, atol=1e-12, what=what,
                     hint=("output row i averages a contiguous band of input rows; the bands "
                           "cover all rows, may overlap, and need not all have one size",
                           "pool an input that is 1 in a single row and 0 elsewhere, for "
                           "H = 5 and out_h = 3, and read off which rows each output averages; "
                           "then find a rule with floor and ceiling that gives those bands"))
        up = torch.randn(y.shape, dtype=torch.float64, generator=g)
        (grad,) = torch.autograd.grad((y * up).sum(), x)
        x2 = x.detach().clone().requires_grad_(True)
        (ref_grad,) = torch.autograd.grad((F.adaptive_avg_pool2d(x2, out) * up).sum(), x2)
        expect_close(grad, ref_grad, rtol=1e-10, atol=1e-12, what=f"the gradient of {what}",
                     hint=("build the output from differentiable tensor operations (slices, "
                           "mean, stack)", "do not go through .item(), numpy or torch.tensor "
                           "of Python numbers: that cuts the graph"))
        expect_true(torch.equal(x.detach(), x0), "x to be left unchanged",
                    hint=("an in-place operation changed x", "compute new tensors"))
    y32 = adaptive_avg_pool2d(torch.randn(1, 1, 6, 6, generator=g), (4, 3))
    expect_dtype(y32, torch.float32, what="adaptive_avg_pool2d of a float32 input",
                 hint=("keep the input's dtype", "do not create tensors with a fixed dtype"))
