"""Step 4 of grading: run a chapter's graded tests under pytest, with the grader's fixtures.

Gets a chapter (step 1) and a session that answers ``call(question, name, args, kwargs)``:
the student's sandbox (step 3, :mod:`~nblib.grading.student`) or the master's solutions
(:class:`~nblib.grading.chapters.ReferenceSession`, for the self-test). Gives step 5
(:mod:`~nblib.grading.score`) an :class:`Outcome`: each test's :class:`Status` and message,
and each test's question and declared points.

The tests run here, in the grader process, never in the sandbox. Fixtures: ``student`` and
``reference`` (a :class:`Proxy` on the session: ``student.sigmoid(x)``), ``rng`` and ``seed``
(from the run's secret seed). Before ``student`` is handed out, the submitted cell is
checked for the names its question forbids (:mod:`~nblib.grading.forbidden`).
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch

from nblib.grading.api import (ForbiddenCall, MissingSolution, SandboxCrashed, StudentError,
                               StudentTimeout)
from nblib.grading.forbidden import forbidden_uses
from nblib.grading.sandbox import StartError
from nblib.grading.status import Status


def _short(exc: BaseException, limit: int = 400) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def classify(exc: BaseException) -> tuple[Status, str]:
    """(status, message) of a test that did not pass."""
    if isinstance(exc, MissingSolution):
        return Status.MISSING, _short(exc)
    if isinstance(exc, StudentTimeout):
        return Status.TIMEOUT, _short(exc)
    if isinstance(exc, SandboxCrashed):
        return Status.ERROR, _short(exc)
    if isinstance(exc, StartError):
        return Status.ERROR, "grader problem, not the submission's: " + _short(exc)
    if isinstance(exc, ForbiddenCall):
        return Status.FAILED, _short(exc)
    if isinstance(exc, StudentError):
        if exc.exc_type == "NotImplementedError":
            return Status.ERROR, "not attempted: the solution still raises NotImplementedError"
        return Status.ERROR, "your code raised " + _short(exc)
    if isinstance(exc, AssertionError):
        return Status.FAILED, _short(exc)
    if isinstance(exc, pytest.fail.Exception):
        return Status.FAILED, _short(exc)
    if isinstance(exc, pytest.skip.Exception):
        return Status.FAILED, "skipped: " + _short(exc)
    return Status.FAILED, f"the result could not be checked ({type(exc).__name__}: {_short(exc, 300)})"


class Proxy:
    """``student.sigmoid(x)`` / ``reference.sigmoid(x)`` for one question."""

    def __init__(self, session: Any, question: str):
        self._session, self._question = session, question

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._session.call(self._question, name, args, kwargs)

        call.__name__ = name
        return call


@dataclass
class Outcome:
    """What one pytest run of a chapter's tests found."""
    results: dict[str, tuple[Status, str]] = field(default_factory=dict)  # nodeid -> (status, message)
    items: dict[str, tuple[str, float | None]] = field(default_factory=dict)  # nodeid -> (q, points)
    undecorated: list[Any] = field(default_factory=list)
    collect_errors: list[str] = field(default_factory=list)
    forbidden: dict[str, list[str]] = field(default_factory=dict)  # q -> the modules' FORBIDDEN names


class GradingPlugin:
    """The pytest plugin of one run: collects the graded tests, provides the fixtures, classifies."""

    def __init__(self, chapter, session, run_seed: int, check_forbidden: bool):
        self.chapter, self.session, self.run_seed = chapter, session, run_seed
        self.check_forbidden = check_forbidden
        self.outcome = Outcome()
        self._forbidden_cache: dict[str, list[str]] = {}

    # -- collection ---------------------------------------------------------------------------
    def pytest_collectreport(self, report):
        if report.failed:
            self.outcome.collect_errors.append(f"{report.nodeid or 'collection'}: {str(report.longrepr)[-1500:]}")

    def pytest_collection_modifyitems(self, session, config, items):
        for item in items:
            fn = getattr(item, "function", None)
            q = getattr(fn, "__nblib_question__", None)
            if q is None:
                self.outcome.undecorated.append(item)
                continue
            self.outcome.items[item.nodeid] = (q, getattr(fn, "__nblib_points__", None))
            module_forbidden = getattr(getattr(item, "module", None), "FORBIDDEN", None) or {}
            if isinstance(module_forbidden, dict):
                for k, names in module_forbidden.items():
                    merged = self.outcome.forbidden.setdefault(k, [])
                    merged += [n for n in names if n not in merged]
        items[:] = [i for i in items if i.nodeid in self.outcome.items]

    # -- fixtures -----------------------------------------------------------------------------
    def _question(self, request) -> str:
        q = getattr(request.function, "__nblib_question__", None)
        if q is None:
            raise RuntimeError("graded tests need @question('NN-name', points=...)")
        return q

    @pytest.fixture
    def student(self, request):
        q = self._question(request)
        if self.check_forbidden and self.outcome.forbidden.get(q):
            if q not in self._forbidden_cache:
                src = self.session.sources.get(q)
                self._forbidden_cache[q] = forbidden_uses(src, self.outcome.forbidden[q]) if src else []
            if self._forbidden_cache[q]:
                raise ForbiddenCall("uses what this exercise forbids: " + ", ".join(self._forbidden_cache[q]))
        return Proxy(self.session, q)

    @pytest.fixture
    def reference(self, request):
        return Proxy(self.chapter.reference(), self._question(request))

    @pytest.fixture
    def seed(self, request) -> int:
        digest = hashlib.sha256(f"{self.run_seed}:{request.node.nodeid}".encode()).digest()
        return int.from_bytes(digest[:8], "little") >> 1

    @pytest.fixture
    def rng(self, seed) -> torch.Generator:
        g = torch.Generator()
        g.manual_seed(seed)
        return g

    # -- outcomes -----------------------------------------------------------------------------
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = (yield).get_result()
        nodeid = item.nodeid
        if report.when == "call" and report.passed and nodeid not in self.outcome.results:
            self.outcome.results[nodeid] = (Status.PASSED, "")
        elif (report.failed or report.skipped) and nodeid not in self.outcome.results:
            exc = call.excinfo.value if call.excinfo is not None else RuntimeError("failed")
            self.outcome.results[nodeid] = classify(exc)


_INI = None


def _forget_test_modules(folder) -> None:
    folder = os.path.realpath(folder)
    for name, mod in list(sys.modules.items()):
        f = getattr(mod, "__file__", None)
        if f and os.path.realpath(f).startswith(folder + os.sep):
            del sys.modules[name]


def run_tests(chapter, session, run_seed: int, check_forbidden: bool) -> Outcome:
    """Run ``chapter.tests`` under pytest, in this process, with our fixtures."""
    global _INI
    if _INI is None:
        _INI = os.path.join(tempfile.mkdtemp(prefix="nblib-pytest-"), "pytest.ini")
        with open(_INI, "w") as f:
            f.write("[pytest]\n")
    plugin = GradingPlugin(chapter, session, run_seed, check_forbidden)
    args = [str(chapter.tests), "-c", _INI, "--rootdir", str(chapter.tests), "-o", "addopts=",
            "-p", "no:cacheprovider", "-p", "no:terminal", "-p", "no:warnings", "-p", "no:logging",
            "--import-mode=importlib", "--capture=sys"]
    _forget_test_modules(chapter.tests)  # same-named test files of another chapter must not be reused
    old = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        code = pytest.main(args, plugins=[plugin])
    finally:
        _forget_test_modules(chapter.tests)
        if old is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = old
    if code in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        raise RuntimeError(f"pytest could not run {chapter.tests} (exit code {int(code)})")
    return plugin.outcome
