"""Step 5 of grading: points. What each test is worth, and what each question earned.

Gets from step 4 (:mod:`~nblib.grading.plugin`) an ``Outcome``: each test's status and
message, and the question and ``points=`` each test declares. Gives step 6
(:mod:`~nblib.grading.report`) one :class:`QuestionResult` per question.

- :func:`plan_points` (at the self-test, with the reference as the student): every test
  passed and belongs to a question of the master; a question's tests add up to its
  ``grading.points`` (or none declares points, and they share them equally).
- :func:`score` (per submission): a question earns the points of its tests that passed; its
  status is its worst test's (:class:`~nblib.grading.status.Status`, best first), with that
  test's message; a timeout or a sandbox crash zeroes the question, whatever else passed.
"""
from __future__ import annotations

from dataclasses import dataclass

from nblib.grading.api import StudentTimeout
from nblib.grading.chapters import Chapter, ConfigError, TestPlan
from nblib.grading.plugin import Outcome
from nblib.grading.status import Status


@dataclass
class QuestionResult:
    """One gradebook row, before it is written: a question's points and status."""
    question: str
    points: float
    max_points: float
    status: Status
    message: str


def plan_points(chapter: Chapter, outcome: Outcome) -> list[TestPlan]:
    """The points of each test, from a run against the reference; ``ConfigError`` if inconsistent."""
    problems = list(outcome.collect_errors)
    problems += [f"{t.nodeid}: not decorated with @question(...)" for t in outcome.undecorated]
    for nodeid, (status, msg) in outcome.results.items():
        if status is not Status.PASSED:
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
    return plan


def score(chapter: Chapter, sources: dict[str, str | None], outcome: Outcome,
          dead: dict[str, Exception]) -> list[QuestionResult]:
    """Sum the points of one submission's chapter (``dead``: question -> timeout or crash)."""
    results = []
    for q, spec in chapter.questions.items():
        earned, status, message = 0.0, Status.PASSED, ""
        if sources.get(q) is None:
            status, message = Status.MISSING, "no solution cell for this question in the submission"
        else:
            for t in (t for t in chapter.plan if t.question == q):
                got, msg = outcome.results.get(t.nodeid, (Status.ERROR, "this test did not run"))
                if got is Status.PASSED:
                    earned += t.points
                elif got.rank > status.rank:
                    status, message = got, f"{t.nodeid.split('::')[-1]}: {msg}"
            if q in dead:  # a timeout or crash zeroes the question, whatever else passed
                status = Status.TIMEOUT if isinstance(dead[q], StudentTimeout) else Status.ERROR
                earned, message = 0.0, str(dead[q]) if not message else message
        results.append(QuestionResult(q, round(earned, 6), spec.points, status, message))
    return results


def zero_results(chapter: Chapter, status: Status, message: str) -> list[QuestionResult]:
    """Every question of ``chapter`` at 0 points with one status and message (nothing was run)."""
    return [QuestionResult(q, 0.0, spec.points, status, message) for q, spec in chapter.questions.items()]
