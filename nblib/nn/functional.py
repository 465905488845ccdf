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
formula shown; ``tests/lib/test_functional.py`` compares each with PyTorch, forward and gradient.

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

from nblib import validate

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
_GELU_APPROXIMATIONS = {"none": "exact, with erf", "tanh": ""}
_REDUCTIONS = ("mean", "sum", "none")
_NO_BROADCAST = (" (torch would broadcast them, with only a warning; reshape one, e.g. "
                 "pred.squeeze(-1))")


# ---------------------------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------------------------
def step(x: torch.Tensor) -> torch.Tensor:
    """Heaviside step, the threshold unit of McCulloch & Pitts (1943): 1 where x >= 0, else 0.

    Same values as ``torch.heaviside(x, torch.tensor(1.))`` (the value at exactly 0 is a
    convention; we take 1). NaN stays NaN.
    """
    validate.tensor("step input", x, floating=True)
    out = (x >= 0).to(x.dtype)
    return torch.where(torch.isnan(x), x, out)


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Logistic sigmoid 1 / (1 + exp(-x)), without overflow for any |x|.

    ``exp(-x)`` overflows for x below about -710 (float64) or -88 (float32).
    With ``e = exp(-|x|)`` (always in (0, 1]) the two branches ``1 / (1 + e)``
    for x >= 0 and ``e / (1 + e)`` for x < 0 are equal to the formula and
    never overflow.
    """
    validate.tensor("sigmoid input", x, floating=True)
    # |x| as where(x >= 0, x, -x), not x.abs(): autograd gives abs a slope of
    # 0 at x = 0, and the gradient of sigmoid at 0 would come out 0, not 1/4.
    e = torch.exp(-torch.where(x >= 0, x, -x))        # exp(-|x|), in (0, 1]
    return torch.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def tanh(x: torch.Tensor) -> torch.Tensor:
    """Hyperbolic tangent (e^x - e^-x) / (e^x + e^-x) = 2 sigmoid(2x) - 1, stable for any |x|.

    With ``m = expm1(-2|x|)`` (in (-1, 0]): tanh|x| = -m / (2 + m). ``expm1`` keeps full
    relative precision near 0, where ``1 - exp(-2|x|)`` would cancel.
    """
    validate.tensor("tanh input", x, floating=True)
    # sign and |x| as s and s * x: with sign(x) and x.abs(), whose slopes autograd takes to be
    # 0 at x = 0, the gradient of tanh at 0 would come out as 0 instead of 1.
    s = torch.where(x >= 0, 1.0, -1.0).to(x.dtype)
    m = torch.expm1(-2.0 * (s * x))
    return torch.where(torch.isnan(x), x, s * (-m / (2.0 + m)))


def relu(x: torch.Tensor) -> torch.Tensor:
    """Rectified linear unit max(0, x) (Fukushima 1969; Nair & Hinton 2010). NaN stays NaN."""
    validate.tensor("relu input", x, floating=True)
    return torch.where(x > 0, x, torch.where(torch.isnan(x), x, torch.zeros_like(x)))


def leaky_relu(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    """Leaky ReLU: x for x > 0, ``negative_slope * x`` otherwise (Maas, Hannun & Ng 2013)."""
    validate.tensor("leaky_relu input", x, floating=True)
    validate.number("negative_slope", negative_slope)
    return torch.where(x > 0, x, negative_slope * x)


def gelu(x: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    """Gaussian error linear unit x * Phi(x) (Hendrycks & Gimpel 2016).

    ``approximate='none'``: Phi(x) = (1 + erf(x / sqrt 2)) / 2, the exact standard normal CDF.
    ``approximate='tanh'``: Phi(x) ~ (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2, the
    paper's cheaper approximation (used by GPT-2 and BERT); it differs from the exact GELU
    by less than 1e-3.
    """
    validate.tensor("gelu input", x, floating=True)
    if validate.choice("approximate", approximate, _GELU_APPROXIMATIONS) == "tanh":
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
    validate.tensor("step_grad input", x, floating=True)
    return torch.where(torch.isnan(x), x, torch.zeros_like(x))


def sigmoid_grad(x: torch.Tensor) -> torch.Tensor:
    """sigma'(x) = sigma(x) (1 - sigma(x)); at most 1/4 (at x = 0), tends to 0 as |x| grows.

    Computed as e / (1 + e)^2 with e = exp(-|x|) (the derivative is even), which keeps full
    relative precision in both tails, where 1 - sigma(x) would round to 0 for large x.
    """
    validate.tensor("sigmoid_grad input", x, floating=True)
    e = torch.exp(-x.abs())
    return e / (1.0 + e) ** 2


def tanh_grad(x: torch.Tensor) -> torch.Tensor:
    """tanh'(x) = 1 - tanh(x)^2; at most 1 (at x = 0), tends to 0 as |x| grows."""
    validate.tensor("tanh_grad input", x, floating=True)
    t = tanh(x)
    return 1.0 - t * t


def relu_grad(x: torch.Tensor) -> torch.Tensor:
    """ReLU'(x) = 1 for x > 0, 0 for x < 0. At x = 0 ReLU has no derivative; we return 0, the
    value PyTorch's autograd uses (any value in [0, 1] is a valid subgradient)."""
    validate.tensor("relu_grad input", x, floating=True)
    return torch.where(torch.isnan(x), x, (x > 0).to(x.dtype))


def leaky_relu_grad(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    """1 for x > 0, ``negative_slope`` for x <= 0 (PyTorch's convention at x = 0)."""
    validate.tensor("leaky_relu_grad input", x, floating=True)
    validate.number("negative_slope", negative_slope)
    slope = torch.where(x > 0, torch.ones_like(x), torch.full_like(x, negative_slope))
    return torch.where(torch.isnan(x), x, slope)


def gelu_grad(x: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    """Derivative of ``gelu``.

    Exact: d/dx [x Phi(x)] = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
    Tanh: with u = sqrt(2/pi) (x + 0.044715 x^3) and t = tanh(u),
    0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2).
    """
    validate.tensor("gelu_grad input", x, floating=True)
    if validate.choice("approximate", approximate, _GELU_APPROXIMATIONS) == "tanh":
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
def _reduce(loss: Tensor, reduction: str) -> Tensor:
    """Apply ``reduction`` ('mean', 'sum' or 'none') to per-element losses."""
    if validate.choice("reduction", reduction, _REDUCTIONS) == "mean":
        return loss.sum() / loss.numel()
    return loss.sum() if reduction == "sum" else loss


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error ``mean((input - target)^2)``, both of one shape.

    (``torch.nn.functional.mse_loss`` broadcasts mismatched shapes with only a
    warning, a classic silent bug: predictions (N, 1) against targets (N,)
    give an (N, N) matrix. Here it is an error.)
    """
    validate.tensor("mse_loss input", input, floating=True)
    validate.tensor("mse_loss target", target, floating=True)
    validate.same_shape("input and target", input, target, _NO_BROADCAST)
    return _reduce((input - target) ** 2, reduction)


def logsumexp(x: Tensor, dim: int = -1, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(x), dim))`` without overflow: ``m + log(sum(exp(x - m)))``, m = max x."""
    validate.tensor("logsumexp input", x, floating=True)
    dim = validate.dim_index("logsumexp dim", dim, x)
    m = x.amax(dim=dim, keepdim=True).detach()  # a constant shift: its gradient cancels exactly
    m = torch.where(torch.isfinite(m), m, 0.0)  # an all -inf row: keep -inf, no nan
    out = m + (x - m).exp().sum(dim=dim, keepdim=True).log()
    return out if keepdim else out.squeeze(dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """``log softmax(x)`` along ``dim``: ``x - logsumexp(x)``, finite for any x.

    Computed as ``(x - m) - log(sum(exp(x - m)))``, ``m = max(x)``, rather
    than ``x - (m + log(...))``: at ``x ~ 1000`` in float32 the sum
    ``m + log(...)`` would round to a multiple of 6e-5.
    """
    validate.tensor("log_softmax input", x, floating=True)
    dim = validate.dim_index("log_softmax dim", dim, x)
    m = x.amax(dim=dim, keepdim=True).detach()     # m = max_j x_j, a constant
    m = torch.where(torch.isfinite(m), m, 0.0)     # an all -inf row: keep -inf
    shifted = x - m                                # every entry <= 0, the max 0
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """``exp(x_i) / sum_j exp(x_j)`` along ``dim``, computed as ``exp(x - max)`` / its sum."""
    validate.tensor("softmax input", x, floating=True)
    dim = validate.dim_index("softmax dim", dim, x)
    e = (x - x.amax(dim=dim, keepdim=True).detach()).exp()   # every exponent <= 0
    return e / e.sum(dim=dim, keepdim=True)


def cross_entropy(input: Tensor, target: Tensor,
                  reduction: str = "mean") -> Tensor:
    """Cross-entropy of logits ``input`` (N, C) against class indices
    ``target`` (N,) int64 (Bridle 1990)::

        loss_n = -log softmax(input_n)[target_n]
               = logsumexp(input_n) - input_n[target_n]

    Its gradient with respect to the logits is ``softmax(input_n) -
    onehot(target_n)`` (divided by N for ``reduction='mean'``): large whenever
    the model is confidently wrong.
    """
    validate.tensor("logits", input, floating=True, shape=("N", "C"))
    n, c = input.shape
    validate.class_indices("target", target, n, c)
    logp = log_softmax(input, dim=1)                             # (N, C)
    loss = -logp[torch.arange(n, device=input.device), target]   # (N,)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of a logit ``x`` against a target ``y`` in [0, 1] (same shape).

    ``-[y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))]`` rewritten so that no ``exp`` overflows
    and no ``log 0`` appears: ``max(x, 0) - x y + log(1 + exp(-|x|))``.
    """
    validate.tensor("logits", input, floating=True)
    validate.tensor("target", target, floating=True,
                    hint=" (the probability of class 1, in [0, 1]); use target.float()")
    validate.same_shape("logits and target", input, target, _NO_BROADCAST)
    # max(x, 0) and |x| via where(x >= 0, ...), not clamp/abs: their slopes at x = 0 (1 and 0 in
    # autograd) would give the gradient 1 - y at a logit of exactly 0 instead of sigmoid(0) - y.
    pos = input >= 0
    relu_x, abs_x = torch.where(pos, input, 0.0), torch.where(pos, input, -input)
    loss = relu_x - input * target + (-abs_x).exp().log1p()
    return _reduce(loss, reduction)
