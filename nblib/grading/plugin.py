"""The pytest side of grading: fixtures ``student``, ``reference``, ``rng``, ``seed`` and the
classification of each test's outcome. Tests run in the grader process, never in the sandbox.
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
from nblib.grading.sandbox import StartError
from nblib.grading.static import forbidden_uses


def _short(exc: BaseException, limit: int = 400) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def classify(exc: BaseException) -> tuple[str, str]:
    """(kind, message) of a test that did not pass."""
    if isinstance(exc, MissingSolution):
        return "missing", _short(exc)
    if isinstance(exc, StudentTimeout):
        return "timeout", _short(exc)
    if isinstance(exc, SandboxCrashed):
        return "crash", _short(exc)
    if isinstance(exc, StartError):
        return "infra", "grader problem, not the submission's: " + _short(exc)
    if isinstance(exc, ForbiddenCall):
        return "forbidden", _short(exc)
    if isinstance(exc, StudentError):
        if exc.exc_type == "NotImplementedError":
            return "error", "not attempted: the solution still raises NotImplementedError"
        return "error", "your code raised " + _short(exc)
    if isinstance(exc, AssertionError):
        return "failed", _short(exc)
    if isinstance(exc, pytest.fail.Exception):
        return "failed", _short(exc)
    if isinstance(exc, pytest.skip.Exception):
        return "failed", "skipped: " + _short(exc)
    return "failed", f"the result could not be checked ({type(exc).__name__}: {_short(exc, 300)})"


@dataclass
class Outcome:
    results: dict[str, tuple[str, str]] = field(default_factory=dict)   # nodeid -> (kind, message)
    items: dict[str, tuple[str, float | None]] = field(default_factory=dict)  # nodeid -> (q, points)
    undecorated: list[Any] = field(default_factory=list)
    collect_errors: list[str] = field(default_factory=list)
    forbidden: dict[str, list[str]] = field(default_factory=dict)


class GradingPlugin:
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
        from nblib.grading.runner import Proxy
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
        from nblib.grading.runner import Proxy
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
            self.outcome.results[nodeid] = ("passed", "")
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
