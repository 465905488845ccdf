r"""Gradient checking: compare an analytic gradient with central finite differences.

For each coordinate i,

    df/dx_i  ~=  (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)

Why *central* differences: by Taylor's theorem
``f(x +- eps) = f(x) +- eps f' + eps^2/2 f'' +- eps^3/6 f''' + ...``. Subtracting the two, the
even terms (``f`` and ``f''``) cancel, so the error is ``eps^2/6 f'''``: O(eps^2). The one-sided
difference ``(f(x + eps) - f(x)) / eps`` keeps the ``eps/2 f''`` term: only O(eps).

Why *float64*: the difference ``f(x + eps) - f(x - eps)`` of two nearly equal numbers loses
digits. Each evaluation carries a round-off of about ``machine_eps * |f|`` (1e-16 in float64,
1e-7 in float32), so the estimate has an extra error of about ``machine_eps * |f| / eps``. With
eps = 1e-6 that is ~1e-10 in float64 (fine) but ~0.1 in float32 (useless). The total error
``eps^2 + machine_eps / eps`` is smallest near ``eps ~ machine_eps^(1/3)``, about 1e-5 in float64.

The check is O(n) evaluations of f, so it is for small tests, never for training
(CS231n notes, "Gradient checks"; Goodfellow, Bengio & Courville 2016, section 11.5).
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

from nblib import validate
from nblib.autograd import Value

__all__ = ["numerical_grad", "max_rel_error", "rel_error", "max_abs_diff", "numerical_grad_list",
           "value_grad_list", "check_value_grad"]


_WHY_F64 = (": in lower precision the round-off in f(x+eps) - f(x-eps) swamps the "
            "difference; convert it with x.double()")


def _as_float(out, what: str = "f") -> float:
    """The scalar that ``f`` returned, as a float; a clear error if it is not a scalar."""
    if isinstance(out, Value):
        return out.data
    if isinstance(out, Tensor):
        if out.dim() != 0:
            raise ValueError(
                f"{what} must return a scalar (a 0-d tensor), got a tensor of shape {tuple(out.shape)}"
            )
        return out.item()
    if isinstance(out, (int, float)):
        return float(out)
    raise TypeError(f"{what} must return a scalar, got {type(out).__name__}")


@torch.no_grad()
def numerical_grad(f: Callable[[Tensor], Tensor], x: Tensor,
                   eps: float = 1e-6) -> Tensor:
    """Central-difference estimate of the gradient of a scalar ``f`` at ``x``.

    Args:
        f: maps a tensor shaped like ``x`` to a scalar (0-d) tensor.
        x: the point, a float64 tensor of any shape (not modified).
        eps: the step, in the units of ``x``.

    Returns:
        a float64 tensor shaped like ``x`` (and on its device).
    """
    validate.tensor("numerical_grad x", x, dtype=torch.float64, hint=_WHY_F64)
    validate.number("eps", eps, gt=0)
    x = x.detach().clone(memory_format=torch.contiguous_format)
    flat = x.view(-1)            # (n,): a view, so writing it moves x
    grad = torch.zeros_like(flat)
    for i in range(flat.numel()):
        original = flat[i].item()
        flat[i] = original + eps
        f_plus = _as_float(f(x))
        flat[i] = original - eps
        f_minus = _as_float(f(x))
        flat[i] = original
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad.view_as(x)


def max_rel_error(a, b, floor: float = 1e-8) -> float:
    """``max_i |a_i - b_i| / max(|a_i| + |b_i|, floor)``: 0 when equal, ~1 when unrelated.

    Relative, so that a gradient of size 1e3 and one of size 1e-3 are judged alike; ``floor``
    keeps two gradients that are both ~0 from looking wildly different. As a rule of thumb in
    float64, < 1e-7 is a correct gradient, > 1e-4 a bug.

    ``a`` and ``b`` are tensors or sequences of numbers of the same shape.
    """
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64, device=a.device)
    if a.shape != b.shape:
        raise ValueError(f"max_rel_error needs equal shapes, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.numel() == 0:
        return 0.0
    return ((a - b).abs() / (a.abs() + b.abs()).clamp_min(floor)).max().item()


def rel_error(a, b) -> float:
    """``||a - b|| / (||a|| + ||b||)`` (Frobenius norms): one number for a whole gradient,
    0 when equal, 1 when opposite (CS231n's check)."""
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64, device=a.device)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs equal shapes, got {tuple(a.shape)} and {tuple(b.shape)}")
    return ((a - b).norm() / (a.norm() + b.norm())).item()


def max_abs_diff(what: str, ours, theirs) -> float:
    """Print and return ``max |ours - theirs|``, labelled ``what`` (Karpathy's ``cmp``)."""
    ours = torch.as_tensor(ours, dtype=torch.float64)
    theirs = torch.as_tensor(theirs, dtype=torch.float64, device=ours.device)
    diff = (ours - theirs).abs().max().item()
    print(f"{what:<28} max |ours - torch| = {diff:.1e}")
    return diff


def numerical_grad_list(f: Callable[[list[float]], float], xs: Sequence[float],
                        eps: float = 1e-6) -> list[float]:
    """Central-difference gradient of ``f`` (a function of a list of floats) at ``xs``.

    ``f`` may return a float, a 0-d tensor or a :class:`~nblib.autograd.Value`, so the same
    function can be checked here and differentiated by :func:`value_grad_list`.
    """
    validate.number("eps", eps, gt=0)
    xs = [float(x) for x in xs]
    grad = []
    for i in range(len(xs)):
        plus, minus = list(xs), list(xs)
        plus[i] += eps
        minus[i] -= eps
        grad.append((_as_float(f(plus)) - _as_float(f(minus))) / (2 * eps))
    return grad


def value_grad_list(f: Callable[[list[Value]], Value], xs: Sequence[float]) -> list[float]:
    """The gradient of ``f`` at ``xs`` by :class:`~nblib.autograd.Value` backpropagation."""
    inputs = [Value(float(x)) for x in xs]
    out = f(inputs)
    if not isinstance(out, Value):
        raise TypeError(f"f must return a Value, got {type(out).__name__}")
    out.backward()
    return [v.grad for v in inputs]


def check_value_grad(f: Callable[[list[Value]], Value], xs: Sequence[float],
                     eps: float = 1e-6) -> float:
    """Max relative error between backprop through ``f`` (a Value graph) and finite differences.

    ``f`` takes a list of Values and returns a Value; it is evaluated on fresh Values each time.
    """
    numeric = numerical_grad_list(lambda zs: f([Value(z) for z in zs]), xs, eps)
    return max_rel_error(value_grad_list(f, xs), numeric)
