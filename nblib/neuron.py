"""The artificial neuron: activation functions, their derivatives, and Rosenblatt's perceptron.

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

``Perceptron`` is Rosenblatt's (1958) learning rule for one threshold unit; it makes at most
(R / gamma)^2 mistakes on data separable with margin gamma (Novikoff 1962) and never stops
making them on data that no line separates, such as XOR (Minsky & Papert 1969).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

__all__ = [
    "step", "sigmoid", "tanh", "relu", "leaky_relu", "gelu",
    "step_grad", "sigmoid_grad", "tanh_grad", "relu_grad", "leaky_relu_grad", "gelu_grad",
    "ACTIVATIONS", "perceptron_update", "Perceptron", "PerceptronHistory", "novikoff_bound",
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
# The perceptron (Rosenblatt 1958)
# ---------------------------------------------------------------------------------------------
def perceptron_update(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor, y: float, lr: float = 1.0):
    """One step of Rosenblatt's rule on one example ``x`` (d,) with label ``y`` in {-1, +1}.

    The unit predicts +1 when z = w . x + b >= 0, else -1. On a mistake it moves the boundary
    towards the example::

        w <- w + lr * y * x,    b <- b + lr * y

    and otherwise leaves it alone. Returns ``(w, b, mistake)`` (new tensors; the inputs are
    not modified).
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
        if isinstance(in_features, bool) or not isinstance(in_features, int) or in_features < 1:
            raise ValueError(f"in_features must be a positive int, got {in_features!r}")
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
            raise ValueError(f"lr must be a number > 0, got {lr!r}")
        self.in_features = in_features
        self.lr = float(lr)
        self.weight = torch.zeros(in_features, dtype=dtype, device=device)  # (d,)
        self.bias = torch.zeros((), dtype=dtype, device=device)            # ()
        self.labels: tuple[int, int] = (0, 1)  # the label convention seen by fit

    def __repr__(self) -> str:
        return f"Perceptron(in_features={self.in_features}, lr={self.lr})"

    def _check_x(self, x, where: str) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{where}: x must be a torch.Tensor of shape (N, {self.in_features}), "
                            f"got {type(x).__name__}")
        if not x.dtype.is_floating_point:
            raise TypeError(f"{where}: x must be a floating-point tensor, got dtype {x.dtype}; use x.float()")
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"{where}: x must have shape (N, {self.in_features}), got {tuple(x.shape)}")
        return x.to(self.weight.dtype)

    def _signed_labels(self, y, n: int) -> torch.Tensor:
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"fit: y must be a torch.Tensor of shape ({n},), got {type(y).__name__}")
        if y.shape != (n,):
            raise ValueError(f"fit: y must have shape ({n},) to match x, got {tuple(y.shape)}")
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
        x = self._check_x(x, "decision_function")
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
        x = self._check_x(x, "fit")
        ys = self._signed_labels(y, x.shape[0]).to(x.device)
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive int, got {epochs!r}")
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

    if not isinstance(x, torch.Tensor) or x.ndim != 2:
        raise ValueError(f"x must be a tensor of shape (N, d), got {getattr(x, 'shape', type(x).__name__)}")
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
