"""Grading one chapter for one submission: sessions (student in the sandbox, reference in the
grader), the pytest run with our fixtures, and the per-question verdicts.

A ``StudentSession`` serves all questions of one student's chapter from one sandbox, and
restarts the sandbox only after a timeout or a crash (which zeroes that question alone).
Each question has a wall-clock budget (``Limits.timeout``) for loading its cell plus all
calls its tests make.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nblib.grading import channel
from nblib.grading.api import MissingSolution, SandboxCrashed, StudentError, StudentTimeout
from nblib.grading.format import PRELUDE, Question, master_questions, read_json_notebook, runnable
from nblib.grading.sandbox import Died, Limits, Sandbox, Timeout

STATUSES = ("passed", "failed", "error", "timeout", "missing")


class ConfigError(RuntimeError):
    """The instructor's material (masters, tests, points) is inconsistent: fix before grading."""


# ---------------------------------------------------------------------------------------------
class ReferenceSession:
    """The master notebook's solution cells, run in the grader (trusted code)."""

    def __init__(self, questions: dict[str, Question]):
        self.questions = questions
        self._ns: dict[str, dict] = {}

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
        try:
            result = fn(*args, **kwargs)
        except Exception as err:  # raised the way the student side raises, so tests treat both alike
            raise StudentError(type(err).__name__, str(err), f"reference solution of {q}") from err
        return channel.roundtrip(result)


class StudentSession:
    """One student's solution cells for one chapter, served by a (re)started sandbox."""

    def __init__(self, sources: dict[str, str | None], limits: Limits, mode: str, slot: int = 0):
        self.sources, self.limits, self.mode, self.slot = sources, limits, mode, slot
        self.used: dict[str, float] = {}
        self.dead: dict[str, Exception] = {}       # question -> StudentTimeout / SandboxCrashed
        self.load_errors: dict[str, StudentError] = {}
        self.sandbox: Sandbox | None = None
        self.loaded: set[str] = set()

    def _sandbox(self) -> Sandbox:
        if self.sandbox is None or not self.sandbox.alive:
            if self.sandbox is not None:
                self.sandbox.close()
            self.sandbox, self.loaded = Sandbox(self.limits, self.mode, self.slot), set()
            self.sandbox.start()  # StartError propagates: not the student's fault
        return self.sandbox

    def _request(self, q: str, msg: dict) -> dict:
        sb = self._sandbox()
        budget = self.limits.timeout - self.used.get(q, 0.0)
        t0 = time.monotonic()
        try:
            if budget <= 0:
                raise Timeout()
            return sb.request(msg, t0 + budget)
        except Timeout:
            sb.close()
            self.dead[q] = StudentTimeout(f"ran longer than {self.limits.timeout:g} s in total; stopped")
            raise self.dead[q] from None
        except (Died, channel.ProtocolError) as exc:
            why = sb.describe_death() if isinstance(exc, Died) else f"the sandbox broke the protocol ({exc})"
            sb.close()
            self.dead[q] = SandboxCrashed(why)
            raise self.dead[q] from None
        finally:
            self.used[q] = self.used.get(q, 0.0) + time.monotonic() - t0

    def call(self, q: str, name: str, args: tuple, kwargs: dict) -> Any:
        if q in self.dead:
            raise type(self.dead[q])(str(self.dead[q]))
        if q in self.load_errors:
            raise self.load_errors[q]
        source = self.sources.get(q)
        if source is None:
            raise MissingSolution(f"no solution cell for {q} in the submission")
        encoded = {"args": channel.encode(list(args)), "kwargs": channel.encode(dict(kwargs))}
        if q not in self.loaded or not (self.sandbox and self.sandbox.alive):
            self._sandbox()
            if q not in self.loaded:
                answer = self._request(q, {"op": "load", "question": q, "source": runnable(source)})
                if not answer["ok"]:
                    self.load_errors[q] = _student_error(answer, prefix="the cell failed to run: ")
                    raise self.load_errors[q]
                self.loaded.add(q)
        answer = self._request(q, {"op": "call", "question": q, "name": name, **encoded})
        if not answer["ok"]:
            raise _student_error(answer)
        try:
            return channel.decode(answer.get("value"))
        except channel.ProtocolError as exc:
            raise StudentError("BadResult", f"the result could not be decoded: {exc}") from None

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None


def _student_error(answer: dict, prefix: str = "") -> StudentError:
    err = answer.get("error")
    err = err if isinstance(err, dict) else {}
    text = lambda k: str(err.get(k, ""))[:500]  # noqa: E731
    return StudentError(text("type") or "Error", prefix + text("message"), text("where"))


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


# ---------------------------------------------------------------------------------------------
@dataclass
class TestPlan:
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
    plan: list[TestPlan] = field(default_factory=list)
    forbidden: dict[str, list[str]] = field(default_factory=dict)
    _reference: ReferenceSession | None = None

    @classmethod
    def load(cls, master: Path, tests: Path) -> "Chapter":
        ch = cls(master.stem, master, tests)
        ch.questions = master_questions(read_json_notebook(master), str(master))
        return ch

    def reference(self) -> ReferenceSession:
        if self._reference is None:
            self._reference = ReferenceSession(self.questions)
        return self._reference


@dataclass
class QuestionResult:
    question: str
    points: float
    max_points: float
    status: str
    message: str


def self_test(chapter: Chapter, run_seed: int) -> None:
    """Run the chapter's tests with the reference as the student; fill ``chapter.plan``."""
    from nblib.grading.plugin import run_tests
    outcome = run_tests(chapter, chapter.reference(), run_seed, check_forbidden=False)
    problems = [f"{e}" for e in outcome.collect_errors]
    problems += [f"{t.nodeid}: not decorated with @question(...)" for t in outcome.undecorated]
    for nodeid, (kind, msg) in outcome.results.items():
        if kind != "passed":
            problems.append(f"{nodeid} fails against the reference solution: {msg}")
    by_q: dict[str, list[tuple[str, float | None]]] = {}
    for nodeid, (q, pts) in outcome.items.items():
        if q not in chapter.questions:
            problems.append(f"{nodeid}: question {q} is not a solution cell of {chapter.master.name}")
            continue
        by_q.setdefault(q, []).append((nodeid, pts))
    plan = []
    for q, spec in chapter.questions.items():
        tests = by_q.get(q, [])
        if not tests:
            problems.append(f"{q} ({spec.points:g} points) has no graded test in {chapter.tests}")
            continue
        declared = [p for _, p in tests]
        if all(p is None for p in declared):
            plan += [TestPlan(n, q, spec.points / len(tests)) for n, _ in tests]
        elif any(p is None for p in declared):
            problems.append(f"{q}: give points= on all of its tests or on none")
        elif abs(sum(declared) - spec.points) > 1e-9:
            problems.append(f"{q}: its tests add up to {sum(declared):g} points, the notebook says {spec.points:g}")
        else:
            plan += [TestPlan(n, q, p) for n, p in tests]
    if problems:
        raise ConfigError(f"chapter {chapter.name}:\n  " + "\n  ".join(problems))
    chapter.plan = plan
    chapter.forbidden = outcome.forbidden


_RANK = {"passed": 0, "failed": 1, "error": 2, "timeout": 3, "missing": 4}


def grade_chapter(chapter: Chapter, sources: dict[str, str | None], limits: Limits, mode: str,
                  run_seed: int, slot: int = 0) -> list[QuestionResult]:
    """Grade one submission's chapter; never raises for anything the submission does."""
    from nblib.grading.plugin import run_tests
    session = StudentSession(sources, limits, mode, slot)
    try:
        outcome = run_tests(chapter, session, run_seed, check_forbidden=True)
    finally:
        session.close()
    results = []
    for q, spec in chapter.questions.items():
        tests = [t for t in chapter.plan if t.question == q]
        earned, status, message = 0.0, "passed", ""
        if sources.get(q) is None:
            status, message = "missing", "no solution cell for this question in the submission"
        else:
            for t in tests:
                kind, msg = outcome.results.get(t.nodeid, ("error", "this test did not run"))
                if kind == "passed":
                    earned += t.points
                    continue
                kind = {"forbidden": "failed", "crash": "error", "infra": "error"}.get(kind, kind)
                if _RANK[kind] > _RANK[status]:
                    status, message = kind, f"{t.nodeid.split('::')[-1]}: {msg}"
            if q in session.dead:  # a timeout or crash zeroes the question, whatever else passed
                dead = session.dead[q]
                status = "timeout" if isinstance(dead, StudentTimeout) else "error"
                earned, message = 0.0, str(dead) if not message else message
        results.append(QuestionResult(q, round(earned, 6), spec.points, status, message))
    return results
