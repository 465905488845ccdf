"""Loss functions from scratch, with the names and semantics of ``torch.nn.functional``.

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

import torch
from torch import Tensor

__all__ = ["mse_loss", "softmax", "log_softmax", "logsumexp", "cross_entropy",
           "binary_cross_entropy_with_logits"]

_REDUCTIONS = ("mean", "sum", "none")


def _check_tensor(name: str, x) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")


def _check_float(name: str, x: Tensor) -> None:
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
    _check_float("input", input)
    _check_float("target", target)
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
    _check_float("x", x)
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
    _check_float("x", x)
    dim = _check_dim(x, dim)
    m = x.amax(dim=dim, keepdim=True).detach()
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    shifted = x - m                                            # every entry <= 0, the max is 0
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """``exp(x_i) / sum_j exp(x_j)`` along ``dim``, computed as ``exp(x - max)`` / its sum."""
    _check_float("x", x)
    dim = _check_dim(x, dim)
    e = (x - x.amax(dim=dim, keepdim=True).detach()).exp()   # every exponent <= 0
    return e / e.sum(dim=dim, keepdim=True)


def cross_entropy(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Cross-entropy of logits ``input`` (N, C) against class indices ``target`` (N,) int64.

    ``loss_n = -log softmax(input_n)[target_n] = logsumexp(input_n) - input_n[target_n]``.
    Its gradient with respect to the logits is ``softmax(input_n) - onehot(target_n)`` (divided
    by N for ``reduction='mean'``): large whenever the model is confidently wrong.
    """
    _check_float("input (the logits)", input)
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
    _check_float("input (the logits)", input)
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
