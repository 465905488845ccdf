"""``nblib grade``: grade a folder of submissions into a gradebook and per-student feedback.

Layout: ``SUBMISSIONS/<student>/<chapter notebook>.ipynb``; tests in
``grading/<chapter notebook stem>/test_*.py``; masters in ``chapters/<stem>.ipynb``.

Steps: load each chapter that has a tests folder and a master; self-test it (every test must
pass with the reference in place of the student, points must add up); check the sandbox
starts (bubblewrap, else the fallback with a loud warning); read every submission without
following symlinks or leaving SUBMISSIONS; grade each (student, chapter) in a sandbox, N at
a time; write ``gradebook.csv`` and ``feedback/<student>.md`` beside it, always.
"""
from __future__ import annotations

import csv
import errno
import hashlib
import json
import os
import queue
import re
import secrets
import stat
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nblib.grading.format import MAX_NOTEBOOK_BYTES, submitted_sources
from nblib.grading.runner import Chapter, ConfigError, QuestionResult, grade_chapter, self_test
from nblib.grading.sandbox import FALLBACK_WARNING, Limits, Sandbox, StartError, bwrap_works

COLUMNS = ["student", "chapter", "question", "points", "max_points", "status", "message"]


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Job:
    student: str
    chapter: str
    sources: dict[str, str | None] | None   # None: no usable notebook (see problem)
    problem: str = ""


@dataclass
class Report:
    gradebook: Path
    feedback_dir: Path
    mode: str
    rows: list[dict] = field(default_factory=list)
    seconds: float = 0.0


# ---------------------------------------------------------------------------------------------
def discover_chapters(tests: Path, masters: Path, only: list[str] | None = None) -> list[Chapter]:
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


def read_submission(student_dir_fd: int, stem: str, questions: list[str]) -> tuple[dict | None, str]:
    """(sources by question, problem) for ``<stem>.ipynb``, never following a symlink."""
    name = f"{stem}.ipynb"
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=student_dir_fd)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None, f"no {name} in the submission"
        if exc.errno in (errno.ELOOP, errno.EMLINK):
            return None, f"{name} is a symbolic link; not followed"
        return None, f"{name} could not be opened ({exc.strerror})"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, f"{name} is not a regular file"
        if st.st_size > MAX_NOTEBOOK_BYTES:
            return None, f"{name} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB"
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read(MAX_NOTEBOOK_BYTES + 1)
    finally:
        os.close(fd)
    try:
        nb = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, f"{name} is not a valid notebook (JSON error: {str(exc)[:80]})"
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return None, f"{name} is not a notebook (no list of cells)"
    return submitted_sources(nb, questions), ""


def collect_jobs(submissions: Path, chapters: list[Chapter]) -> tuple[list[Job], list[str]]:
    jobs, ignored = [], []
    root_fd = os.open(submissions, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for entry in sorted(os.scandir(root_fd), key=lambda e: e.name):
            name = entry.name
            if name.startswith("."):
                continue
            if entry.is_symlink():
                jobs += [Job(name, ch.name, None, "the submission folder is a symbolic link; not followed")
                         for ch in chapters]
                continue
            if not entry.is_dir(follow_symlinks=False):
                ignored.append(name)
                continue
            try:
                sfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=root_fd)
            except OSError as exc:
                jobs += [Job(name, ch.name, None, f"the submission folder could not be opened ({exc.strerror})")
                         for ch in chapters]
                continue
            try:
                for ch in chapters:
                    sources, problem = read_submission(sfd, ch.name, list(ch.questions))
                    jobs.append(Job(name, ch.name, sources, problem))
            finally:
                os.close(sfd)
    finally:
        os.close(root_fd)
    return jobs, ignored


# ---------------------------------------------------------------------------------------------
class _WorkerProcess:
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
        return [QuestionResult(*r) for r in json.loads(line)["results"]]

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except Exception:  # noqa: BLE001
            self.proc.kill()


def _missing_results(ch: Chapter, problem: str) -> list[QuestionResult]:
    return [QuestionResult(q, 0.0, spec.points, "missing", problem) for q, spec in ch.questions.items()]


def _error_results(ch: Chapter, problem: str) -> list[QuestionResult]:
    return [QuestionResult(q, 0.0, spec.points, "error", problem) for q, spec in ch.questions.items()]


def run_jobs(jobs: list[Job], chapters: dict[str, Chapter], limits: Limits, mode: str, seed: int,
             n_jobs: int, results: dict | None = None) -> dict[tuple[str, str], list[QuestionResult]]:
    """Grade ``jobs``; fills and returns ``results[(student, chapter)]`` as they finish."""
    results = {} if results is None else results
    todo: queue.Queue = queue.Queue()
    for job in jobs:
        if job.sources is None:
            results[(job.student, job.chapter)] = _missing_results(chapters[job.chapter], job.problem)
        else:
            todo.put(job)
    total, done, lock = todo.qsize(), [0], threading.Lock()

    def finish(job: Job, res: list[QuestionResult], t0: float) -> None:
        with lock:
            results[(job.student, job.chapter)] = res
            done[0] += 1
            pts = sum(r.points for r in res)
            mx = sum(r.max_points for r in res)
            _log(f"[{done[0]}/{total}] {job.student!r} {job.chapter}: {pts:g}/{mx:g} ({time.monotonic() - t0:.1f} s)")

    if n_jobs <= 1:
        while not todo.empty():
            job, t0 = todo.get(), time.monotonic()
            try:
                res = grade_chapter(chapters[job.chapter], job.sources, limits, mode, seed, slot=0)
            except Exception as exc:  # noqa: BLE001  (a grader bug must not stop the batch)
                res = _error_results(chapters[job.chapter], f"grader error: {type(exc).__name__}: {exc}")
            finish(job, res, t0)
        return results

    def setup(slot: int) -> dict:
        return {"chapters": [{"master": str(c.master), "tests": str(c.tests), "forbidden": c.forbidden,
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
                    worker = _WorkerProcess(setup(slot))
                res = worker.grade(job)
            except Exception as exc:  # noqa: BLE001
                res = _error_results(chapters[job.chapter], f"grader error: {type(exc).__name__}: {exc}")
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


# ---------------------------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def clean(text: str, limit: int = 500) -> str:
    """One line, no control or bidi characters, capped; safe for CSV cells and Markdown."""
    text = _CONTROL.sub(" ", str(text)).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _csv_cell(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text  # no spreadsheet formulas


def _md(text: str) -> str:
    return (clean(text).replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`")
            .replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*").replace("_", "\\_")
            .replace("[", "\\[").replace("]", "\\]"))


def feedback_filename(student: str, taken: set[str]) -> str:
    safe = re.sub(r"[^\w.-]", "_", student).strip("._") or "student"
    if safe != student or safe.lower() in taken:
        safe = f"{safe[:60]}-{hashlib.sha1(student.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"
    taken.add(safe.lower())
    return safe + ".md"


def _fmt(points: float) -> str:
    return f"{round(points, 4):g}"


def write_outputs(out: Path, rows: list[dict], mode_warning: str) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: _csv_cell(clean(r[k])) if k in ("student", "message") else r[k] for k in COLUMNS})
    tmp.replace(out)
    fb_dir = out.parent / "feedback"
    fb_dir.mkdir(exist_ok=True)
    taken: set[str] = set()
    by_student: dict[str, list[dict]] = {}
    for r in rows:
        by_student.setdefault(r["student"], []).append(r)
    for student, srows in by_student.items():
        lines = [f"# Feedback for {_md(student)}", ""]
        if mode_warning:
            lines += [f"> **{_md(mode_warning)}**", ""]
        for chapter in dict.fromkeys(r["chapter"] for r in srows):
            crows = [r for r in srows if r["chapter"] == chapter]
            got = sum(float(r["points"]) for r in crows)
            mx = sum(float(r["max_points"]) for r in crows)
            lines += [f"## {chapter}: {_fmt(got)} / {_fmt(mx)} points", "",
                      "| question | points | status | message |", "|---|---|---|---|"]
            lines += [f"| {r['question']} | {r['points']} / {r['max_points']} | {r['status']} | "
                      f"{_md(r['message'])} |" for r in crows]
            lines.append("")
        lines.append("Graded tests are not the public checks: a public check that passes does not "
                     "guarantee the graded tests pass.")
        (fb_dir / feedback_filename(student, taken)).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return fb_dir


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
    chapters = discover_chapters(Path(tests), Path(masters), only=chapters)
    for ch in chapters:
        self_test(ch, run_seed)
    mode, warning = choose_mode(sandbox, limits)
    if warning:
        _log("\n" + "!" * 78 + f"\n!!! {warning}\n" + "!" * 78 + "\n")
    else:
        _log("sandbox: bubblewrap (own PID and network namespaces, read-only minimal filesystem)")
    rows: list[dict] = []
    jobs_list: list[Job] = []
    results: dict[tuple[str, str], list[QuestionResult]] = {}
    by_name = {c.name: c for c in chapters}
    try:
        jobs_list, ignored = collect_jobs(submissions, chapters)
        for name in ignored:
            _log(f"ignored {name!r}: not a student folder")
        run_jobs(jobs_list, by_name, limits, mode, run_seed, jobs, results)
    finally:  # even when interrupted: every job gets rows, ungraded ones say so
        for job in jobs_list:
            graded = results.get((job.student, job.chapter))
            for r in graded or _error_results(by_name[job.chapter], "not graded (the run was interrupted)"):
                message = f"[{warning.split(':')[0]}] {r.message}" if warning else r.message
                rows.append({"student": job.student, "chapter": job.chapter, "question": r.question,
                             "points": _fmt(r.points), "max_points": _fmt(r.max_points),
                             "status": r.status, "message": message})
        fb_dir = write_outputs(out, rows, warning)
    return Report(out, fb_dir, mode, rows, time.monotonic() - t_start)
