"""Two-dimensional loss surfaces for watching optimizers move (chapter 02).

Each surface is a function of a tensor ``xy`` of shape (..., 2) returning shape (...), so the
same function evaluates one point (for an optimizer), or a whole grid (for a contour plot).

References:
    - Rosenbrock (1960), "An automatic method for finding the greatest or least value of a
      function": the curved, flat-bottomed valley.
    - Beale (1958), "On an iterative method for finding a local minimum of a function of more
      than one variable": flat plateaus and steep ridges, minimum f(3, 0.5) = 0.
    - Himmelblau (1972), "Applied Nonlinear Programming": four equal minima.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

from nblib import validate

__all__ = ["quadratic", "rosenbrock", "beale", "himmelblau", "MINIMA", "trajectory", "grid"]

# Known global minima, all with value 0.
MINIMA: dict[str, list[tuple[float, float]]] = {
    "quadratic": [(0.0, 0.0)],
    "rosenbrock": [(1.0, 1.0)],
    "beale": [(3.0, 0.5)],
    "himmelblau": [
        (3.0, 2.0),
        (-2.805118086952745, 3.131312518250573),
        (-3.779310253377747, -3.283185991286170),
        (3.584428340330492, -1.848126526964404),
    ],
}


def quadratic(xy: Tensor, a: float = 1.0, b: float = 10.0) -> Tensor:
    r"""An elongated bowl ``f = (a x^2 + b y^2) / 2``, minimum 0 at (0, 0).

    Its Hessian is diag(a, b): curvature ``b`` across the valley, ``a`` along
    it, condition number ``b / a``. Gradient descent is stable only for
    ``lr < 2 / b`` yet creeps along x at a rate set by ``lr * a``: the zig-zag
    that momentum and Adam were made to fix.
    """
    validate.tensor("quadratic xy", xy, shape=(..., 2))
    x, y = xy.unbind(-1)                                   # (...), (...)
    return 0.5 * (a * x**2 + b * y**2)


def rosenbrock(xy: Tensor) -> Tensor:
    """``f = (1 - x)^2 + 100 (y - x^2)^2``: a curved valley, minimum 0 at (1, 1)."""
    validate.tensor("rosenbrock xy", xy, shape=(..., 2))
    x, y = xy.unbind(-1)                                   # (...), (...)
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def beale(xy: Tensor) -> Tensor:
    """``f = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2``, minimum 0 at (3, 0.5)."""
    validate.tensor("beale xy", xy, shape=(..., 2))
    x, y = xy.unbind(-1)                                   # (...), (...)
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def himmelblau(xy: Tensor) -> Tensor:
    """``f = (x^2 + y - 11)^2 + (x + y^2 - 7)^2``: four minima of value 0 (see ``MINIMA``)."""
    validate.tensor("himmelblau xy", xy, shape=(..., 2))
    x, y = xy.unbind(-1)                                   # (...), (...)
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def trajectory(opt_cls: type, f: Callable[[Tensor], Tensor], start: Tensor | Sequence[float],
               steps: int, **opt_kwargs) -> Tensor:
    """Run ``opt_cls([p], **opt_kwargs)`` on ``f`` from ``start`` and record every point.

    ``opt_cls`` is any torch.optim-compatible class (``nblib.optim.Adam``, ``torch.optim.SGD``...).
    ``start`` is a tensor of shape (2,) (its dtype and device are kept) or two numbers (float64).

    Returns:
        a tensor of shape (steps + 1, 2): the start, then the point after each step. A diverging
        run yields inf/nan rows rather than an error, so it can still be plotted.
    """
    validate.integer("steps", steps, ge=0)
    if isinstance(start, Tensor):
        p = start.detach().clone()
        if not p.is_floating_point():
            p = p.to(torch.float64)
    else:
        p = torch.tensor([float(s) for s in start], dtype=torch.float64)
    validate.tensor("start", p, shape=(2,))
    p.requires_grad_(True)
    opt = opt_cls([p], **opt_kwargs)
    path = torch.empty(steps + 1, 2, dtype=p.dtype, device=p.device)   # (steps+1, 2)
    path[0] = p.detach()
    for t in range(1, steps + 1):
        opt.zero_grad()
        loss = f(p)
        if loss.dim() != 0:
            raise ValueError(f"f must return a scalar for a point of shape (2,), got shape {tuple(loss.shape)}")
        loss.backward()
        opt.step()
        path[t] = p.detach()
    return path


def grid(f: Callable[[Tensor], Tensor], xlim: tuple[float, float], ylim: tuple[float, float],
         n: int = 200, device: torch.device | str | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Evaluate ``f`` on an n x n grid for ``plt.contour(X, Y, Z)``.

    Returns:
        X, Y, Z: float64 tensors of shape (n, n); rows vary in y, columns in x (``indexing="xy"``).
    """
    for name, lim in (("xlim", xlim), ("ylim", ylim)):
        if len(lim) != 2 or not lim[0] < lim[1]:
            raise ValueError(f"{name} must be (low, high) with low < high, got {lim!r}")
    validate.integer("n", n, ge=2)
    xs = torch.linspace(xlim[0], xlim[1], n, dtype=torch.float64, device=device)   # (n,)
    ys = torch.linspace(ylim[0], ylim[1], n, dtype=torch.float64, device=device)   # (n,)
    X, Y = torch.meshgrid(xs, ys, indexing="xy")                                    # (n, n) each
    with torch.no_grad():
        Z = f(torch.stack([X, Y], dim=-1))                                          # (n, n)
    if Z.shape != X.shape:
        raise ValueError(f"f must map (n, n, 2) to (n, n), got shape {tuple(Z.shape)}")
    return X, Y, Z
