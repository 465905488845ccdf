"""Step 2 of grading: read the submissions, safely, down to one source string per question.

Gets from step 1 (:mod:`~nblib.grading.chapters`) the chapters and their question ids;
gives step 3 one :class:`Job` per (student, chapter): the submitted solution-cell source of
each question (``None``: missing), or why the whole notebook is unusable.

Layout: ``SUBMISSIONS/<student>/<chapter stem>.ipynb``. Nothing here follows a symbolic link
or leaves ``SUBMISSIONS``, reads more than ``MAX_NOTEBOOK_BYTES``, or trusts the notebook's
shape. This is where a submission is "rebuilt from the master": only the code of its
solution cells (matched by question id) is taken; every other cell, the tests and the
expected values come from the master, so editing them in a submission changes nothing.
"""
from __future__ import annotations

import errno
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nblib.exercises.format import cell_question, cell_source
from nblib.grading.chapters import Chapter

MAX_NOTEBOOK_BYTES = 20 * 2**20
MAX_CELL_CHARS = 200_000


@dataclass
class Job:
    """One (student, chapter) to grade."""
    student: str
    chapter: str
    sources: dict[str, str | None] | None   # None: no usable notebook (see problem)
    problem: str = ""


def submitted_sources(nb: Any, questions: list[str]) -> dict[str, str | None]:
    """From an (untrusted) submission: each question's solution-cell source, or None if missing.

    A cell counts only if it is a code cell with ``metadata.grading.question`` equal to the
    id, a string (or list of strings) source under a size cap, and the id appears once.
    """
    found: dict[str, list[str]] = {q: [] for q in questions}
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if isinstance(cells, list):
        for cell in cells:
            if not isinstance(cell, dict) or cell.get("cell_type") != "code":
                continue
            q, _ = cell_question(cell)
            src = cell_source(cell)
            if q in found and src is not None and len(src) <= MAX_CELL_CHARS:
                found[q].append(src)
    return {q: (srcs[0] if len(srcs) == 1 else None) for q, srcs in found.items()}


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
    """A job per (student folder, chapter), and the top-level names that are not student folders."""
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
