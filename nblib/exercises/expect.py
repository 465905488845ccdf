"""Helpers for writing public checks: each raises ``CheckFailure`` with a readable message."""
from __future__ import annotations

from typing import Any, Callable, Iterable

import torch

from nblib.compare import as_tensor, compare, describe

__all__ = ["CheckFailure", "expect_close", "expect_equal", "expect_shape", "expect_dtype",
           "expect_true", "expect_raises"]


class CheckFailure(AssertionError):
    """A public check (or graded assertion) found a wrong answer; ``str()`` is the explanation."""

    def __init__(self, message: str, hint: str | None = None):
        self.hint = hint
        super().__init__(message + (f"\n  hint: {hint}" if hint else ""))


def expect_close(actual: Any, expected: Any, rtol: float = 1e-5, atol: float = 1e-8, *,
                 what: str = "the result", hint: str | None = None, check_dtype: bool = False) -> None:
    """Fail unless ``actual`` is close to ``expected`` (see :func:`compare`)."""
    problems = compare(actual, expected, rtol, atol, check_dtype)
    if problems:
        raise CheckFailure(f"{what} is not what was expected.\n"
                           f"  expected: {describe(expected)}\n"
                           f"  received: {describe(actual)}\n"
                           + "\n".join(f"  {p}" for p in problems), hint)


expect_equal = expect_close  # exact for ints, bools, strings; tolerance only for floats


def expect_shape(actual: Any, shape: Iterable[int | None], *, what: str = "the result",
                 hint: str | None = None) -> None:
    """Fail unless ``actual`` is a tensor/array of ``shape`` (``None`` matches any size)."""
    shape = tuple(shape)
    t = as_tensor(actual)
    if t is None:
        raise CheckFailure(f"{what} should be a tensor of shape {shape}; received {describe(actual)}", hint)
    got = tuple(t.shape)
    if len(got) != len(shape) or any(s is not None and s != g for s, g in zip(shape, got)):
        shown = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        raise CheckFailure(f"{what} has shape {got}; expected shape {shown}", hint)


def expect_dtype(actual: Any, dtype: torch.dtype, *, what: str = "the result", hint: str | None = None) -> None:
    """Fail unless ``actual`` is a tensor of ``dtype``."""
    if not isinstance(actual, torch.Tensor):
        raise CheckFailure(f"{what} should be a tensor of dtype {dtype}; received {describe(actual)}", hint)
    if actual.dtype != dtype:
        raise CheckFailure(f"{what} has dtype {actual.dtype}; expected {dtype}", hint)


def expect_true(condition: Any, what: str = "a condition", *, hint: str | None = None) -> None:
    """Fail unless ``condition`` is truthy; ``what`` says in words what should hold."""
    if isinstance(condition, torch.Tensor):
        condition = bool(condition.all())
    if not condition:
        raise CheckFailure(f"expected {what}, but it does not hold", hint)


def expect_raises(exc_type: type[BaseException] | tuple, fn: Callable, *args: Any,
                  what: str | None = None, hint: str | None = None, **kwargs: Any) -> BaseException:
    """Fail unless ``fn(*args, **kwargs)`` raises ``exc_type``; returns the exception."""
    label = what or f"{getattr(fn, '__name__', 'the function')}(...)"
    names = exc_type.__name__ if isinstance(exc_type, type) else " or ".join(t.__name__ for t in exc_type)
    try:
        fn(*args, **kwargs)
    except exc_type as exc:
        return exc
    except NotImplementedError:
        raise
    except Exception as exc:
        raise CheckFailure(f"{label} should raise {names}; it raised {type(exc).__name__}: {exc}", hint) from None
    raise CheckFailure(f"{label} should raise {names}; it returned normally", hint)
