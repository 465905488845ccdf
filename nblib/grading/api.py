"""What graded tests import (they run in step 4): the ``question`` decorator, ``assert_close``
and the exceptions that a call into the student's code can raise. Kept free of pytest and of
the sandbox so that importing it is cheap (see :mod:`nblib.grading` for the guide)."""
from __future__ import annotations

from typing import Any, Callable

from nblib.compare import compare, describe
from nblib.questions import QUESTION_RE


class StudentError(Exception):
    """The student's code raised (or would not load, or returned something unsendable).

    ``exc_type`` is the name of the student's exception (e.g. ``"ValueError"``), and
    ``str()`` reads ``"ValueError: message (line 3 of the solution cell)"``.
    """

    def __init__(self, exc_type: str, message: str, where: str = ""):
        self.exc_type, self.message, self.where = exc_type, message, where
        super().__init__(f"{exc_type}: {message}" + (f" ({where})" if where else ""))


class StudentTimeout(Exception):
    """The student's code used up the question's time budget; the sandbox was killed."""


class SandboxCrashed(Exception):
    """The sandbox process died (os._exit, a signal, out of memory) or broke the protocol."""


class MissingSolution(Exception):
    """The submission has no usable solution cell for the question."""


class ForbiddenCall(AssertionError):
    """The submitted cell mentions a name its question forbids (``FORBIDDEN`` in the tests)."""


def question(question_id: str, points: float | None = None) -> Callable[[Callable], Callable]:
    """Mark a pytest test as a graded test of ``question_id`` worth ``points``.

    ``points`` may be left out on all tests of a question: its points are then split
    equally over them (see :mod:`nblib.grading`).
    """
    if not isinstance(question_id, str) or not QUESTION_RE.match(question_id):
        raise ValueError(f"question id {question_id!r} must look like 'NN-name', e.g. '01-softplus'")
    if points is not None and (not isinstance(points, (int, float)) or isinstance(points, bool) or points < 0):
        raise ValueError(f"points for {question_id} must be a number >= 0, not {points!r}")

    def mark(fn: Callable) -> Callable:
        fn.__nblib_question__ = question_id
        fn.__nblib_points__ = points
        return fn

    return mark


def assert_close(actual: Any, expected: Any, rtol: float = 1e-5, atol: float = 1e-8, *,
                 check_dtype: bool = False, msg: str | None = None) -> None:
    """Assert ``actual`` (the student's) is close to ``expected`` (the reference's).

    Tensors: same shape, values within tolerance (dtype only if ``check_dtype``); numbers;
    lists, tuples and dicts element by element; strings, bools, None exactly.
    """
    problems = compare(actual, expected, rtol, atol, check_dtype)
    if problems:
        head = (msg + "\n") if msg else ""
        raise AssertionError(f"{head}expected: {describe(expected)}\nreceived: {describe(actual)}\n"
                             + "\n".join(problems))


def assert_inputs_unchanged(proxy: Any, args: tuple, kwargs: dict | None = None, *,
                            positions: tuple[int, ...] | None = None) -> None:
    """Assert the last call through ``proxy`` (``student`` or ``reference``) left its arguments
    as they were sent: ``args`` and ``kwargs`` are the values the test passed; ``positions``
    limits the check to those positional arguments (the ones the exercise says are kept).

    Arguments reach the sandbox as copies, so an in-place change (``p -= lr * g``, ``x.mul_(2)``)
    cannot show in the test's own tensors; the sandbox sends the arguments back as the call
    left them, and this compares them exactly.
    """
    after = proxy._session.inputs_after.get(proxy._question)
    if after is None:
        raise AssertionError("the arguments of the last call could not be read back "
                             "(call the function first, with tensors, numbers and lists)")
    names = [f"argument {i + 1}" for i in range(len(args))] + [f"`{k}`" for k in (kwargs or {})]
    sent = list(args) + list((kwargs or {}).values())
    got = list(after[0]) + [after[1].get(k) for k in (kwargs or {})]
    keep = range(len(sent)) if positions is None else positions
    for i in keep:
        name, before, now = names[i], sent[i], got[i]
        if compare(now, before, 0.0, 0.0, True):
            raise AssertionError(f"{name} was changed in place by the call "
                                 f"(sent {describe(before)}, after the call {describe(now)}); "
                                 "compute new tensors instead of modifying the inputs")
