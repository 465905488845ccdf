"""The one full-settings execution of each chapter, shared by every test that needs it.

``full_run(path)`` executes a chapter at most once per test session (see ``execution.py``):
``test_chapters.py`` asserts that each run succeeded, and ``test_book.py`` renders the book from
those runs. A line in the log says when each chapter is executed and how long it took.
"""
from __future__ import annotations

import pytest

from execution import Execution, execute


@pytest.fixture(scope="session")
def full_run(request):
    done: dict[str, Execution] = {}
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")

    def run(path) -> Execution:
        if path.stem not in done:
            done[path.stem] = result = execute(path)
            if reporter is not None:
                verdict = "ok" if result.ok else "FAILED"
                reporter.write_line(f"[full settings] executed {path.stem} once: {verdict} in "
                                    f"{result.seconds:.1f} s")
        return done[path.stem]

    return run
