"""Activations and losses from scratch, with the names and semantics of ``torch.nn.functional``.

Activations

A neuron computes a weighted sum of its inputs plus a bias and passes it through an activation
function ``f``::

    z = w . x + b          # pre-activation, a number per input row
    a = f(z)               # activation (the neuron's output)

Activations (each mirrors the ``torch.nn.functional`` function of the same name, written with
elementary tensor operations) and their derivatives ``f'(z)`` (``*_grad``):

===============  ===========================================  =====================================
function         formula                                      paper
===============  ===========================================  =====================================
``step``         1 if z >= 0 else 0 (``torch.heaviside``)      McCulloch & Pitts 1943
``sigmoid``      1 / (1 + exp(-z))                            (logistic function)
``tanh``         (e^z - e^-z) / (e^z + e^-z)                  LeCun et al. 1998 (zero-centred)
``relu``         max(0, z)                                    Fukushima 1969; Nair & Hinton 2010
``leaky_relu``   z if z > 0 else negative_slope * z           Maas, Hannun & Ng 2013
``gelu``         z * Phi(z), Phi the standard normal CDF      Hendrycks & Gimpel 2016
===============  ===========================================  =====================================

Losses

* ``mse_loss(input, target)``: mean squared error, for regression.
* ``softmax(x, dim)`` and ``log_softmax(x, dim)``: scores (logits) to probabilities, computed
  with the log-sum-exp trick so that logits of size 1000 neither overflow nor give ``nan``.
* ``cross_entropy(logits, target)``: the negative log-likelihood of the true class under
  ``softmax(logits)``, for classification; ``target`` holds class indices (int64).
* ``binary_cross_entropy_with_logits(input, target)``: the two-class case with one logit.

Every function is written with elementary tensor operations (``exp``, ``log``, ``max``, sums,
indexing), never by calling the function it mirrors, so autograd differentiates exactly the
formula shown; ``tests/test_losses.py`` compares each with PyTorch, forward and gradient.

The stable form. ``log sum_j exp(z_j)`` overflows as soon as some ``z_j > 709`` (float64) or
``> 88`` (float32). Subtracting the maximum ``m = max_j z_j`` first changes nothing mathematically,

    log sum_j exp(z_j) = m + log sum_j exp(z_j - m),

and makes every exponent ``<= 0`` (no overflow) with at least one term equal to 1 (no ``log 0``).

References:
    - Bridle (1990), "Probabilistic interpretation of feedforward classification network
      outputs": the softmax and the cross-entropy (maximum likelihood) view of classification.
    - Goodfellow, Bengio & Courville (2016), *Deep Learning*, sections 4.1 (softmax overflow and
      underflow) and 6.2.2 (why cross-entropy rather than squared error with saturating outputs).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "step", "sigmoid", "tanh", "relu", "leaky_relu", "gelu",
    "step_grad", "sigmoid_grad", "tanh_grad", "relu_grad", "leaky_relu_grad", "gelu_grad",
    "ACTIVATIONS",
    "mse_loss", "softmax", "log_softmax", "logsumexp", "cross_entropy",
    "binary_cross_entropy_with_logits",
]

_SQRT_2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_TANH_COEF = 0.044715  # Hendrycks & Gimpel's cubic coefficient of the tanh approximation


def _check_float(x, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} expects a torch.Tensor, got {type(x).__name__}; "
                        f"wrap it with torch.tensor(...)")
    if not x.dtype.is_floating_point:
        raise TypeError(f"{name} expects a floating-point tensor, got dtype {x.dtype}; "
                        f"convert it with x.float() or x.double()")
    return x


def _check_slope(negative_slope) -> float:
    if isinstance(negative_slope, bool) or not isinstance(negative_slope, (int, float)):
        raise TypeError(f"negative_slope must be a number, got {type(negative_slope).__name__} "
                        f"({negative_slope!r})")
    return float(negative_slope)


def _check_approximate(approximate) -> str:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' (exact, with erf) or 'tanh', got {approximate!r}")
    return approximate


# ---------------------------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------------------------
def step(x: torch.Tensor) -> torch.Tensor:
    """Heaviside step, the threshold unit of McCulloch & Pitts (1943): 1 where x >= 0, else 0.

    Same values as ``torch.heaviside(x, torch.tensor(1.))`` (the value at exactly 0 is a
    convention; we take 1). NaN stays NaN.
    """
    _check_float(x, "step")
    out = (x >= 0).to(x.dtype)
    return torch.where(torch.isnan(x), x, out)


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Logistic sigmoid 1 / (1 + exp(-x)), computed without overflow for any |x|.

    ``exp(-x)`` overflows for x below about -710 (float64) or -88 (float32). With
    ``e = exp(-|x|)`` (always in (0, 1]) the two branches ``1 / (1 + e)`` for x >= 0 and
    ``e / (1 + e)`` for x < 0 are equal to the formula and never overflow.
    """
    _check_float(x, "sigmoid")
    # |x| written as where(x >= 0, x, -x), not x.abs(): autograd gives abs a slope of 0 at
    # x = 0, which would make the gradient of sigmoid at 0 come out as 0 instead of 1/4.
    e = torch.exp(-torch.where(x >= 0, x, -x))
    return torch.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def tanh(x: torch.Tensor) -> torch.Tensor:
    """Hyperbolic tangent (e^x - e^-x) / (e^x + e^-x) = 2 sigmoid(2x) - 1, stable for any |x|.

    With ``m = expm1(-2|x|)`` (in (-1, 0]): tanh|x| = -m / (2 + m). ``expm1`` keeps full
    relative precision near 0, where ``1 - exp(-2|x|)`` would cancel.
    """
    _check_float(x, "tanh")
    # sign and |x| as s and s * x: with sign(x) and x.abs(), whose slopes autograd takes to be
    # 0 at x = 0, the gradient of tanh at 0 would come out as 0 instead of 1.
    s = torch.where(x >= 0, 1.0, -1.0).to(x.dtype)
    m = torch.expm1(-2.0 * (s * x))
    return torch.where(torch.isnan(x), x, s * (-m / (2.0 + m)))


def relu(x: torch.Tensor) -> torch.Tensor:
    """Rectified linear unit max(0, x) (Fukushima 1969; Nair & Hinton 2010). NaN stays NaN."""
    _check_float(x, "relu")
    return torch.where(x > 0, x, torch.where(torch.isnan(x), x, torch.zeros_like(x)))


def leaky_relu(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    """Leaky ReLU: x for x > 0, ``negative_slope * x`` otherwise (Maas, Hannun & Ng 2013)."""
    _check_float(x, "leaky_relu")
    slope = _check_slope(negative_slope)
    return torch.where(x > 0, x, slope * x)


def gelu(x: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    """Gaussian error linear unit x * Phi(x) (Hendrycks & Gimpel 2016).

    ``approximate='none'``: Phi(x) = (1 + erf(x / sqrt 2)) / 2, the exact standard normal CDF.
    ``approximate='tanh'``: Phi(x) ~ (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2, the
    paper's cheaper approximation (used by GPT-2 and BERT); it differs from the exact GELU
    by less than 1e-3.
    """
    _check_float(x, "gelu")
    if _check_approximate(approximate) == "tanh":
        inner = _SQRT_2_OVER_PI * (x + _GELU_TANH_COEF * x**3)
        return 0.5 * x * (1.0 + tanh(inner))
    return 0.5 * x * (1.0 + torch.erf(x / _SQRT_2))


# ---------------------------------------------------------------------------------------------
# Derivatives f'(x), elementwise
# ---------------------------------------------------------------------------------------------
def step_grad(x: torch.Tensor) -> torch.Tensor:
    """Derivative of ``step``: 0 wherever it exists (everywhere except at x = 0, where the step
    jumps; we return 0 there too). This is why the perceptron cannot be trained by gradient
    descent through its output: the gradient carries no signal. (``torch.heaviside`` has no
    autograd formula at all.)"""
    _check_float(x, "step_grad")
    return torch.where(torch.isnan(x), x, torch.zeros_like(x))


def sigmoid_grad(x: torch.Tensor) -> torch.Tensor:
    """sigma'(x) = sigma(x) (1 - sigma(x)); at most 1/4 (at x = 0), tends to 0 as |x| grows.

    Computed as e / (1 + e)^2 with e = exp(-|x|) (the derivative is even), which keeps full
    relative precision in both tails, where 1 - sigma(x) would round to 0 for large x.
    """
    _check_float(x, "sigmoid_grad")
    e = torch.exp(-x.abs())
    return e / (1.0 + e) ** 2


def tanh_grad(x: torch.Tensor) -> torch.Tensor:
    """tanh'(x) = 1 - tanh(x)^2; at most 1 (at x = 0), tends to 0 as |x| grows."""
    _check_float(x, "tanh_grad")
    t = tanh(x)
    return 1.0 - t * t


def relu_grad(x: torch.Tensor) -> torch.Tensor:
    """ReLU'(x) = 1 for x > 0, 0 for x < 0. At x = 0 ReLU has no derivative; we return 0, the
    value PyTorch's autograd uses (any value in [0, 1] is a valid subgradient)."""
    _check_float(x, "relu_grad")
    return torch.where(torch.isnan(x), x, (x > 0).to(x.dtype))


def leaky_relu_grad(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    """1 for x > 0, ``negative_slope`` for x <= 0 (PyTorch's convention at x = 0)."""
    _check_float(x, "leaky_relu_grad")
    slope = _check_slope(negative_slope)
    return torch.where(torch.isnan(x), x, torch.where(x > 0, torch.ones_like(x), torch.full_like(x, slope)))


def gelu_grad(x: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    """Derivative of ``gelu``.

    Exact: d/dx [x Phi(x)] = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
    Tanh: with u = sqrt(2/pi) (x + 0.044715 x^3) and t = tanh(u),
    0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2).
    """
    _check_float(x, "gelu_grad")
    if _check_approximate(approximate) == "tanh":
        u = _SQRT_2_OVER_PI * (x + _GELU_TANH_COEF * x**3)
        t = tanh(u)
        du = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_TANH_COEF * x * x)
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du
    cdf = 0.5 * (1.0 + torch.erf(x / _SQRT_2))
    pdf = torch.exp(-0.5 * x * x) * _INV_SQRT_2PI
    return cdf + x * pdf


# name -> (activation, derivative); the chapter loops over this to plot and check them all.
ACTIVATIONS = {
    "step": (step, step_grad),
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "relu": (relu, relu_grad),
    "leaky_relu": (leaky_relu, leaky_relu_grad),
    "gelu": (gelu, gelu_grad),
}


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------



_REDUCTIONS = ("mean", "sum", "none")


def _check_tensor(name: str, x) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")


def _check_float_named(name: str, x: Tensor) -> None:
    _check_tensor(name, x)
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor (float32 or float64), got {x.dtype}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.sum() / loss.numel()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error ``mean((input - target)^2)``; ``input`` and ``target`` have one shape.

    (``torch.nn.functional.mse_loss`` broadcasts mismatched shapes with only a warning, a classic
    silent bug: predictions (N, 1) against targets (N,) give an (N, N) matrix. Here it is an error.)
    """
    _check_float_named("input", input)
    _check_float_named("target", target)
    _check_reduction(reduction)
    if input.shape != target.shape:
        raise ValueError(f"mse_loss needs input and target of the same shape, got input "
                         f"{tuple(input.shape)} and target {tuple(target.shape)} "
                         f"(reshape one, e.g. pred.squeeze(-1), instead of relying on broadcasting)")
    diff = input - target
    return _reduce(diff * diff, reduction)


def _check_dim(x: Tensor, dim: int) -> int:
    if x.dim() == 0:
        raise ValueError("softmax needs at least one dimension, got a 0-d tensor")
    if not -x.dim() <= dim < x.dim():
        raise IndexError(f"dim {dim} is out of range for a tensor of shape {tuple(x.shape)}")
    return dim % x.dim()


def logsumexp(x: Tensor, dim: int = -1, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(x), dim))`` without overflow: ``m + log(sum(exp(x - m)))``, ``m = max(x)``."""
    _check_float_named("x", x)
    dim = _check_dim(x, dim)
    m = x.amax(dim=dim, keepdim=True).detach()  # a constant shift: its gradient cancels exactly
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))  # all -inf row: keep -inf, no nan
    out = m + (x - m).exp().sum(dim=dim, keepdim=True).log()
    return out if keepdim else out.squeeze(dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """``log softmax(x)`` along ``dim``: ``x - logsumexp(x)``, finite even for logits of 1e3.

    Computed as ``(x - m) - log(sum(exp(x - m)))`` rather than ``x - (m + log(...))``: at
    ``x ~ 1000`` in float32 the sum ``m + log(...)`` would round to a multiple of 6e-5.
    """
    _check_float_named("x", x)
    dim = _check_dim(x, dim)
    m = x.amax(dim=dim, keepdim=True).detach()
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    shifted = x - m                                            # every entry <= 0, the max is 0
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """``exp(x_i) / sum_j exp(x_j)`` along ``dim``, computed as ``exp(x - max)`` / its sum."""
    _check_float_named("x", x)
    dim = _check_dim(x, dim)
    e = (x - x.amax(dim=dim, keepdim=True).detach()).exp()   # every exponent <= 0
    return e / e.sum(dim=dim, keepdim=True)


def cross_entropy(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Cross-entropy of logits ``input`` (N, C) against class indices ``target`` (N,) int64.

    ``loss_n = -log softmax(input_n)[target_n] = logsumexp(input_n) - input_n[target_n]``.
    Its gradient with respect to the logits is ``softmax(input_n) - onehot(target_n)`` (divided
    by N for ``reduction='mean'``): large whenever the model is confidently wrong.
    """
    _check_float_named("input (the logits)", input)
    _check_tensor("target", target)
    _check_reduction(reduction)
    if input.dim() != 2:
        raise ValueError(f"cross_entropy expects logits of shape (N, C), got {tuple(input.shape)}"
                         + (" (a single example? use input.unsqueeze(0))" if input.dim() == 1 else ""))
    n, c = input.shape
    if target.dtype != torch.int64:
        hint = (" (class indices are integers: use target.long(); for probabilities per class, "
                "this function takes indices, not a (N, C) float tensor)"
                if target.is_floating_point() else " (use target.long())")
        raise TypeError(f"cross_entropy expects target of dtype torch.int64 (class indices), "
                        f"got {target.dtype}{hint}")
    if target.shape != (n,):
        raise ValueError(f"cross_entropy expects target of shape ({n},), one class index per row of "
                         f"the logits {tuple(input.shape)}, got {tuple(target.shape)}")
    if n > 0:
        lo, hi = int(target.min()), int(target.max())
        if lo < 0 or hi >= c:
            bad = lo if lo < 0 else hi
            raise IndexError(f"cross_entropy: class index {bad} is out of range; with C = {c} "
                             f"classes the target must lie in [0, {c - 1}]")
    logp = log_softmax(input, dim=1)                                   # (N, C)
    loss = -logp[torch.arange(n, device=input.device), target]         # (N,): pick the true class
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of a logit ``x`` against a target ``y`` in [0, 1] (same shape).

    ``-[y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))]`` rewritten so that no ``exp`` overflows
    and no ``log 0`` appears: ``max(x, 0) - x y + log(1 + exp(-|x|))``.
    """
    _check_float_named("input (the logits)", input)
    _check_tensor("target", target)
    _check_reduction(reduction)
    if not target.is_floating_point():
        raise TypeError(f"binary_cross_entropy_with_logits expects a floating-point target in [0, 1] "
                        f"(the probability of class 1), got {target.dtype} (use target.float())")
    if input.shape != target.shape:
        raise ValueError(f"binary_cross_entropy_with_logits needs input and target of the same shape, "
                         f"got input {tuple(input.shape)} and target {tuple(target.shape)}")
    # max(x, 0) and |x| via where(x >= 0, ...), not clamp/abs: their slopes at x = 0 (1 and 0 in
    # autograd) would give the gradient 1 - y at a logit of exactly 0 instead of sigmoid(0) - y.
    pos = input >= 0
    loss = torch.where(pos, input, 0.0) - input * target + (-torch.where(pos, input, -input)).exp().log1p()
    return _reduce(loss, reduction)
