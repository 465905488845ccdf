"""Public checks of chapter 08, recurrent networks and backpropagation through time."""
import math

import torch

from nblib.exercises.expect import expect_close, expect_dtype, expect_shape, expect_true
from nblib.exercises.registry import public_check

__all__ = ["jordan_reference", "relu_bptt_autograd", "clip_reference"]


def jordan_reference(x, y0, W_xh, W_yh, b_h, W_hy, b_y):
    """A Jordan network's outputs (T, N, O): h_t = tanh(x_t W_xh^T + y_{t-1} W_yh^T + b_h),
    y_t = h_t W_hy^T + b_y, from y_0 = y0."""
    y, ys = y0, []
    for t in range(x.shape[0]):
        h = torch.tanh(x[t] @ W_xh.T + y @ W_yh.T + b_h)
        y = h @ W_hy.T + b_y
        ys.append(y)
    return torch.stack(ys)


def relu_bptt_autograd(x, h0, W_xh, W_hh, b, grad_hT):
    """(dW_xh, dW_hh, db, dh0) of L = sum(grad_hT * h_T) for the ReLU RNN, by autograd."""
    leaves = [t.detach().clone().requires_grad_(True) for t in (W_xh, W_hh, b, h0)]
    W_xh_, W_hh_, b_, h = leaves
    for t in range(x.shape[0]):
        h = torch.relu(x[t] @ W_xh_.T + h @ W_hh_.T + b_)
    return list(torch.autograd.grad((h * grad_hT).sum(), leaves, allow_unused=True))


def clip_reference(grads, max_norm, norm_type=2.0):
    """torch.nn.utils.clip_grad_norm_ on copies: (clipped tensors, total norm as a float)."""
    params = [torch.zeros_like(g, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.detach().clone()
    total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
    return [p.grad for p in params], float(total)


def _unchanged(before, after, what):
    expect_true(all(torch.equal(a, b) for a, b in zip(before, after)),
                f"{what} to be left unchanged (no in-place operations)",
                hint=("an operation ending in _ (such as mul_) or an augmented assignment "
                      "changed an input",
                      "compute new tensors (e.g. g * c) instead of modifying the inputs"))


@public_check("08-jordan-forward")
def _(jordan_forward):
    g = torch.Generator().manual_seed(8)
    for T, N, D, H, O, dtype in ((5, 3, 2, 4, 2, torch.float64), (1, 1, 3, 2, 1, torch.float32)):
        args = [torch.randn(*s, dtype=dtype, generator=g) for s in
                ((T, N, D), (N, O), (H, D), (H, O), (H,), (O, H), (O,))]
        before = [a.clone() for a in args]
        ys = jordan_forward(*args)
        case = f"for T={T}, N={N}, D={D}, H={H}, O={O} ({dtype})"
        expect_shape(ys, (T, N, O), what=f"the outputs {case}",
                     hint=("return one output y_t per step, stacked along time first",
                           "collect the y_t of every step in a list, then torch.stack it"))
        expect_dtype(ys, dtype, what=f"the outputs {case}",
                     hint="keep the inputs' dtype; do not create float64 or float32 tensors")
        tol = dict(rtol=1e-9, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-6)
        expect_close(ys, jordan_reference(*args), **tol, what=f"the outputs {case}",
                     hint=("what is fed back is the previous *output* y_{t-1}, starting "
                           "from y0, not the hidden state",
                           "at each step: hidden layer from x_t and y_{t-1}, then the output "
                           "from that hidden layer; y_{t-1} for the next step is this output"))
        _unchanged(before, args, "the inputs")


@public_check("08-relu-bptt")
def _(relu_bptt_last):
    g = torch.Generator().manual_seed(80)
    for T, N, D, H in ((6, 3, 2, 5), (1, 1, 1, 3)):
        x = torch.randn(T, N, D, dtype=torch.float64, generator=g)
        h0 = torch.randn(N, H, dtype=torch.float64, generator=g)
        W_xh = torch.randn(H, D, dtype=torch.float64, generator=g)
        W_hh = torch.randn(H, H, dtype=torch.float64, generator=g) / math.sqrt(H)
        b = torch.randn(H, dtype=torch.float64, generator=g) * 0.1
        gT = torch.randn(N, H, dtype=torch.float64, generator=g)
        args = [x, h0, W_xh, W_hh, b, gT]
        before = [a.clone() for a in args]
        out = relu_bptt_last(*args)
        expect_true(isinstance(out, (tuple, list)) and len(out) == 4,
                    "relu_bptt_last to return four tensors (dW_xh, dW_hh, db, dh0)",
                    hint="return the tuple (dW_xh, dW_hh, db, dh0)")
        want = relu_bptt_autograd(*args)
        case = f"for T={T}, N={N}, D={D}, H={H}"
        for name, mine, ref in zip(("dW_xh", "dW_hh", "db", "dh0"), out, want):
            expect_shape(mine, tuple(ref.shape), what=f"{name} {case}",
                         hint="each gradient has the shape of the tensor it is the gradient of")
            expect_close(mine, ref, rtol=1e-9, atol=1e-12, what=f"{name} {case}",
                         hint=("only h_T receives a gradient from the loss; every earlier state "
                               "gets its gradient from the step after it only",
                               "ReLU's derivative is 1 where the pre-activation is positive and "
                               "0 elsewhere: keep the pre-activations of the forward pass, and "
                               "add every step's share to the weights' gradients"))
        _unchanged(before, args, "the inputs")


@public_check("08-clip-grad-norm")
def _(clip_grad_norm):
    g = torch.Generator().manual_seed(800)
    grads = [torch.randn(3, 4, dtype=torch.float64, generator=g) * 5,
             torch.randn(4, dtype=torch.float64, generator=g)]
    for max_norm, norm_type in ((1.0, 2.0), (1e6, 2.0), (0.5, math.inf), (1e6, math.inf)):
        before = [t.clone() for t in grads]
        out = clip_grad_norm(grads, max_norm, norm_type)
        case = f"for max_norm={max_norm:g}, norm_type={norm_type}"
        expect_true(isinstance(out, (tuple, list)) and len(out) == 2,
                    "clip_grad_norm to return (clipped gradients, total norm)",
                    hint="return a pair: the list of new tensors and the total norm")
        clipped, total = out
        want, want_total = clip_reference(grads, max_norm, norm_type)
        expect_true(isinstance(total, float), f"the total norm {case} to be a Python float",
                    hint="convert a 0-d tensor with float(...)")
        expect_close(total, want_total, rtol=1e-9, what=f"the total norm {case}",
                     hint=("the total norm is the norm of all gradients together, as if they "
                           "were one long vector, measured before clipping",
                           "for the 2-norm, combine the tensors' squared entries; for "
                           "norm_type=inf, the largest absolute entry of all of them"))
        expect_true(len(clipped) == len(grads), f"one clipped tensor per gradient {case}")
        for k, (mine, ref) in enumerate(zip(clipped, want)):
            expect_close(mine, ref, rtol=1e-5, atol=1e-12, what=f"gradient {k} {case}",
                         hint=("every tensor is multiplied by the same factor, and only when "
                               "the total norm is above max_norm",
                               "below max_norm the gradients come back unchanged; above it "
                               "their total norm becomes max_norm (PyTorch adds 1e-6 to the "
                               "denominator)"))
        _unchanged(before, grads, "the gradients")
