"""Steps 3 to 5 for every job: grade one (student, chapter), and a whole batch of them.

Gets from step 2 (:mod:`~nblib.grading.submission`) the jobs; gives step 6
(:mod:`~nblib.grading.report`) a list of ``QuestionResult`` per (student, chapter).

:func:`grade_chapter` is one job: start the student's sandbox (step 3,
:mod:`~nblib.grading.student`), run the chapter's graded tests against it (step 4,
:mod:`~nblib.grading.plugin`), sum the points (step 5, :mod:`~nblib.grading.score`). It never
raises for anything the submission does. :func:`run_jobs` runs the jobs one at a time, or
N at a time in ``python -m nblib.grading.worker`` processes spoken to in JSON lines
(``--jobs N``; each worker has its own sandbox uid). A grader error zeroes that job only.
"""
from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from dataclasses import asdict

from nblib.grading.chapters import Chapter
from nblib.grading.plugin import run_tests
from nblib.grading.sandbox import Limits
from nblib.grading.score import QuestionResult, score, zero_results
from nblib.grading.status import Status
from nblib.grading.student import StudentSession
from nblib.grading.submission import Job


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def grade_chapter(chapter: Chapter, sources: dict[str, str | None], limits: Limits, mode: str,
                  run_seed: int, slot: int = 0) -> list[QuestionResult]:
    """Grade one submission's chapter; never raises for anything the submission does."""
    session = StudentSession(sources, limits, mode, slot)
    try:
        outcome = run_tests(chapter, session, run_seed, check_forbidden=True)
    finally:
        session.close()
    return score(chapter, sources, outcome, session.dead)


def results_to_json(results: list[QuestionResult]) -> list[list]:
    return [[r.question, r.points, r.max_points, str(r.status), r.message] for r in results]


def results_from_json(rows: list[list]) -> list[QuestionResult]:
    return [QuestionResult(q, pts, mx, Status(status), msg) for q, pts, mx, status, msg in rows]


class WorkerProcess:
    """A ``python -m nblib.grading.worker`` child, spoken to in JSON lines."""

    def __init__(self, setup: dict):
        self.setup = setup
        self.proc = subprocess.Popen([sys.executable, "-m", "nblib.grading.worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, encoding="utf-8")
        self.proc.stdin.write(json.dumps(setup) + "\n")
        self.proc.stdin.flush()
        if json.loads(self.proc.stdout.readline() or "{}").get("ready") is not True:
            raise RuntimeError("grading worker failed to start")

    def grade(self, job: Job) -> list[QuestionResult]:
        self.proc.stdin.write(json.dumps({"student": job.student, "chapter": job.chapter,
                                          "sources": job.sources}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("grading worker died")
        return results_from_json(json.loads(line)["results"])

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except Exception:  # noqa: BLE001
            self.proc.kill()


def _grader_error(chapter: Chapter, exc: Exception) -> list[QuestionResult]:
    return zero_results(chapter, Status.ERROR, f"grader error: {type(exc).__name__}: {exc}")


def run_jobs(jobs: list[Job], chapters: dict[str, Chapter], limits: Limits, mode: str, seed: int,
             n_jobs: int, results: dict | None = None) -> dict[tuple[str, str], list[QuestionResult]]:
    """Grade ``jobs``; fills and returns ``results[(student, chapter)]`` as they finish."""
    results = {} if results is None else results
    todo: queue.Queue = queue.Queue()
    for job in jobs:
        if job.sources is None:
            results[(job.student, job.chapter)] = zero_results(chapters[job.chapter], Status.MISSING, job.problem)
        else:
            todo.put(job)
    total, done, lock = todo.qsize(), [0], threading.Lock()

    def finish(job: Job, res: list[QuestionResult], t0: float) -> None:
        with lock:
            results[(job.student, job.chapter)] = res
            done[0] += 1
            pts = sum(r.points for r in res)
            mx = sum(r.max_points for r in res)
            log(f"[{done[0]}/{total}] {job.student!r} {job.chapter}: {pts:g}/{mx:g} ({time.monotonic() - t0:.1f} s)")

    if n_jobs <= 1:
        while not todo.empty():
            job, t0 = todo.get(), time.monotonic()
            try:
                res = grade_chapter(chapters[job.chapter], job.sources, limits, mode, seed, slot=0)
            except Exception as exc:  # noqa: BLE001  (a grader bug must not stop the batch)
                res = _grader_error(chapters[job.chapter], exc)
            finish(job, res, t0)
        return results

    def setup(slot: int) -> dict:
        return {"chapters": [{"master": str(c.master), "tests": str(c.tests),
                              "plan": [[t.nodeid, t.question, t.points] for t in c.plan]}
                             for c in chapters.values()],
                "limits": asdict(limits), "mode": mode, "seed": seed, "slot": slot}

    def work(slot: int) -> None:
        worker = None
        while True:
            try:
                job = todo.get_nowait()
            except queue.Empty:
                break
            t0 = time.monotonic()
            try:
                if worker is None:
                    worker = WorkerProcess(setup(slot))
                res = worker.grade(job)
            except Exception as exc:  # noqa: BLE001
                res = _grader_error(chapters[job.chapter], exc)
                if worker is not None:
                    worker.close()
                worker = None
            finish(job, res, t0)
        if worker is not None:
            worker.close()

    threads = [threading.Thread(target=work, args=(slot,), daemon=True) for slot in range(n_jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
