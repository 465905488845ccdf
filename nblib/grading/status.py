"""The one vocabulary of outcomes, shared by steps 4 to 6 (tests, score, report).

A graded test ends in a :class:`Status` (:mod:`~nblib.grading.plugin` classifies it), a
question gets the worst status of its tests (:mod:`~nblib.grading.score`), and the gradebook's
``status`` column is that question status (:mod:`~nblib.grading.report`).
"""
from __future__ import annotations

import enum


class Status(str, enum.Enum):
    """A test's or a question's outcome, best first; ``str()`` is the gradebook's word."""

    PASSED = "passed"    # every test passed
    FAILED = "failed"    # a wrong answer (an assertion failed) or a forbidden shortcut
    ERROR = "error"      # the code raised, would not load, returned something ungradable,
    #                      crashed the sandbox, or the sandbox could not start
    TIMEOUT = "timeout"  # the question's time budget ran out; the sandbox was killed
    MISSING = "missing"  # no usable solution cell for the question in the submission

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def rank(self) -> int:
        """0 for ``passed`` up to 4 for ``missing``: a question keeps its worst test's status."""
        return list(Status).index(self)
