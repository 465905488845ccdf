"""Public checks of chapter 05, CNN classifiers and architectures (registered on import)."""
import torch
import torch.nn.functional as F

from nblib.exercises.expect import expect_close, expect_dtype, expect_shape, expect_true
from nblib.exercises.registry import public_check

__all__ = ["bn_autograd", "bn_conv_reference"]


def bn_autograd(x, gamma, dy, eps):
    """Reference gradients (dx, dgamma, dbeta) of training-mode batch norm of x (N, C, *)."""
    x = x.clone().requires_grad_(True)
    g = gamma.clone().requires_grad_(True)
    b = torch.zeros_like(gamma, requires_grad=True)
    out = F.batch_norm(x, None, None, g, b, training=True, eps=eps)
    return list(torch.autograd.grad((out * dy).sum(), [x, g, b]))


def bn_conv_reference(x, w, b, mean, var, gamma, beta, eps):
    """Eval-mode batch norm applied after a convolution (padding 1)."""
    return F.batch_norm(F.conv2d(x, w, b, padding=1), mean, var, gamma, beta, training=False, eps=eps)


def _unchanged(tensors, copies, names):
    expect_true(all(torch.equal(t, c) for t, c in zip(tensors, copies)),
                f"the inputs ({names}) to be left unchanged (no in-place operations)",
                hint=("an operation ending in _ (such as sub_) or an augmented assignment "
                      "changed an input", "compute new tensors instead of modifying the inputs"))


@public_check("05-batchnorm-backward")
def _(batchnorm_backward):
    g = torch.Generator().manual_seed(5)
    hints = {
        "dbeta": ("beta is added to every output of its channel",
                  "sum dy over every dimension except the channel dimension"),
        "dgamma": ("gamma multiplies the normalised input x_hat of its channel",
                   "sum dy * x_hat over every dimension except the channel dimension; "
                   "recompute x_hat with the biased variance"),
        "dx": ("x reaches the output three ways: directly, through the channel mean and through "
               "the channel variance; each path adds a term",
               "write the result per channel with m values: it needs dy * gamma, its mean over "
               "the m values, and the mean of (dy * gamma) * x_hat; the variance is biased (1/m)"),
    }
    cases = ((4, 3, 5, 5, torch.float64, 1e-5), (6, 2, 1, 1, torch.float64, 1e-3),
             (3, 4, 2, 3, torch.float32, 1e-5))
    for n, c, h, w, dtype, eps in cases:
        x = 2 + 3 * torch.randn(n, c, h, w, dtype=dtype, generator=g)
        gamma = torch.randn(c, dtype=dtype, generator=g)
        dy = torch.randn(n, c, h, w, dtype=dtype, generator=g)
        copies = [t.clone() for t in (x, gamma, dy)]
        out = batchnorm_backward(x, gamma, dy, eps)
        expect_true(isinstance(out, (tuple, list)) and len(out) == 3,
                    "batchnorm_backward to return three tensors (dx, dgamma, dbeta)",
                    hint="return the tuple (dx, dgamma, dbeta)")
        case = f"for x of shape {(n, c, h, w)} ({str(dtype).replace('torch.', '')}, eps={eps})"
        for name, got, shape in zip(("dx", "dgamma", "dbeta"), out, ((n, c, h, w), (c,), (c,))):
            expect_shape(got, shape, what=f"{name} {case}",
                         hint=("each gradient has the shape of what it is the gradient of",
                               "gamma and beta have one entry per channel: sum over the batch "
                               "and the positions"))
            expect_dtype(got, dtype, what=f"{name} {case}",
                         hint=("keep the inputs' dtype", "avoid torch.tensor(...) and NumPy round trips"))
        expected = bn_autograd(x, gamma, dy, eps)
        tol = dict(rtol=1e-7, atol=1e-9) if dtype == torch.float64 else dict(rtol=1e-3, atol=1e-4)
        for i in (2, 1, 0):
            name = ("dx", "dgamma", "dbeta")[i]
            expect_close(out[i], expected[i], **tol, what=f"{name} {case}", hint=hints[name])
        _unchanged((x, gamma, dy), copies, "x, gamma, dy")


@public_check("05-group-norm")
def _(group_norm):
    g = torch.Generator().manual_seed(7)
    hints = ("split the channels into num_groups consecutive groups; each example and group "
             "gets its own mean and variance, over the group's channels and all positions",
             "reshape x to (N, num_groups, -1), normalise over the last dimension with the "
             "biased variance, reshape back, then apply the per-channel weight and bias")
    cases = (((2, 6, 4, 4), 3, torch.float64), ((3, 4, 5), 2, torch.float64), ((1, 8, 3, 3), 8, torch.float64),
             ((4, 6), 1, torch.float64), ((2, 4, 3, 3), 2, torch.float32))
    for shape, groups, dtype in cases:
        c = shape[1]
        x = 1 + 2 * torch.randn(*shape, dtype=dtype, generator=g)
        weight = torch.randn(c, dtype=dtype, generator=g)
        bias = torch.randn(c, dtype=dtype, generator=g)
        copies = [t.clone() for t in (x, weight, bias)]
        out = group_norm(x, groups, weight, bias, 1e-5)
        what = f"group_norm(x of shape {shape} ({str(dtype).replace('torch.', '')}), num_groups={groups})"
        expect_shape(out, shape, what=what, hint="the output has the shape of x")
        expect_dtype(out, dtype, what=what, hint=("keep the input's dtype", "avoid NumPy round trips"))
        tol = dict(rtol=1e-7, atol=1e-9) if dtype == torch.float64 else dict(rtol=1e-4, atol=1e-5)
        expect_close(out, F.group_norm(x, groups, weight, bias, 1e-5), **tol, what=what, hint=hints)
        _unchanged((x, weight, bias), copies, "x, weight, bias")
    # an example's output does not depend on the rest of its batch
    x = torch.randn(5, 4, 3, 3, dtype=torch.float64, generator=g)
    w, b = torch.ones(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)
    expect_close(group_norm(x[:1], 2, w, b, 1e-5), group_norm(x, 2, w, b, 1e-5)[:1], rtol=1e-9, atol=1e-12,
                 what="the output of the first example alone and within a batch of 5",
                 hint=("group norm never mixes examples", "take statistics per example: never over dim 0"))


@public_check("05-conv-bn-fold")
def _(fold_bn):
    g = torch.Generator().manual_seed(9)
    hints = ("in eval mode batch norm is an affine map per channel: y = a_c * z + b_c; write a_c "
             "and b_c with the running statistics, gamma, beta and eps",
             "scale each output channel's kernel by a_c (broadcast over in_channels and the kernel), "
             "and the bias becomes a_c * (conv bias - running mean) + beta")
    for c_out, c_in, k, with_bias, dtype in ((4, 3, 3, True, torch.float64), (2, 5, 3, False, torch.float64),
                                            (3, 2, 3, True, torch.float32)):
        w = torch.randn(c_out, c_in, k, k, dtype=dtype, generator=g)
        b = torch.randn(c_out, dtype=dtype, generator=g) if with_bias else None
        mean = torch.randn(c_out, dtype=dtype, generator=g)
        var = torch.rand(c_out, dtype=dtype, generator=g) + 0.1
        gamma, beta = torch.randn(c_out, dtype=dtype, generator=g), torch.randn(c_out, dtype=dtype, generator=g)
        inputs = (w, b, mean, var, gamma, beta)
        copies = [None if t is None else t.clone() for t in inputs]
        out = fold_bn(w, b, mean, var, gamma, beta, 1e-5)
        what = (f"fold_bn for a {c_out}x{c_in}x{k}x{k} kernel ({str(dtype).replace('torch.', '')}, "
                f"{'with' if with_bias else 'without'} a conv bias)")
        expect_true(isinstance(out, (tuple, list)) and len(out) == 2,
                    "fold_bn to return two tensors (weight, bias)", hint="return the pair (weight, bias)")
        expect_shape(out[0], tuple(w.shape), what=f"the folded weight, {what}",
                     hint="the folded weight has the shape of the convolution's weight")
        expect_shape(out[1], (c_out,), what=f"the folded bias, {what}",
                     hint=("the folded convolution always has a bias, one per output channel",
                           "without a conv bias, treat it as zeros"))
        expect_dtype(out[0], dtype, what=f"the folded weight, {what}", hint="keep the inputs' dtype")
        x = torch.randn(2, c_in, 6, 6, dtype=dtype, generator=g)
        tol = dict(rtol=1e-7, atol=1e-9) if dtype == torch.float64 else dict(rtol=1e-4, atol=1e-4)
        expect_close(F.conv2d(x, out[0], out[1], padding=1), bn_conv_reference(x, *inputs, 1e-5), **tol,
                     what=f"conv2d with the folded weight and bias against conv then batch norm, {what}",
                     hint=hints)
        expect_true(all((t is None and u is None) or torch.equal(t, u) for t, u in zip(inputs, copies)),
                    "the inputs to be left unchanged (no in-place operations)",
                    hint=("an in-place operation changed an input", "compute new tensors"))
