"""Registry of the public self-checks of the book's exercises.

Each chapter with exercises has a module ``nblib/exercises/chNN.py`` that registers
the public checks of its questions::

    import torch
    from nblib.exercises.expect import expect_close
    from nblib.exercises.registry import public_check

    @public_check("01-softplus")
    def _(softplus, softplus_grad):
        x = torch.linspace(-6, 6, 13, dtype=torch.float64)
        expected = torch.logaddexp(torch.zeros_like(x), x)   # log(1 + e^x), PyTorch's way
        expect_close(softplus(x), expected, what="softplus(linspace(-6, 6, 13))",
                     hint=("check by hand that softplus(0) = log 2 = 0.693",
                           "for large positive x it approaches x, for very negative x it "
                           "approaches 0 from above: compare your values at -6 and 6"))

The hint is a tuple of tiers, a direction first, more detail after (the learner sees one more
per failure, see :mod:`nblib.exercises.verdict`); no tier gives the solution's code or formula.

A question id is ``"<NN>-<name>"``; ``NN`` (the chapter number) picks the module
``nblib.exercises.chNN``. A public check receives the objects given to
``check(question, *objs)`` in the notebook, and fails by raising ``CheckFailure``
(the ``expect_*`` helpers of :mod:`nblib.exercises.expect` do that). A question may have several
public checks; they run in the order they were registered.

Public checks are for learners: they are readable, run on Colab, and prove little.
Graded tests live outside the package, under ``grading/`` (see :mod:`nblib.grading`).
"""
from __future__ import annotations

import importlib
from typing import Callable

from nblib.questions import QUESTION_RE

_REGISTRY: dict[str, list[Callable]] = {}


def public_check(question: str) -> Callable[[Callable], Callable]:
    """Decorator: register ``fn`` as a public check of ``question`` (e.g. ``"01-softplus"``)."""
    if not QUESTION_RE.match(question):
        raise ValueError(f"question id {question!r} must look like 'NN-name', e.g. '01-softplus'")

    def register(fn: Callable) -> Callable:
        checks = _REGISTRY.setdefault(question, [])
        # Re-running a module (importlib.reload, a notebook re-run) must not double the checks.
        key = (getattr(fn, "__module__", None), getattr(fn, "__qualname__", None),
               getattr(getattr(fn, "__code__", None), "co_firstlineno", None))
        checks[:] = [f for f in checks if (getattr(f, "__module__", None), getattr(f, "__qualname__", None),
                                            getattr(getattr(f, "__code__", None), "co_firstlineno", None)) != key]
        checks.append(fn)
        return fn

    return register


def chapter_module(question: str) -> str:
    """The module holding ``question``'s checks: ``"01-softplus"`` -> ``"nblib.exercises.ch01"``."""
    m = QUESTION_RE.match(question)
    if not m:
        raise ValueError(f"question id {question!r} must look like 'NN-name', e.g. '01-softplus'")
    return f"nblib.exercises.ch{m.group(1)}"


def checks_for(question: str) -> list[Callable]:
    """The public checks registered for ``question`` (imports its chapter module first)."""
    module = chapter_module(question)
    if question not in _REGISTRY:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return list(_REGISTRY.get(question, []))
