"""`BPTTStepper`: backpropagation through time, one time step per frame.

The unrolled chain of a one-layer tanh RNN is drawn once: the inputs ``x_t`` on top, the states
``h_0 .. h_T`` in a row joined by the recurrent arrows, and a loss that reads only the last state,
``L = u . h_T`` with ``|u| = 1``. The frames show

1. the forward pass, left to right, one state per frame (its norm written in its box);
2. the loss, and the start of the backward pass: ``dL/dh_T = u``, of norm 1;
3. the backward pass, right to left, one step per frame: the gradient at ``h_t`` is multiplied
   by the step's Jacobian transposed, ``W_hh^T diag(1 - h_t^2)``, on its way to ``h_{t-1}``.
   Under every state a bar shows ``|dL/dh_t|`` (one scale for the whole animation), the arrow
   being crossed carries the factor by which the norm changed, and the caption gives the
   Jacobian's largest stretch (its spectral norm) for comparison;
4. a summary: how much the gradient shrank or grew over the ``T`` steps.

Because the loss gradient starts with norm 1, every bar is the effect of the Jacobians alone
(Pascanu, Mikolov & Bengio 2013). The numbers come from :func:`nblib.nn.rnn.bptt`, the book's
hand-written backward loop. ``BPTTStepper.with_spectral_radius(rho)`` builds the example the
chapter shows, with ``W_hh = rho * Q`` (Q random orthogonal): a spectral radius below 1 makes
the bars vanish to the left, one above 1 (with small states, far from tanh's saturation) makes
them explode.

Frame format (the ``'chain'`` renderer of ``stepper.js``)::

    {"cells": [{"name": "h₀", "value": 0.0}, {"name": "h₁", "value": 0.4, "input": 0.1,
                "input_name": "x₁"}, ...],         # value None: not computed yet
     "value_name": "|h|", "loss": {"name": "L", "value": None},
     "bars": {"name": "|dL/dh_t|", "values": [None, ..., 1.0], "max": 14.2, "highlight": [8]},
     "active": [7, 8], "active_edges": ["rec:8"], "edge_labels": {"rec:8": "×1.3"},
     "caption": "...", "rule": "...", "label": "...", "phase": "backward"}

Edge ids: ``"in:t"`` (x_t -> h_t), ``"rec:t"`` (h_{t-1} -> h_t), ``"loss"`` (h_T -> L).
"""
from __future__ import annotations

from typing import Any

import torch

from nblib import validate
from nblib.nn.rnn import bptt, rnn_forward, scaled_orthogonal, spectral_radius, tanh_jacobian_t

from .stepper import Stepper, jsonable

__all__ = ["BPTTStepper", "bptt_frames"]

_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _sub(t: int) -> str:
    return str(t).translate(_SUB)


def _sig(obj: Any, digits: int = 6) -> Any:
    """Floats rounded to ``digits`` significant digits (smaller pages; tiny gradients kept)."""
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}")
    if isinstance(obj, list):
        return [_sig(v, digits) for v in obj]
    if isinstance(obj, dict):
        return {k: _sig(v, digits) for k, v in obj.items()}
    return obj


def _f(x: float) -> str:
    """A number for a caption: 3 significant digits."""
    return f"{float(x):.3g}"


def bptt_frames(x: torch.Tensor, W_xh: torch.Tensor, W_hh: torch.Tensor, b: torch.Tensor,
                u: torch.Tensor, h0: torch.Tensor | None = None) -> list[dict[str, Any]]:
    """Frames of the forward pass and BPTT of ``L = u . h_T`` for the tanh RNN
    ``h_t = tanh(W_xh x_t + W_hh h_{t-1} + b)``, one sequence of scalars ``x`` (T,)."""
    validate.tensor("x", x, floating=True, ndim=1)
    T = validate.positive_int("the number of steps (len(x))", x.shape[0])
    H = validate.tensor("W_hh", W_hh, floating=True, ndim=2).shape[0]
    validate.tensor("W_hh", W_hh, shape=(H, H))
    validate.tensor("W_xh", W_xh, shape=(H, 1))
    validate.tensor("b", b, shape=(H,))
    validate.tensor("u", u, shape=(H,))
    dt = torch.float64
    x, W_xh, W_hh, b, u = (t.detach().to("cpu", dt) for t in (x, W_xh, W_hh, b, u))
    h0 = torch.zeros(H, dtype=dt) if h0 is None else validate.tensor(
        "h0", h0, shape=(H,)).detach().to("cpu", dt)

    xs = x[:, None, None]                                        # (T, 1, 1)
    hs = rnn_forward(xs, h0[None], W_xh, W_hh, b)                # (T, 1, H)
    grad_hs = torch.zeros_like(hs)
    grad_hs[-1, 0] = u
    grads = bptt(xs, h0[None], hs, W_xh, W_hh, grad_hs)
    states = [h0] + [hs[t, 0] for t in range(T)]                 # h_0 .. h_T
    gnorm = [float(grads.dh0.norm())] + [float(g.norm()) for g in grads.dh]  # |dL/dh_t|
    hnorm = [float(h.norm()) for h in states]
    loss = float(u @ hs[-1, 0])
    jac = [None] + [float(torch.linalg.matrix_norm(tanh_jacobian_t(W_hh, states[t]), ord=2))
                    for t in range(1, T + 1)]                    # |W_hh^T diag(1 - h_t^2)|_2
    bar_max = max(gnorm)
    rho = spectral_radius(W_hh)

    def cells(known: int) -> list[dict]:
        out = [{"name": "h₀", "value": hnorm[0] if known >= 0 else None}]
        for t in range(1, T + 1):
            out.append({"name": f"h{_sub(t)}", "value": hnorm[t] if t <= known else None,
                        "input": float(x[t - 1]), "input_name": f"x{_sub(t)}"})
        return out

    def frame(known: int, bars_from: int | None, loss_known: bool, **extra) -> dict:
        values = [gnorm[t] if bars_from is not None and t >= bars_from else None
                  for t in range(T + 1)]
        f = {"cells": cells(known), "value_name": "|h|",
             "loss": {"name": "L", "value": loss if loss_known else None},
             "bars": {"name": "|dL/dh_t|", "values": values, "max": bar_max,
                      "highlight": extra.pop("highlight", [])},
             "active": [], "active_edges": [], "edge_labels": {}}
        f.update(extra)
        return f

    frames = [frame(-1, None, False, phase="start", label="the unrolled chain",
                    caption=(f"An RNN unrolled over {T} steps: the same W_xh, W_hh and b at "
                             f"every step (spectral radius of W_hh: {_f(rho)}). The loss reads "
                             f"only the last state. Press Next to run the forward pass."),
                    rule="h_t = tanh(W_xh x_t + W_hh h_{t-1} + b)")]
    frames.append(frame(0, None, False, phase="forward", label="forward, h₀", active=[0],
                        caption=f"Forward: the initial state h₀ = 0 (|h₀| = {_f(hnorm[0])}).",
                        rule="h_0 = 0"))
    for t in range(1, T + 1):
        frames.append(frame(
            t, None, False, phase="forward", label=f"forward, h{_sub(t)}", active=[t],
            active_edges=[f"in:{t}", f"rec:{t}"],
            caption=(f"Forward, step {t} of {T}: h{_sub(t)} = tanh(W_xh x{_sub(t)} + "
                     f"W_hh h{_sub(t - 1)} + b) with x{_sub(t)} = {_f(x[t - 1])}: "
                     f"|h{_sub(t)}| = {_f(hnorm[t])}."),
            rule=f"h_{t} = tanh(W_xh x_{t} + W_hh h_{t - 1} + b)"))
    frames.append(frame(
        T, T, True, phase="backward", label="loss, backward starts", active=[T],
        active_edges=["loss"], highlight=[T],
        caption=(f"The loss reads the last state: L = u · h{_sub(T)} = {_f(loss)}. Backward "
                 f"starts with dL/dh{_sub(T)} = u, of norm 1, so every bar that follows is "
                 f"the work of the Jacobians alone."),
        rule=f"dL/dh_{T} = u,  |u| = 1"))
    for t in range(T, 0, -1):
        ratio = gnorm[t - 1] / gnorm[t] if gnorm[t] > 0 else 0.0
        frames.append(frame(
            T, t - 1, True, phase="backward", label=f"backward, h{_sub(t)} → h{_sub(t - 1)}",
            active=[t - 1, t], active_edges=[f"rec:{t}"], highlight=[t - 1],
            edge_labels={f"rec:{t}": f"×{_f(ratio)}"},
            caption=(f"Backward, step {T - t + 1} of {T}: the gradient reaches h{_sub(t - 1)} "
                     f"and is multiplied by W_hhᵀ diag(1 − h{_sub(t)}²), whose largest "
                     f"stretch is {_f(jac[t])}: |dL/dh{_sub(t - 1)}| = {_f(ratio)} × "
                     f"{_f(gnorm[t])} = {_f(gnorm[t - 1])}."),
            rule=f"dL/dh_{t - 1} = W_hh^T diag(1 - h_{t}^2) dL/dh_{t}"))
    total = gnorm[0] / gnorm[T]
    verdict = ("vanished" if total < 0.5 else "exploded" if total > 2 else "kept its size")
    frames.append(frame(
        T, 0, True, phase="done", label="done", highlight=[0],
        caption=(f"Done: over {T} steps the gradient {verdict}: |dL/dh₀| = {_f(gnorm[0])}, "
                 f"{_f(total)} times |dL/dh{_sub(T)}|, about {_f(total ** (1 / T))} per "
                 f"step (spectral radius of W_hh: {_f(rho)})."),
        rule=f"dL/dh_0 = J_1^T J_2^T ... J_{T}^T dL/dh_{T},  J_t = diag(1 - h_t^2) W_hh"))
    return _sig(jsonable(frames))


class BPTTStepper(Stepper):
    """Step through the forward pass and BPTT of one-layer tanh RNNs (renderer ``'chain'``).

    ``BPTTStepper({"label": dict(x=..., W_xh=..., W_hh=..., b=..., u=...), ...})``: one or
    more examples (a scalar sequence ``x`` (T,) and a loss ``L = u . h_T`` each), played one
    after the other, with a selector button per example that jumps to its first frame.
    ``BPTTStepper.with_spectral_radii((0.6, 1.5))`` makes the chapter's random examples, whose
    recurrent matrices differ only in their spectral radius. The tensors are not modified.
    """

    def __init__(self, examples: dict[str, dict], title: str = "Backpropagation through time",
                 **kwargs: Any) -> None:
        if not isinstance(examples, dict) or not examples:
            raise TypeError("examples must be a non-empty dict {label: dict(x=..., W_xh=..., "
                            f"W_hh=..., b=..., u=...)}}, got {type(examples).__name__}")
        parts, starts = [], []
        for label, ex in examples.items():
            if not isinstance(ex, dict) or not {"x", "W_xh", "W_hh", "b", "u"} <= set(ex):
                raise TypeError(f"example {label!r} must be a dict with keys x, W_xh, W_hh, b, u "
                                f"(and optionally h0), got {ex!r:.80}")
            starts.append(sum(len(p) for p in parts))
            parts.append(bptt_frames(**ex))
        frames = []
        for k, (label, part) in enumerate(zip(examples, parts)):
            for f in part:
                if len(parts) > 1:
                    f["selector"] = {"name": "W_hh", "labels": list(examples), "current": k,
                                     "steps": starts}
                    f["label"] = f"{label}: {f['label']}"
                frames.append(f)
        super().__init__(frames, renderer="chain", title=title, **kwargs)

    @staticmethod
    def example(rho: float, steps: int = 8, hidden: int = 16, input_scale: float = 0.1,
                seed: int = 0) -> dict:
        """A random example: ``W_hh = rho * Q`` (Q orthogonal, (hidden, hidden)), inputs and
        ``W_xh`` standard normal, the inputs times ``input_scale`` (small states, little
        saturation), ``b = 0`` and a random unit readout ``u``. The same ``seed`` gives the same
        Q, inputs and u for every ``rho``: examples differ only in the scale of W_hh."""
        validate.positive_int("steps", steps)
        validate.positive_int("hidden", hidden)
        validate.number("input_scale", input_scale, ge=0)
        g = torch.Generator().manual_seed(seed)
        W_hh = scaled_orthogonal(hidden, rho, generator=g)
        W_xh = torch.randn(hidden, 1, generator=g, dtype=torch.float64)
        x = input_scale * torch.randn(steps, generator=g, dtype=torch.float64)
        u = torch.randn(hidden, generator=g, dtype=torch.float64)
        return {"x": x, "W_xh": W_xh, "W_hh": W_hh, "b": torch.zeros(hidden, dtype=torch.float64),
                "u": u / u.norm()}

    @classmethod
    def with_spectral_radii(cls, radii=(0.6, 1.5), steps: int = 8, hidden: int = 16,
                            input_scale: float = 0.1, seed: int = 0,
                            **kwargs: Any) -> "BPTTStepper":
        """One stepper with an example per spectral radius (see :meth:`example`)."""
        examples = {}
        for rho in radii:
            kind = "vanishing" if rho < 1 else "exploding" if rho > 1 else "radius 1"
            examples[f"ρ = {rho:g} ({kind})"] = cls.example(rho, steps, hidden, input_scale, seed)
        return cls(examples, **kwargs)
