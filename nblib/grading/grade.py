"""``nblib grade``: grade a folder of submissions into a gradebook and per-student feedback.

Layout: ``SUBMISSIONS/<student>/<chapter notebook>.ipynb``; tests in
``grading/<chapter notebook stem>/test_*.py``; masters in ``chapters/<stem>.ipynb``.

This module is the whole run, step by step (each step is a module; see :mod:`nblib.grading`):

1. find the chapters (:mod:`~nblib.grading.chapters`) and self-test each: every test must
   pass with the reference in place of the student, points must add up
   (:func:`self_test`: :mod:`~nblib.grading.plugin` + :func:`~nblib.grading.score.plan_points`);
   check the sandbox starts (bubblewrap, else the fallback with a loud warning);
2. read every submission without following symlinks or leaving SUBMISSIONS
   (:mod:`~nblib.grading.submission`);
3. to 5. grade each (student, chapter): sandbox, tests, points, N at a time
   (:mod:`~nblib.grading.batch`);
6. write ``gradebook.csv`` and ``feedback/<student>.md`` beside it, always, even when
   interrupted (:mod:`~nblib.grading.report`).
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from nblib.grading.batch import log, run_jobs
from nblib.grading.chapters import Chapter, ConfigError, discover_chapters
from nblib.grading.plugin import run_tests
from nblib.grading.report import gradebook_rows, write_report
from nblib.grading.sandbox import FALLBACK_WARNING, Limits, Sandbox, StartError, bwrap_works
from nblib.grading.score import QuestionResult, plan_points, zero_results
from nblib.grading.status import Status
from nblib.grading.submission import Job, collect_jobs


@dataclass
class Report:
    """What ``grade`` wrote, for the command line's summary."""
    gradebook: Path
    feedback_dir: Path
    mode: str
    rows: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def self_test(chapter: Chapter, run_seed: int) -> None:
    """Run the chapter's tests with the reference as the student; fill ``chapter.plan``."""
    outcome = run_tests(chapter, chapter.reference(), run_seed, check_forbidden=False)
    chapter.plan = plan_points(chapter, outcome)  # ConfigError if a test fails or points do not add up


def sweep_seeds(tests: Path | str = "grading", masters: Path | str = "chapters",
                seeds: list[int] | None = None, n: int = 100,
                chapters: list[str] | None = None) -> dict[str, list[tuple[int, str]]]:
    """Self-test every chapter under many secret seeds: ``{chapter: [(seed, problem), ...]}``.

    ``grade`` draws a fresh secret seed per run, and the graded tests draw their problems from it
    (shapes, values, group counts). A test that breaks for one draw in a hundred would stop an
    instructor's run at random, so a test author runs this before committing: ``seeds``, or
    ``n`` random ones. An empty list for a chapter means its reference passed under every seed.
    """
    seeds = list(seeds) if seeds is not None else [secrets.randbits(63) for _ in range(n)]
    found: dict[str, list[tuple[int, str]]] = {}
    for ch in discover_chapters(Path(tests), Path(masters), only=chapters):
        found[ch.name] = []
        for s in seeds:
            try:
                self_test(ch, s)
            except ConfigError as exc:
                found[ch.name].append((s, str(exc)))
    return found


def choose_mode(requested: str, limits: Limits) -> tuple[str, str]:
    """('bwrap' | 'fallback', warning text or '')."""
    if requested == "fallback":
        return "fallback", FALLBACK_WARNING + " (fallback requested with --sandbox fallback)"
    ok, why = bwrap_works()
    if ok:
        try:  # the real thing once: python, torch and nblib must be reachable inside
            sb = Sandbox(limits, "bwrap")
            sb.start()
            sb.close()
            return "bwrap", ""
        except StartError as exc:
            ok, why = False, str(exc)
    if requested == "bwrap":
        raise ConfigError(f"--sandbox bwrap requested but bubblewrap does not work here: {why}")
    return "fallback", f"{FALLBACK_WARNING} ({why})"


def grade(submissions: Path | str, out: Path | str, tests: Path | str = "grading",
          masters: Path | str = "chapters", timeout: float = 10.0, jobs: int = 1,
          memory_mb: int = 2048, sandbox: str = "auto", seed: int | None = None,
          chapters: list[str] | None = None) -> Report:
    """Grade every ``SUBMISSIONS/<student>/<chapter>.ipynb``; see the module docstring."""
    t_start = time.monotonic()
    submissions, out = Path(submissions), Path(out)
    if not submissions.is_dir():
        raise ConfigError(f"{submissions}: no such submissions folder")
    if out.resolve().is_relative_to(submissions.resolve()):
        raise ConfigError(f"the gradebook {out} must not be inside the submissions folder {submissions}")
    limits = Limits(timeout=timeout, memory_mb=memory_mb, cpu_s=int(max(300, 30 * timeout)))
    run_seed = seed if seed is not None else secrets.randbits(63)
    # 1. the chapters, self-tested; the sandbox mode
    chapters = discover_chapters(Path(tests), Path(masters), only=chapters)
    for ch in chapters:
        self_test(ch, run_seed)
    mode, warning = choose_mode(sandbox, limits)
    if warning:
        log("\n" + "!" * 78 + f"\n!!! {warning}\n" + "!" * 78 + "\n")
    else:
        log("sandbox: bubblewrap (own PID and network namespaces, read-only minimal filesystem)")
    rows: list[dict] = []
    jobs_list: list[Job] = []
    results: dict[tuple[str, str], list[QuestionResult]] = {}
    by_name = {c.name: c for c in chapters}
    try:
        # 2. the submissions
        jobs_list, ignored = collect_jobs(submissions, chapters)
        for name in ignored:
            log(f"ignored {name!r}: not a student folder")
        # 3. to 5. sandbox, tests, points
        run_jobs(jobs_list, by_name, limits, mode, run_seed, jobs, results)
    finally:  # 6. the report, even when interrupted: every job gets rows, ungraded ones say so
        for job in jobs_list:
            graded = results.get((job.student, job.chapter))
            if not graded:
                graded = zero_results(by_name[job.chapter], Status.ERROR, "not graded (the run was interrupted)")
            rows += gradebook_rows(job.student, job.chapter, graded, warning)
        fb_dir = write_report(out, rows, warning)
    return Report(out, fb_dir, mode, rows, time.monotonic() - t_start)
