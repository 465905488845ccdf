"""Helpers for writing public checks: each raises ``CheckFailure`` with a readable message.

Hints come in tiers. ``hint`` is one string, or a sequence from a direction to more detail::

    expect_close(out, ref, what="the loss for logits of size 1000",
                 hint=("what happens to exp(1000) in float64?",
                       "subtract each row's maximum before exp: nothing changes mathematically"))

A learner's first failure shows the first tier; each further failure of the same question (or
``check(..., hint=2)``) shows one more. No tier may print the answer: a hint names the idea, the
learner writes the code.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

import torch

from nblib.compare import as_tensor, compare, describe

__all__ = ["CheckFailure", "expect_close", "expect_equal", "expect_shape", "expect_dtype",
           "expect_true", "expect_raises"]


class CheckFailure(AssertionError):
    """A public check found a wrong answer; ``str()`` is the explanation with the first hint."""

    def __init__(self, message: str, hint: str | Sequence[str] | None = None):
        self.message = message
        self.hints: tuple[str, ...] = (hint,) if isinstance(hint, str) else tuple(hint or ())
        super().__init__(self.render(1))

    def render(self, tier: int) -> str:
        """The explanation with the first ``tier`` hints, and how to get the next one."""
        shown = self.hints[:max(1, tier)]
        if len(self.hints) == 1:
            lines = [f"  hint: {shown[0]}"]
        else:
            lines = [f"  hint {i}/{len(self.hints)}: {h}" for i, h in enumerate(shown, 1)]
            if len(shown) < len(self.hints):
                lines.append("  (still stuck? run the check again after your next attempt, "
                             "or call check(..., hint=%d))" % (len(shown) + 1))
        return self.message + "".join("\n" + line for line in lines)


def expect_close(actual: Any, expected: Any, rtol: float = 1e-5, atol: float = 1e-8, *,
                 what: str = "the result", hint: str | Sequence[str] | None = None, check_dtype: bool = False) -> None:
    """Fail unless ``actual`` is close to ``expected`` (see :func:`compare`)."""
    problems = compare(actual, expected, rtol, atol, check_dtype)
    if problems:
        raise CheckFailure(f"{what} is not what was expected.\n"
                           f"  expected: {describe(expected)}\n"
                           f"  received: {describe(actual)}\n"
                           + "\n".join(f"  {p}" for p in problems), hint)


expect_equal = expect_close  # exact for ints, bools, strings; tolerance only for floats


def expect_shape(actual: Any, shape: Iterable[int | None], *, what: str = "the result",
                 hint: str | Sequence[str] | None = None) -> None:
    """Fail unless ``actual`` is a tensor/array of ``shape`` (``None`` matches any size)."""
    shape = tuple(shape)
    t = as_tensor(actual)
    if t is None:
        raise CheckFailure(f"{what} should be a tensor of shape {shape}; received {describe(actual)}", hint)
    got = tuple(t.shape)
    if len(got) != len(shape) or any(s is not None and s != g for s, g in zip(shape, got)):
        shown = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        raise CheckFailure(f"{what} has shape {got}; expected shape {shown}", hint)


def expect_dtype(actual: Any, dtype: torch.dtype, *, what: str = "the result", hint: str | Sequence[str] | None = None) -> None:
    """Fail unless ``actual`` is a tensor of ``dtype``."""
    if not isinstance(actual, torch.Tensor):
        raise CheckFailure(f"{what} should be a tensor of dtype {dtype}; received {describe(actual)}", hint)
    if actual.dtype != dtype:
        raise CheckFailure(f"{what} has dtype {actual.dtype}; expected {dtype}", hint)


def expect_true(condition: Any, what: str = "a condition", *, hint: str | Sequence[str] | None = None) -> None:
    """Fail unless ``condition`` is truthy; ``what`` says in words what should hold."""
    if isinstance(condition, torch.Tensor):
        condition = bool(condition.all())
    if not condition:
        raise CheckFailure(f"expected {what}, but it does not hold", hint)


def expect_raises(exc_type: type[BaseException] | tuple, fn: Callable, *args: Any,
                  what: str | None = None, hint: str | Sequence[str] | None = None, **kwargs: Any) -> BaseException:
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
