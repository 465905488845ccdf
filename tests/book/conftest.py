"""The one full-settings execution of each chapter, shared by every test that needs it.

``full_run(path)`` executes a chapter at most once per test session (see ``execution.py``):
``test_chapters.py`` asserts that each run succeeded, and ``test_book.py`` renders the book from
those runs. A line in the log says when each chapter is executed and how long it took, at
full settings (here) and in smoke mode (``log`` in ``test_chapters.py``).
"""
from __future__ import annotations

import pytest

from execution import Execution, execute


@pytest.fixture(scope="session")
def log(request):
    """``log(text)``: one line in pytest's output, even when it captures the test's own."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")

    def write(text: str) -> None:
        with capture.global_and_fixture_disabled():   # past pytest's capture of the test
            reporter.write_line(text)

    return write


@pytest.fixture(scope="session")
def full_run(log):
    done: dict[str, Execution] = {}

    def run(path) -> Execution:
        if path.stem not in done:
            done[path.stem] = result = execute(path)
            verdict = "ok" if result.ok else "FAILED"
            log(f"[full settings] executed {path.stem} once: {verdict} in {result.seconds:.1f} s")
        return done[path.stem]

    return run
