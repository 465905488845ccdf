"""Learner self-checks for the book's exercises: instant, readable feedback in the notebook.

In a chapter, right after an exercise cell::

    from nblib.exercises import check                # done once, by nblib.start
    check("01-softplus", softplus, softplus_grad)    # the cell tagged ``public-check``

``check(question, *objs)`` runs the public checks registered for ``question`` (in
``nblib/exercises/chNN.py``, see :mod:`nblib.exercises`) on the objects you pass and
prints one short verdict:

- ``PASS 01-softplus: public checks passed (5 checks); graded tests may differ.``
- ``FAIL 01-softplus: ...`` with what was expected and what was received (type, shape,
  dtype, a few values, the largest difference and where) and the check's first hint (one
  more tier after each further failure, or all of the first ``k`` with ``hint=k``);
- ``TODO 01-softplus: not attempted yet`` when the function still raises the stub's
  ``NotImplementedError``;
- ``ERROR 01-softplus: your code raised ...`` with the line of your code that raised.

Behaviour (so that "Run all" keeps going for a learner, and CI still catches a broken
reference solution):

- By default ``check`` never raises: it prints the verdict and returns ``True``/``False``.
- In strict mode it prints the verdict and then raises ``AssertionError`` (a
  ``CheckFailure``) unless every check passed. Strict mode is on when ``strict=True`` is
  passed, or when the environment variable ``NBLIB_STRICT_CHECKS=1`` is set (CI sets it
  when executing the master notebooks; ``nblib check NOTEBOOK`` uses it too).

Helpers for writing public checks (each raises ``CheckFailure`` with a readable message):
``expect_close``, ``expect_equal``, ``expect_shape``, ``expect_dtype``, ``expect_true``,
``expect_raises`` (:mod:`nblib.exercises.expect`). The comparison they use (:func:`nblib.compare.compare`) is shared with the graded
tests' :func:`nblib.grading.assert_close`.

No security here: public checks run in the learner's own kernel and prove nothing to a
grader. The instructor's grader (``nblib grade``) runs different, hidden tests in a sandbox.
"""
from __future__ import annotations

import os
import traceback
from pathlib import Path
from typing import Any

from nblib.exercises.expect import CheckFailure
from nblib.exercises.registry import checks_for

__all__ = ["check"]

_EXERCISES_DIR = Path(__file__).resolve().parent


def _strict_from_env() -> bool:
    return os.environ.get("NBLIB_STRICT_CHECKS", "").strip().lower() in ("1", "true", "yes", "on")


def _where_raised(exc: BaseException) -> str:
    """The innermost frame outside nblib's check machinery, e.g. ``line 3: return 1 / 0``."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not Path(f.filename).resolve().is_relative_to(_EXERCISES_DIR)]
    if not frames:
        return ""
    f = frames[-1]
    code = f" `{f.line.strip()}`" if f.line else ""
    name = "" if f.name == "<module>" else f" in {f.name}()"
    return f"\n  at line {f.lineno}{name}:{code}"


# How many times each question has failed in this kernel: the next hint tier to show.
_failures: dict[str, int] = {}


def _verdict(question: str, objs: tuple, hint: int | None = None) -> tuple[str, str]:
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
            _failures[question] = _failures.get(question, 0) + 1
            return "FAIL", exc.render(hint or _failures[question])
        except NotImplementedError as exc:
            return "TODO", (f"not attempted yet ({str(exc) or 'NotImplementedError'}). "
                            "Write your solution in the exercise cell, run it, then run this cell again.")
        except AssertionError as exc:
            return "FAIL", (str(exc) or "an assertion failed") + _where_raised(exc)
        except Exception as exc:
            return "ERROR", f"your code raised {type(exc).__name__}: {exc}{_where_raised(exc)}"
    n = len(checks)
    return "PASS", f"public checks passed ({n} check{'s' if n > 1 else ''}); graded tests may differ."


def check(question: str, *objs: Any, strict: bool | None = None, hint: int | None = None) -> bool:
    """Run ``question``'s public checks on ``objs``, print a verdict, return True if all passed.

    A failure shows the check's first hint; each later failure of the same question shows one
    more tier, and ``hint=k`` asks for the first ``k`` tiers at once.

    With ``strict=True`` (or ``NBLIB_STRICT_CHECKS=1`` in the environment) a verdict other
    than PASS raises ``CheckFailure`` (an ``AssertionError``) after printing.
    """
    if hint is not None and (isinstance(hint, bool) or not isinstance(hint, int) or hint < 1):
        raise ValueError(f"hint must be a tier number >= 1, such as hint=2; got {hint!r}")
    status, message = _verdict(question, objs, hint)
    text = f"{status} {question}: {message}"
    print(text, flush=True)
    if strict is None:
        strict = _strict_from_env()
    if strict and status != "PASS":
        raise CheckFailure(text) from None
    return status == "PASS"
