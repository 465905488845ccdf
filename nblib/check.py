"""Learner self-checks for the book's exercises: instant, readable feedback in the notebook.

In a chapter, right after an exercise cell::

    from nblib.check import check          # done once, in the setup cell
    check("01-sigmoid", sigmoid)           # the cell tagged ``public-check``

``check(question, *objs)`` runs the public checks registered for ``question`` (in
``nblib/exercises/chNN.py``, see :mod:`nblib.exercises`) on the objects you pass and
prints one short verdict:

- ``PASS 01-sigmoid: public checks passed; graded tests may differ.``
- ``FAIL 01-sigmoid: ...`` with what was expected and what was received (type, shape,
  dtype, a few values, the largest difference and where) and the check's hint;
- ``TODO 01-sigmoid: not attempted yet`` when the function still raises the stub's
  ``NotImplementedError``;
- ``ERROR 01-sigmoid: your code raised ...`` with the line of your code that raised.

Behaviour (so that "Run all" keeps going for a learner, and CI still catches a broken
reference solution):

- By default ``check`` never raises: it prints the verdict and returns ``True``/``False``.
- In strict mode it prints the verdict and then raises ``AssertionError`` (a
  ``CheckFailure``) unless every check passed. Strict mode is on when ``strict=True`` is
  passed, or when the environment variable ``NBLIB_STRICT_CHECKS=1`` is set (CI sets it
  when executing the master notebooks; ``nblib check NOTEBOOK`` uses it too).

Helpers for writing public checks (each raises ``CheckFailure`` with a readable message):
``expect_close``, ``expect_equal``, ``expect_shape``, ``expect_dtype``, ``expect_true``,
``expect_raises``. The comparison they use (:func:`compare`) is shared with the graded
tests' :func:`nblib.grading.assert_close`.

No security here: public checks run in the learner's own kernel and prove nothing to a
grader. The instructor's grader (``nblib grade``) runs different, hidden tests in a sandbox.
"""
from __future__ import annotations

import math
import os
import traceback
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch

from nblib.exercises import checks_for, public_check  # noqa: F401  (re-exported for chNN.py)

__all__ = ["check", "public_check", "CheckFailure", "compare", "describe", "expect_close",
           "expect_equal", "expect_shape", "expect_dtype", "expect_true", "expect_raises"]

_PKG_DIR = Path(__file__).resolve().parent


class CheckFailure(AssertionError):
    """A public check (or graded assertion) found a wrong answer; ``str()`` is the explanation."""

    def __init__(self, message: str, hint: str | None = None):
        self.hint = hint
        super().__init__(message + (f"\n  hint: {hint}" if hint else ""))


# ---------------------------------------------------------------------------------------------
# Describing and comparing values (shared with nblib.grading)
# ---------------------------------------------------------------------------------------------
def _fmt_num(v: Any) -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _values(t: torch.Tensor, k: int = 6) -> str:
    flat = t.detach().reshape(-1)
    n = flat.numel()
    if n == 0:
        return "[]"
    vals = flat.tolist() if n <= k else flat[: k - 1].tolist() + [flat[-1].item()]
    parts = [_fmt_num(v) for v in vals]
    if n > k:
        parts.insert(k - 1, "...")
    return "[" + ", ".join(parts) + "]"


def describe(x: Any) -> str:
    """One line saying what ``x`` is: type, shape, dtype and a few values."""
    if x is None:
        return "None (did the function forget to `return`?)"
    if isinstance(x, torch.Tensor):
        if x.layout != torch.strided:
            return f"a {x.layout} tensor of shape {tuple(x.shape)}, dtype {x.dtype}"
        return f"tensor, shape {tuple(x.shape)}, dtype {x.dtype}, values {_values(x)}"
    if isinstance(x, np.ndarray):
        vals = _values(torch.from_numpy(np.ascontiguousarray(x))) if x.dtype.kind in "biuf" else repr(x)[:80]
        return f"numpy array, shape {x.shape}, dtype {x.dtype}, values {vals}"
    if isinstance(x, (bool, int, float, np.generic)):
        return f"{type(x).__name__} {_fmt_num(x.item() if isinstance(x, np.generic) else x)}"
    if isinstance(x, str):
        return f"str {x[:80]!r}" + ("..." if len(x) > 80 else "")
    if isinstance(x, (list, tuple)):
        r = repr(x)
        return f"{type(x).__name__} of length {len(x)}: {r[:100]}" + ("..." if len(r) > 100 else "")
    if isinstance(x, dict):
        keys = list(x)[:8]
        return f"dict with keys {keys}" + ("..." if len(x) > 8 else "")
    r = repr(x)
    return f"{type(x).__name__} {r[:80]}"


def _as_tensor(x: Any) -> torch.Tensor | None:
    if isinstance(x, torch.Tensor):
        return x.detach()
    if isinstance(x, np.ndarray) and x.dtype.kind in "biuf":
        return torch.from_numpy(np.ascontiguousarray(x))
    return None


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def _compare_tensors(a: torch.Tensor, e: torch.Tensor, rtol: float, atol: float,
                     check_dtype: bool, where: str) -> list[str]:
    if tuple(a.shape) != tuple(e.shape):
        return [f"{where}shape {tuple(a.shape)} was received, shape {tuple(e.shape)} was expected"]
    if check_dtype and a.dtype != e.dtype:
        return [f"{where}dtype {a.dtype} was received, dtype {e.dtype} was expected"]
    if a.dtype.is_complex or e.dtype.is_complex:
        ok = torch.allclose(a.to("cpu", torch.complex128), e.to("cpu", torch.complex128), rtol=rtol, atol=atol,
                            equal_nan=True)
        return [] if ok else [f"{where}complex values differ"]
    exact = not (a.dtype.is_floating_point or e.dtype.is_floating_point)
    # On the CPU: a result computed on CUDA must compare with expected values built on the CPU.
    a64, e64 = a.to("cpu", torch.float64), e.to("cpu", torch.float64)
    if exact:
        bad = a64 != e64
    else:
        bad = ~torch.isclose(a64, e64, rtol=rtol, atol=atol, equal_nan=True)
    if not bool(bad.any()):
        return []
    diff = (a64 - e64).abs()
    diff = torch.where(bad, torch.nan_to_num(diff, nan=math.inf), torch.zeros_like(diff))
    flat = int(diff.reshape(-1).argmax())
    idx = tuple(int(i) for i in np.unravel_index(flat, tuple(a.shape))) if a.dim() else ()
    tol = "exact equality" if exact else f"rtol={rtol:g}, atol={atol:g}"
    return [f"{where}{int(bad.sum())} of {a.numel()} values differ ({tol}); "
            f"largest |difference| {_fmt_num(float(diff.reshape(-1)[flat]))} at index {idx}: "
            f"received {_fmt_num(a.reshape(-1)[flat].item())}, expected {_fmt_num(e.reshape(-1)[flat].item())}"]


def compare(actual: Any, expected: Any, rtol: float = 1e-5, atol: float = 1e-8,
            check_dtype: bool = False, _where: str = "") -> list[str]:
    """Differences between ``actual`` and ``expected`` as readable lines; ``[]`` if they agree.

    Tensors and numpy arrays: same shape, values within ``rtol``/``atol`` (NaN equals NaN;
    integer and bool tensors exactly), same dtype only if ``check_dtype``. Numbers: within
    tolerance (a 1-element tensor counts as a number). Lists/tuples (interchangeable) and
    dicts: compared element by element. Strings, bools and None: equal.
    """
    where = f"at {_where}: " if _where else ""
    e_t = _as_tensor(expected)
    if e_t is not None:
        a_t = _as_tensor(actual)
        if a_t is None and _is_number(actual) and e_t.numel() == 1:
            a_t = torch.tensor(float(actual)).reshape(e_t.shape)
        if a_t is None:
            return [f"{where}expected a tensor, received {describe(actual)}"]
        return _compare_tensors(a_t, e_t, rtol, atol, check_dtype, where)
    if isinstance(expected, (bool, np.bool_)):
        a = actual
        if isinstance(a, torch.Tensor) and a.numel() == 1 and a.dtype == torch.bool:
            a = bool(a.item())
        if isinstance(a, (bool, np.bool_)) and bool(a) == bool(expected):
            return []
        return [f"{where}expected {bool(expected)}, received {describe(actual)}"]
    if _is_number(expected):
        a = actual
        if isinstance(a, torch.Tensor) and a.numel() == 1:
            a = a.item()
        if isinstance(a, np.ndarray) and a.size == 1:
            a = a.item()
        if not _is_number(a):
            return [f"{where}expected a number ({_fmt_num(expected)}), received {describe(actual)}"]
        a, e = float(a), float(expected)
        if (math.isnan(a) and math.isnan(e)) or math.isclose(a, e, rel_tol=rtol, abs_tol=atol) or a == e:
            return []
        return [f"{where}received {_fmt_num(a)}, expected {_fmt_num(e)} (|difference| {_fmt_num(abs(a - e))})"]
    if expected is None or isinstance(expected, str):
        if type(actual) is type(expected) and actual == expected:
            return []
        return [f"{where}expected {describe(expected)}, received {describe(actual)}"]
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)):
            return [f"{where}expected a {type(expected).__name__} of length {len(expected)}, received {describe(actual)}"]
        if len(actual) != len(expected):
            return [f"{where}expected a {type(expected).__name__} of length {len(expected)}, "
                    f"received one of length {len(actual)}"]
        out: list[str] = []
        for i, (a, e) in enumerate(zip(actual, expected)):
            out += compare(a, e, rtol, atol, check_dtype, f"{_where}[{i}]")
            if len(out) >= 3:
                break
        return out
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}expected a dict with keys {sorted(map(str, expected))}, received {describe(actual)}"]
        if set(actual) != set(expected):
            missing = sorted(set(expected) - set(actual), key=repr)
            extra = sorted(set(actual) - set(expected), key=repr)
            return [f"{where}dict keys differ: missing {missing}, unexpected {extra}"]
        out = []
        for k in expected:
            out += compare(actual[k], expected[k], rtol, atol, check_dtype, f"{_where}[{k!r}]")
            if len(out) >= 3:
                break
        return out
    return [] if actual == expected else [f"{where}expected {describe(expected)}, received {describe(actual)}"]


# ---------------------------------------------------------------------------------------------
# expect_* helpers for public checks
# ---------------------------------------------------------------------------------------------
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
    t = _as_tensor(actual)
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


# ---------------------------------------------------------------------------------------------
# check(): run a question's public checks and print a verdict
# ---------------------------------------------------------------------------------------------
def _strict_from_env() -> bool:
    return os.environ.get("NBLIB_STRICT_CHECKS", "").strip().lower() in ("1", "true", "yes", "on")


def _where_raised(exc: BaseException) -> str:
    """The innermost frame outside nblib's check machinery, e.g. ``line 3: return 1 / 0``."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not Path(f.filename).resolve().is_relative_to(_PKG_DIR / "exercises")
              and Path(f.filename).resolve() != Path(__file__).resolve()]
    if not frames:
        return ""
    f = frames[-1]
    code = f" `{f.line.strip()}`" if f.line else ""
    name = "" if f.name == "<module>" else f" in {f.name}()"
    return f"\n  at line {f.lineno}{name}:{code}"


def _verdict(question: str, objs: tuple) -> tuple[str, str]:
    """Run the checks; return (status, message), status in PASS/FAIL/TODO/ERROR/NOCHECK."""
    try:
        checks = checks_for(question)
    except Exception as exc:  # a broken or unknown chapter module
        return "NOCHECK", f"could not load the public checks: {type(exc).__name__}: {exc}"
    if not checks:
        return "NOCHECK", "no public checks are registered for this question (is the id right?)"
    for fn in checks:
        try:
            fn(*objs)
        except CheckFailure as exc:
            return "FAIL", str(exc)
        except NotImplementedError as exc:
            return "TODO", (f"not attempted yet ({str(exc) or 'NotImplementedError'}). "
                            "Write your solution in the exercise cell, run it, then run this cell again.")
        except AssertionError as exc:
            return "FAIL", (str(exc) or "an assertion failed") + _where_raised(exc)
        except Exception as exc:
            return "ERROR", f"your code raised {type(exc).__name__}: {exc}{_where_raised(exc)}"
    n = len(checks)
    return "PASS", f"public checks passed ({n} check{'s' if n > 1 else ''}); graded tests may differ."


def check(question: str, *objs: Any, strict: bool | None = None) -> bool:
    """Run ``question``'s public checks on ``objs``, print a verdict, return True if all passed.

    With ``strict=True`` (or ``NBLIB_STRICT_CHECKS=1`` in the environment) a verdict other
    than PASS raises ``CheckFailure`` (an ``AssertionError``) after printing.
    """
    status, message = _verdict(question, objs)
    text = f"{status} {question}: {message}"
    print(text, flush=True)
    if strict is None:
        strict = _strict_from_env()
    if strict and status != "PASS":
        raise CheckFailure(text) from None
    return status == "PASS"
