"""Step 1 of grading: find the chapters to grade, each a master notebook plus its graded tests.

Gets from ``grade``: the tests folder (``grading/``) and the masters folder (``chapters/``).
A chapter is gradable when ``grading/<stem>/`` holds ``test_*.py`` files and
``chapters/<stem>.ipynb`` exists. Its questions (id, points, reference source) are read from
the master's solution cells (:mod:`nblib.exercises.format`); its test plan (which test is
worth how many points) is filled by the self-test (:func:`nblib.grading.grade.self_test`,
with :func:`nblib.grading.score.plan_points`).

The master's solutions are trusted: :class:`ReferenceSession` runs them here, in the grader,
and answers the ``reference`` fixture the same way the sandbox answers ``student``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nblib.exercises.format import PRELUDE, Question, master_questions, read_json_notebook, runnable
from nblib.grading import channel
from nblib.grading.api import StudentError


class ConfigError(RuntimeError):
    """The instructor's material (masters, tests, points) is inconsistent: fix before grading."""


@dataclass
class TestPlan:
    """One graded test: its pytest node id, its question and the points it is worth."""
    nodeid: str
    question: str
    points: float


@dataclass
class Chapter:
    """A gradable chapter: master notebook + its folder of graded tests."""
    name: str
    master: Path
    tests: Path
    questions: dict[str, Question] = field(default_factory=dict)
    plan: list[TestPlan] = field(default_factory=list)   # filled by the self-test
    _reference: ReferenceSession | None = None

    @classmethod
    def load(cls, master: Path, tests: Path) -> "Chapter":
        ch = cls(master.stem, master, tests)
        ch.questions = master_questions(read_json_notebook(master), str(master))
        return ch

    def reference(self) -> ReferenceSession:
        """The master's solutions, run once per process and kept for every submission."""
        if self._reference is None:
            self._reference = ReferenceSession(self.questions)
        return self._reference


class ReferenceSession:
    """The master notebook's solution cells, run in the grader (trusted code)."""

    def __init__(self, questions: dict[str, Question]):
        self.questions = questions
        self._ns: dict[str, dict] = {}
        self.inputs_after: dict[str, tuple | None] = {}

    def call(self, q: str, name: str, args: tuple, kwargs: dict) -> Any:
        if q not in self._ns:
            ns: dict = {"__name__": "__reference__"}
            exec(PRELUDE, ns)
            exec(compile(runnable(self.questions[q].source), f"<reference {q}>", "exec"), ns)
            self._ns[q] = ns
        fn = self._ns[q].get(name)
        if fn is None:
            raise ConfigError(f"the reference solution of {q} defines no `{name}`")
        args, kwargs = channel.roundtrip((tuple(args), dict(kwargs)))
        self.inputs_after[q] = None
        try:
            result = fn(*args, **kwargs)
        except Exception as err:  # raised the way the student side raises, so tests treat both alike
            raise StudentError(type(err).__name__, str(err), f"reference solution of {q}") from err
        self.inputs_after[q] = channel.roundtrip((tuple(args), dict(kwargs)))
        return channel.roundtrip(result)


def discover_chapters(tests: Path, masters: Path, only: list[str] | None = None) -> list[Chapter]:
    """Every ``tests/<stem>/`` with ``test_*.py`` files and a master ``masters/<stem>.ipynb``."""
    chapters = []
    if not tests.is_dir():
        raise ConfigError(f"{tests}: no such tests folder")
    for d in sorted(p for p in tests.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        if not any(d.glob("test_*.py")) or (only and d.name not in only):
            continue
        master = masters / f"{d.name}.ipynb"
        if not master.is_file():
            raise ConfigError(f"{d} has graded tests but there is no master notebook {master}")
        try:
            chapters.append(Chapter.load(master, d))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    if not chapters:
        raise ConfigError(f"{tests}: no chapter folders with test_*.py files")
    return chapters
