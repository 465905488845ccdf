"""Optimizers from scratch, with the interface and the exact update formulas of ``torch.optim``.

Every optimizer is a subclass of :class:`Optimizer`, which holds

* ``param_groups``: a list of dicts, each ``{"params": [tensors], "lr": ..., ...}``, so that
  different parameters can use different hyperparameters (and a scheduler can change ``lr``);
* ``state``: a dict keyed by parameter tensor with per-parameter buffers (momentum, moments);

and a subclass writes ``_update(p, grad, state, group)``, the maths of one step for one tensor
(and ``_init_state(p, group)``, its buffers before the first step). ``step()`` runs under
``torch.no_grad()`` and skips parameters whose ``.grad`` is None. Nothing in a step reads a
tensor's value on the host (the step count is a Python int), so a step on a GPU never waits
for the GPU.

References:
    - Polyak (1964), "Some methods of speeding up the convergence of iteration methods":
      the heavy-ball (momentum) method.
    - Nesterov (1983), "A method for solving the convex programming problem with convergence
      rate O(1/k^2)"; Sutskever, Martens, Dahl & Hinton (2013) for its deep-learning form.
    - Tieleman & Hinton (2012), Neural Networks for Machine Learning (Coursera), lecture 6.5: RMSprop.
      Graves (2013), "Generating sequences with recurrent neural networks": the centered variant.
    - Kingma & Ba (2015), "Adam: a method for stochastic optimization".
    - Reddi, Kale & Kumar (2018), "On the convergence of Adam and beyond": AMSGrad.
    - Loshchilov & Hutter (2019), "Decoupled weight decay regularization": AdamW.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable

import torch
from torch import Tensor

from nblib import validate

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW"]


def _zeros_like(p: Tensor) -> Tensor:
    return torch.zeros_like(p, memory_format=torch.preserve_format)


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad`` and ``step``.

    Args:
        params: an iterable of tensors that require grad, or of dicts ``{"params": ..., **options}``
            (one dict per parameter group, options overriding ``defaults``), as in torch.
        defaults: the default hyperparameters of every group.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], defaults: dict[str, Any]):
        if isinstance(params, Tensor):
            raise TypeError(
                "params must be an iterable of tensors or of dicts, got a single Tensor "
                "(wrap it in a list: [p])"
            )
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters, filling in missing options from ``defaults``."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("params must be an ordered collection (a set's order changes between runs)")
        group["params"] = params = list(params) if params is not None else []
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"params[{i}] must be a torch.Tensor, got {type(p).__name__}: "
                                f"{p!r} (pass model.parameters())")
            if not p.requires_grad:
                raise ValueError(f"params[{i}] (shape {tuple(p.shape)}) does not require grad")
            if not p.is_leaf:
                raise ValueError(f"params[{i}] (shape {tuple(p.shape)}) is not a leaf tensor: "
                                 "can't optimize a tensor computed from others")
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self._check_group(group)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params) or len({id(p) for p in params}) != len(params):
            raise ValueError("some parameters appear more than once (in one or several groups)")
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate a group's hyperparameters (overridden by subclasses)."""

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``p.grad = None`` (default, saves memory) or fill them with 0."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad.detach_()
                    else:
                        p.grad.requires_grad_(False)
                    p.grad.zero_()

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        """Update every parameter that has a gradient; ``closure`` re-evaluates the loss if given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:      # not used in this forward pass: leave it (and its state) alone
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
                if p not in self.state:
                    self.state[p] = self._init_state(p, group)
                self._update(p, p.grad, self.state[p], group)
        return loss

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        """The per-parameter buffers before the first step (overridden by subclasses)."""
        return {}

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            opts = ", ".join(f"{k}={v}" for k, v in group.items() if k != "params")
            lines.append(f"  group {i}: {len(group['params'])} tensors, {opts}")
        return "\n".join(lines + [")"])


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with momentum (Polyak 1964) or Nesterov (1983).

    With ``g = grad + weight_decay * p`` (L2 penalty folded into the gradient), torch's update is

        b <- g                               on the first step (no dampening applied)
        b <- momentum * b + (1 - dampening) * g   afterwards
        p <- p - lr * b                      (heavy ball)
        p <- p - lr * (g + momentum * b)     (nesterov=True)

    ``b`` is the momentum buffer, the velocity b_t of chapter 02 and of torch's documentation,
    and ``momentum`` its coefficient mu. Textbooks (Polyak; Sutskever et al. 2013) write the
    velocity with the learning rate inside, ``u <- mu u - lr g; p <- p + u``. The two are
    identical while ``lr`` is constant; torch's form differs when ``lr`` changes (a schedule
    rescales the whole accumulated velocity at once).
    The Nesterov line is the "look-ahead" gradient rewritten so that only the current
    parameters are needed (Sutskever et al. 2013, Bengio et al. 2013).

    "Mini-batch SGD" is this same optimizer fed the gradient of a mini-batch loss at each step;
    full-batch gradient descent is the case where the batch is the whole dataset.
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov)
        super().__init__(params, defaults)

    def _check_group(self, group):
        validate.number("lr", group["lr"], ge=0)
        validate.number("momentum", group["momentum"], ge=0)
        validate.number("dampening", group["dampening"], ge=0, le=1)
        validate.number("weight_decay", group["weight_decay"], ge=0)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"nesterov=True requires momentum > 0 and dampening = 0, got "
                f"momentum={group['momentum']!r}, dampening={group['dampening']!r}"
            )

    def _update(self, p, grad, state, group):
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        if wd != 0:
            grad = grad.add(p, alpha=wd)                    # g = grad + wd p
        if mu != 0:
            b = state.get("momentum_buffer")
            if b is None:                                   # first step: b = g
                b = state["momentum_buffer"] = grad.detach().clone()
            else:                                           # b = mu b + (1-d) g
                b.mul_(mu).add_(grad, alpha=1 - group["dampening"])
            grad = grad.add(b, alpha=mu) if group["nesterov"] else b
        p.add_(grad, alpha=-lr)                             # p = p - lr step


class RMSprop(Optimizer):
    r"""RMSprop (Tieleman & Hinton 2012, lecture 6.5): divide the gradient by a running RMS of its recent values.

    With ``g = grad + weight_decay * p``:

        v <- alpha * v + (1 - alpha) * g^2             (v starts at 0)
        centered:  m <- alpha * m + (1 - alpha) * g;  denom = sqrt(v - m^2) + eps   (Graves 2013)
        else:      denom = sqrt(v) + eps
        momentum > 0:  b <- momentum * b + g / denom;  p <- p - lr * b
        else:          p <- p - lr * g / denom

    ``v`` is the running average of squared gradients (v_t in chapter 02, as in torch's
    documentation) and ``alpha`` its decay rate (beta in chapter 02, which keeps alpha for the
    leaky ReLU's slope). Differences from other write-ups: ``eps`` is added *outside* the square
    root (TensorFlow/Keras add it inside), ``v`` starts at 0 with no bias correction (so early
    steps are large), and momentum is applied to the already normalised step.
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered)
        super().__init__(params, defaults)

    def _check_group(self, group):
        validate.number("lr", group["lr"], ge=0)
        validate.number("alpha", group["alpha"], ge=0, le=1)
        validate.number("eps", group["eps"], ge=0)
        validate.number("weight_decay", group["weight_decay"], ge=0)
        validate.number("momentum", group["momentum"], ge=0)

    def _init_state(self, p, group):
        state = {"step": 0, "square_avg": _zeros_like(p)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = _zeros_like(p)
        if group["centered"]:
            state["grad_avg"] = _zeros_like(p)
        return state

    def _update(self, p, grad, state, group):
        lr, eps, mu = group["lr"], group["eps"], group["momentum"]
        alpha, wd = group["alpha"], group["weight_decay"]
        state["step"] += 1
        if wd != 0:
            grad = grad.add(p, alpha=wd)                   # g = grad + wd p
        v = state["square_avg"]                            # v = a v + (1-a) g^2
        v.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
        if group["centered"]:                              # m = a m + (1-a) g
            m = state["grad_avg"].lerp_(grad, 1 - alpha)
            v = v.addcmul(m, m, value=-1)                  # v - m^2 (a copy)
        denom = v.sqrt().add_(eps)                         # sqrt(v) + eps
        if mu > 0:
            b = state["momentum_buffer"]
            b.mul_(mu).addcdiv_(grad, denom)               # b = mu b + g/denom
            p.add_(b, alpha=-lr)                           # p = p - lr b
        else:
            p.addcdiv_(grad, denom, value=-lr)             # p = p - lr g/denom


class Adam(Optimizer):
    r"""Adam (Kingma & Ba 2015): momentum on the gradient, RMSprop-style scaling, bias correction.

    With ``g = grad + weight_decay * p`` (coupled L2; see :class:`AdamW` for the decoupled form)
    and ``t`` the step count of this parameter:

        m <- beta1 * m + (1 - beta1) * g          first moment (mean) estimate
        v <- beta2 * v + (1 - beta2) * g^2        second moment (uncentered variance) estimate
        m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)     bias correction
        p <- p - lr * m_hat / (sqrt(v_hat) + eps)

    Bias correction: ``m`` and ``v`` start at 0, so after t steps they are shrunk towards 0 by a
    factor ``1 - beta^t``; dividing by it makes them unbiased (it matters for the first ~1/(1-beta2)
    steps, ~1000 with the default beta2). Torch computes exactly Algorithm 1 of the paper
    (``eps`` added after correcting ``sqrt(v)``), not the paper's "more efficient" rewrite where
    ``eps`` sits inside the uncorrected denominator.

    ``amsgrad=True`` (Reddi et al. 2018) divides by the running maximum of ``v`` instead of ``v``
    itself; torch still applies the bias correction ``1 - beta2^t`` to that maximum.
    """

    _decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        super().__init__(params, defaults)

    def _check_group(self, group):
        validate.number("lr", group["lr"], ge=0)
        validate.number("eps", group["eps"], ge=0)
        validate.number("weight_decay", group["weight_decay"], ge=0)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        validate.number("beta1 (betas[0])", betas[0], ge=0, lt=1)
        validate.number("beta2 (betas[1])", betas[1], ge=0, lt=1)

    def _init_state(self, p, group):
        state = {"step": 0, "exp_avg": _zeros_like(p), "exp_avg_sq": _zeros_like(p)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = _zeros_like(p)
        return state

    def _update(self, p, grad, state, group):
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        state["step"] += 1
        t = state["step"]                               # a Python int: no sync
        if wd != 0 and self._decoupled:
            p.mul_(1 - lr * wd)                         # AdamW: p = (1-lr wd) p
        elif wd != 0:
            grad = grad.add(p, alpha=wd)                # Adam: g = grad + wd p
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.lerp_(grad, 1 - beta1)                        # m = b1 m + (1-b1) g
        v.mul_(beta2)                                   # v = b2 v + (1-b2) g^2
        v.addcmul_(grad, grad, value=1 - beta2)
        if group["amsgrad"]:
            v_max = state["max_exp_avg_sq"]
            v = torch.maximum(v_max, v, out=v_max)      # v = max(v_max, v)
        step_size = lr / (1 - beta1**t)                 # lr m_hat = step_size m
        denom = v.sqrt() / math.sqrt(1 - beta2**t) + eps  # sqrt(v_hat) + eps
        p.addcdiv_(m, denom, value=-step_size)          # p = p - lr m_hat/denom


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter 2019): Adam with *decoupled* weight decay.

    In :class:`Adam`, ``weight_decay`` adds ``wd * p`` to the gradient, which then gets divided by
    ``sqrt(v_hat)``: weights with large gradients are barely decayed, so it is not weight decay.
    AdamW shrinks the weights before the Adam step instead:

        p <- p * (1 - lr * weight_decay)
        p <- p - lr * m_hat / (sqrt(v_hat) + eps)       (moments of the raw gradient)

    Torch multiplies the decay by ``lr`` (the paper multiplies by a separate schedule factor
    ``eta_t`` only), so ``weight_decay`` here is relative to the learning rate. Default 1e-2.
    """

    _decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)
