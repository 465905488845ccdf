"""Rosenblatt's perceptron: the first learning rule for a threshold unit.

``Perceptron`` is Rosenblatt's (1958) learning rule for one threshold unit; it makes at most
(R / gamma)^2 mistakes on data separable with margin gamma (Novikoff 1962) and never stops
making them on data that no line separates, such as XOR (Minsky & Papert 1969).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from nblib import validate

__all__ = ["perceptron_update", "Perceptron", "PerceptronHistory", "novikoff_bound"]


def perceptron_update(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor,
                      y: float, lr: float = 1.0):
    """One step of Rosenblatt's rule (1958) on one example ``x`` (d,) with
    label ``y`` in {-1, +1}.

    The unit predicts +1 when z = w . x + b >= 0, else -1. On a mistake it moves
    the boundary towards the example::

        w <- w + lr * y * x,    b <- b + lr * y

    and otherwise leaves it alone. Returns ``(w, b, mistake)`` (new tensors; the
    inputs are not modified).
    """
    z = torch.dot(w, x) + b
    prediction = 1.0 if z >= 0 else -1.0
    if prediction == y:
        return w, b, False
    return w + lr * y * x, b + lr * y, True


@dataclass
class PerceptronHistory:
    """What happened during ``Perceptron.fit``.

    ``weights[k]``, ``biases[k]``: the parameters after epoch k (``k = 0``: before training).
    ``mistakes[k-1]``: how many updates epoch k made; ``accuracy[k]``: training accuracy of
    the parameters after epoch k. ``updates``: the parameters after every single update, in
    order (``updates[0]`` is the start), for step-by-step pictures. ``converged``: some epoch
    made no mistake, so the data is separated; ``epochs``: the number of epochs run.
    """

    weights: list[torch.Tensor] = field(default_factory=list)
    biases: list[float] = field(default_factory=list)
    mistakes: list[int] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    updates: list[tuple[torch.Tensor, float]] = field(default_factory=list)
    update_examples: list[int] = field(default_factory=list)
    converged: bool = False

    @property
    def epochs(self) -> int:
        return len(self.mistakes)

    @property
    def total_mistakes(self) -> int:
        return sum(self.mistakes)

    def __repr__(self) -> str:
        return (f"PerceptronHistory(epochs={self.epochs}, total_mistakes={self.total_mistakes}, "
                f"converged={self.converged}, final_accuracy={self.accuracy[-1] if self.accuracy else None})")


class Perceptron:
    """Rosenblatt's perceptron (1958): one threshold unit trained by the perceptron rule.

    ``predict(x) = step(x @ weight + bias)``, returned in the label convention ``fit`` saw
    ({0, 1} or {-1, +1}). ``fit`` visits the examples in order (or shuffled with ``seed``),
    applies :func:`perceptron_update` to each, and stops after the first epoch with no mistake.

    Convergence (Novikoff 1962): if some unit vector u and threshold separate the data with
    margin gamma > 0 (for the augmented inputs (x, 1)) and every ||(x, 1)|| <= R, then starting
    from zero weights the rule makes at most (R / gamma)^2 updates, whatever the order and
    the learning rate. If no hyperplane separates the data (XOR), it never stops updating.
    """

    def __init__(self, in_features: int, lr: float = 1.0, dtype: torch.dtype = torch.float32,
                 device: torch.device | str | None = None):
        validate.positive_int("in_features", in_features)
        validate.number("lr", lr, gt=0)
        self.in_features = in_features
        self.lr = float(lr)
        self.weight = torch.zeros(in_features, dtype=dtype, device=device)  # (d,)
        self.bias = torch.zeros((), dtype=dtype, device=device)            # ()
        self.labels: tuple[int, int] = (0, 1)  # the label convention seen by fit

    def __repr__(self) -> str:
        return f"Perceptron(in_features={self.in_features}, lr={self.lr})"

    def _input(self, x, where: str) -> torch.Tensor:
        validate.tensor(f"{where}: x", x, floating=True, shape=("N", self.in_features))
        return x.to(self.weight.dtype)

    def _signed_labels(self, y, n: int) -> torch.Tensor:
        validate.tensor("fit: y (one label per row of x)", y, shape=(n,))
        values = sorted({float(v) for v in torch.unique(y).tolist()})
        if set(values) <= {0.0, 1.0}:
            self.labels = (0, 1)
            return y.to(self.weight.dtype) * 2 - 1
        if set(values) <= {-1.0, 1.0}:
            self.labels = (-1, 1)
            return y.to(self.weight.dtype)
        shown = ", ".join(f"{v:g}" for v in values[:10]) + (", ..." if len(values) > 10 else "")
        raise ValueError(f"fit: labels must be in {{0, 1}} or in {{-1, 1}}; received the values {{{shown}}}")

    def decision_function(self, x: torch.Tensor) -> torch.Tensor:
        """The pre-activation z = x @ weight + bias, shape (N,)."""
        x = self._input(x, "decision_function")
        return x @ self.weight + self.bias  # (N, d) @ (d,) -> (N,)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Class labels (N,) int64 in the convention ``fit`` saw: 1 where z >= 0, else 0 (or -1)."""
        positive = self.decision_function(x) >= 0
        neg, pos = self.labels
        return torch.where(positive, pos, neg).to(torch.int64)

    def fit(self, x: torch.Tensor, y: torch.Tensor, epochs: int = 100, shuffle: bool = False,
            seed: int = 0, stop_when_converged: bool = True) -> PerceptronHistory:
        """Run the perceptron rule for at most ``epochs`` passes over ``x`` (N, d), ``y`` (N,).

        The weights start at zero (as in Novikoff's theorem). Returns a ``PerceptronHistory``.
        """
        x = self._input(x, "fit")
        ys = self._signed_labels(y, x.shape[0]).to(x.device)
        validate.positive_int("epochs", epochs)
        self.weight = torch.zeros_like(self.weight)
        self.bias = torch.zeros_like(self.bias)
        generator = torch.Generator().manual_seed(seed)
        hist = PerceptronHistory()

        def snapshot():
            hist.weights.append(self.weight.detach().cpu().clone())
            hist.biases.append(float(self.bias))
            hist.accuracy.append(float((self.decision_function(x) >= 0).eq(ys > 0).to(torch.float64).mean()))

        snapshot()
        hist.updates.append((self.weight.cpu().clone(), float(self.bias)))
        # One device-to-host copy per epoch instead of one per example: python loops over rows.
        for _ in range(epochs):
            order = torch.randperm(x.shape[0], generator=generator) if shuffle else torch.arange(x.shape[0])
            xs, yl = x.cpu()[order], ys.cpu()[order].tolist()
            w, b = self.weight.cpu(), self.bias.cpu()
            mistakes = 0
            for i, xi, yi in zip(order.tolist(), xs, yl):
                w, b, wrong = perceptron_update(w, b, xi, yi, self.lr)
                if wrong:
                    mistakes += 1
                    hist.updates.append((w.clone(), float(b)))
                    hist.update_examples.append(i)
            self.weight, self.bias = w.to(self.weight.device), b.to(self.bias.device)
            hist.mistakes.append(mistakes)
            snapshot()
            if mistakes == 0:
                hist.converged = True
                if stop_when_converged:
                    break
        return hist


def novikoff_bound(x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Novikoff's (1962) mistake bound (R / gamma)^2 for the perceptron on ``x`` (N, d), ``y`` (N,).

    Each input is augmented with a constant 1 (so the bias is one more weight). R is the
    largest norm of an augmented input; gamma the largest margin min_i y_i u . (x_i, 1) over
    unit vectors u, found by solving the hard-margin problem min ||u||^2 subject to
    y_i u . (x_i, 1) >= 1 (then gamma = 1 / ||u||) with scipy's SLSQP. Returns
    ``{"R", "gamma", "bound"}``; raises ``ValueError`` if the data is not linearly separable.
    """
    import numpy as np
    from scipy.optimize import minimize

    validate.tensor("x", x, shape=("N", "d"))
    ys = Perceptron(x.shape[1], dtype=torch.float64)._signed_labels(y, x.shape[0]).cpu().numpy()
    xa = np.c_[x.detach().cpu().double().numpy(), np.ones(x.shape[0])]  # (N, d + 1)
    a = ys[:, None] * xa                                                # rows y_i (x_i, 1)
    u0 = np.linalg.lstsq(xa, ys, rcond=None)[0]
    res = minimize(lambda u: u @ u, u0, jac=lambda u: 2 * u, method="SLSQP",
                   constraints=[{"type": "ineq", "fun": lambda u: a @ u - 1, "jac": lambda u: a}],
                   options={"maxiter": 500, "ftol": 1e-12})
    u = res.x
    gamma = float((a @ u).min() / np.linalg.norm(u))
    if not res.success or gamma <= 0:
        raise ValueError("the data is not linearly separable (no hyperplane has a positive margin), "
                         "so the perceptron has no mistake bound")
    radius = float(np.linalg.norm(xa, axis=1).max())
    return {"R": radius, "gamma": gamma, "bound": (radius / gamma) ** 2}
