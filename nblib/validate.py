"""Input checks shared by nblib: bad input gets a clear error, never a deep torch traceback.

Each helper checks one argument, raises an error that names what was expected and what was
received (type, dtype, shape, device or value), and otherwise returns the argument, so that a
function's checks are one line each at its top and its body can read like its formula::

    validate.tensor("logits", input, floating=True, shape=("N", "C"))
    validate.class_indices("target", target, n, c)
    validate.choice("reduction", reduction, ("mean", "sum", "none"))

Shapes are written as tuples: an int must match exactly, a name (``"N"``) matches any size,
and a leading ``...`` matches any number of leading dimensions: ``(..., 2)``.

When a check may read a tensor's values
---------------------------------------
Checks of *metadata* (type, dtype, shape, device) read only the tensor's header: they cost
nothing and always run. Checks of *values* (class indices within [0, C)) must read the data. For a tensor on a GPU, reading even one number (``.item()``, ``int(t)``,
``if t > 0:``) makes the host wait until every queued kernel has finished: a host-device
synchronisation, which inside a training loop can cost more than the step itself. So:

    **a value check runs only when it is free: on CPU tensors** (:func:`free_to_read`).

On a GPU the same mistake is still caught, later and less politely, by torch's own device-side
assertion ("index out of bounds"); rerun on the CPU to get the clear message.
``tests/lib/test_no_sync.py`` holds the per-call paths (losses, activations, forward passes,
optimizer steps) to this rule on every machine.
"""
from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

__all__ = ["free_to_read", "tensor", "array", "same_shape", "class_indices", "choice", "integer",
           "positive_int", "number", "dim_index"]

Shape = Sequence[Any]  # ints, names (str) and a leading Ellipsis


def free_to_read(t: Tensor) -> bool:
    """Whether reading ``t``'s values costs no host-device synchronisation (a CPU tensor)."""
    return t.device.type == "cpu"


def _dtype(dtype: torch.dtype) -> str:
    """``torch.int64`` -> 'an int64', ``torch.float32`` -> 'a float32'."""
    word = str(dtype).removeprefix("torch.")
    return ("an " if word[0] in "aeio" else "a ") + word


def _fmt(expected: Shape) -> str:
    parts = ["..." if s is Ellipsis else str(s) for s in expected]
    return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"


def _is_integer(dtype: torch.dtype) -> bool:
    return not (dtype.is_floating_point or dtype.is_complex or dtype == torch.bool)


def _matches(actual: tuple[int, ...], expected: Shape) -> bool:
    expected = tuple(expected)
    if expected[:1] == (Ellipsis,):
        expected = expected[1:]
        if len(actual) < len(expected):
            return False
        actual = actual[len(actual) - len(expected):]
    elif len(actual) != len(expected):
        return False
    return all(isinstance(e, str) or e is None or a == e for a, e in zip(actual, expected))


def array(name: str, x, *, shape: Shape):
    """``x`` (a tensor or a NumPy array) has the shape ``shape``; returns ``x``.

    When ``x`` lacks only a leading batch dimension, the error suggests ``unsqueeze(0)``.
    """
    got = tuple(x.shape)
    if _matches(got, shape):
        return x
    hint = ""
    if len(shape) == len(got) + 1 and isinstance(shape[0], str) and _matches(got, shape[1:]):
        hint = "; a single example? add the batch dimension with .unsqueeze(0)"
    raise ValueError(f"{name} must have shape {_fmt(shape)}, got {got}{hint}")


def tensor(name: str, x, *, ndim: int | None = None, shape: Shape | None = None,
           floating: bool | None = None, dtype: torch.dtype | None = None,
           device: torch.device | str | None = None, hint: str = "") -> Tensor:
    """``x`` is a tensor (with the given ndim, shape, dtype and device); returns ``x``.

    ``floating=True`` asks for any floating-point dtype, ``floating=False`` for an integer one.
    ``hint`` (why the dtype, or how to fix it) replaces the default advice of a dtype error.
    Reads metadata only: never a synchronisation.
    """
    if not isinstance(x, Tensor):
        of = f" of shape {_fmt(shape)}" if shape is not None else ""
        raise TypeError(f"{name} needs a torch.Tensor{of}, got {type(x).__name__}; "
                        f"wrap it with torch.tensor(...)")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{name} needs {_dtype(dtype)} tensor, got {x.dtype}"
                        + (hint or f"; convert it with .to({dtype})"))
    if floating and not x.is_floating_point():
        raise TypeError(f"{name} needs a floating-point tensor, got {x.dtype}"
                        + (hint or "; convert it with .float() or .double()"))
    if floating is False and not _is_integer(x.dtype):
        raise TypeError(f"{name} needs an integer tensor, got {x.dtype}"
                        + (hint or "; use .long()"))
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(x.shape)}")
    if shape is not None:
        array(name, x, shape=shape)
    if device is not None and x.device != torch.device(device):
        raise ValueError(f"{name} must be on {torch.device(device)}, got a tensor on {x.device}; "
                         f"move it with .to('{torch.device(device)}')")
    return x


def same_shape(name: str, a: Tensor, b: Tensor, hint: str = "") -> None:
    """``a`` and ``b`` have one shape (no silent broadcasting); ``name`` names both."""
    if a.shape != b.shape:
        raise ValueError(f"{name} must have the same shape, got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}{hint}")


def class_indices(name: str, target, n: int, num_classes: int,
                  dtype: torch.dtype | None = torch.int64) -> Tensor:
    """``target`` holds ``n`` class indices in [0, num_classes), of ``dtype`` (``None``: any
    integer dtype); returns it. The range is checked only where that is free (a CPU tensor)."""
    fix = "; class indices are integers: use .long()"
    if isinstance(target, Tensor) and target.is_floating_point():
        fix += " (this takes indices, not a (N, C) tensor of probabilities)"
    tensor(name, target, dtype=dtype, floating=False, hint=fix)
    if target.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), one class index per row, "
                         f"got {tuple(target.shape)}")
    if n > 0 and free_to_read(target):
        lo, hi = int(target.min()), int(target.max())
        if lo < 0 or hi >= num_classes:
            raise IndexError(f"{name}: class index {lo if lo < 0 else hi} is out of range; with "
                             f"C = {num_classes} classes it must lie in [0, {num_classes - 1}]")
    return target


def _or(options) -> str:
    """'a', 'b' or 'c'; a dict's descriptions in brackets: 'none' (exact) or 'tanh'."""
    descr = options if isinstance(options, dict) else {}
    shown = [f"{o!r} ({descr[o]})" if descr.get(o) else repr(o) for o in options]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def choice(name: str, value, options):
    """``value`` is one of ``options`` (a sequence, or a dict option -> description)."""
    if value not in options:
        raise ValueError(f"{name} must be {_or(options)}, got {value!r}")
    return value


def integer(name: str, value, *, ge: int = 0) -> int:
    """``value`` is an int (not a bool) ``>= ge``; returns it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
    if not value >= ge:
        kind = "a positive int" if ge == 1 else f"an int >= {ge}"
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return value


def positive_int(name: str, value) -> int:
    """``value`` is an int >= 1; returns it."""
    return integer(name, value, ge=1)


def number(name: str, value, *, ge=None, gt=None, le=None, lt=None):
    """``value`` is a real number (not a bool) within the given bounds; returns it.

    ``number("dropout", p, ge=0, lt=1)`` asks for p in [0, 1); NaN is never within bounds.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} ({value!r})")
    ok = ((ge is None or value >= ge) and (gt is None or value > gt)
          and (le is None or value <= le) and (lt is None or value < lt))
    if not ok:
        low = f"[{ge}" if ge is not None else f"({gt}" if gt is not None else None
        high = f"{le}]" if le is not None else f"{lt})" if lt is not None else None
        if low and high:
            bound = f"in {low}, {high}"
        elif low:
            bound = f">= {ge}" if ge is not None else f"> {gt}"
        else:
            bound = f"<= {le}" if le is not None else f"< {lt}"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return value


def dim_index(name: str, dim: int, x: Tensor) -> int:
    """``dim`` indexes a dimension of ``x`` (negative counts from the end); returns it >= 0."""
    if x.dim() == 0:
        raise ValueError(f"{name}: the tensor needs at least one dimension, got a 0-d tensor")
    if not -x.dim() <= dim < x.dim():
        raise IndexError(f"{name} {dim} is out of range for a tensor of shape {tuple(x.shape)}")
    return dim % x.dim()
