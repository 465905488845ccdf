"""The exercise format inside notebooks, shared by the learner's and the instructor's tools.

A question is a code cell tagged ``solution`` with metadata
``"grading": {"question": "01-softplus", "points": 2}``; its solution lines sit between
``# BEGIN SOLUTION`` and ``# END SOLUTION`` (one or more regions per cell). Releasing
replaces each region's lines by a stub ``raise NotImplementedError("01-softplus: ...")``
at the marker's indentation and keeps the markers, so a learner sees where to write and a
released notebook released again is unchanged. The cell after it, tagged ``public-check``,
calls ``check(...)``. ``PRELUDE`` is all a solution cell may rely on besides its own imports.

Used by ``nblib check`` (:mod:`nblib.exercises.selfcheck`), ``nblib release`` and ``nblib grade``
(:mod:`nblib.grading`). Everything here works on notebooks as plain JSON dicts; reading an
untrusted submission safely is the grader's job (:mod:`nblib.grading.submission`).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nblib.questions import QUESTION_RE

BEGIN_RE = re.compile(r"^(?P<indent>\s*)#+\s*BEGIN SOLUTION\s*$")
END_RE = re.compile(r"^\s*#+\s*END SOLUTION\s*$")
SOLUTION_TAG = "solution"
PUBLIC_CHECK_TAG = "public-check"

# What a solution cell may rely on, in the grader (reference) and in the sandbox (student).
PRELUDE = ("import math\nimport numpy as np\nimport torch\nimport torch.nn as nn\n"
           "import torch.nn.functional as F\n")

STUB = 'raise NotImplementedError("{question}: write your solution here")'
STUB_NO_ID = 'raise NotImplementedError("write your solution here")'

class MarkerError(ValueError):
    """Unbalanced or misplaced solution markers, or a malformed solution cell."""

    def __init__(self, notebook: str, cell: int, line: int | None, problem: str):
        self.notebook, self.cell, self.line = notebook, cell, line
        where = f"{notebook}, cell {cell}" + (f", line {line}" if line is not None else "")
        super().__init__(f"{where}: {problem}")


@dataclass
class Question:
    """One solution cell of a master notebook."""
    id: str
    points: float
    cell_index: int
    source: str


def cell_source(cell: Any) -> str | None:
    """A cell's source as one string, or None if it is not a well-formed cell source."""
    if not isinstance(cell, dict):
        return None
    src = cell.get("source", "")
    if isinstance(src, str):
        return src
    if isinstance(src, list) and all(isinstance(s, str) for s in src):
        return "".join(src)
    return None


def cell_tags(cell: dict) -> list[str]:
    meta = cell.get("metadata")
    tags = meta.get("tags") if isinstance(meta, dict) else None
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def cell_question(cell: dict) -> tuple[str | None, Any]:
    """``(question id, points)`` from ``metadata.grading``, or ``(None, None)``."""
    meta = cell.get("metadata")
    grading = meta.get("grading") if isinstance(meta, dict) else None
    if not isinstance(grading, dict):
        return None, None
    q = grading.get("question")
    return (q if isinstance(q, str) else None), grading.get("points")


def has_markers(source: str) -> bool:
    return any(BEGIN_RE.match(line) or END_RE.match(line) for line in source.splitlines())


def strip_solution(source: str, question: str | None, notebook: str = "?", cell: int = -1) -> str:
    """Replace every marked solution region of ``source`` by the stub; keep the markers."""
    out: list[str] = []
    begin_line: int | None = None
    for n, line in enumerate(source.splitlines(keepends=True), start=1):
        if (m := BEGIN_RE.match(line.rstrip("\r\n"))):
            if begin_line is not None:
                raise MarkerError(notebook, cell, n, f"BEGIN SOLUTION inside the region opened on line {begin_line}")
            begin_line = n
            out.append(line)
            stub = STUB.format(question=question) if question else STUB_NO_ID
            out.append(m.group("indent") + stub + "\n")
        elif END_RE.match(line.rstrip("\r\n")):
            if begin_line is None:
                raise MarkerError(notebook, cell, n, "END SOLUTION without a BEGIN SOLUTION before it")
            begin_line = None
            out.append(line)
        elif begin_line is None:
            out.append(line)
    if begin_line is not None:
        raise MarkerError(notebook, cell, begin_line, "BEGIN SOLUTION is never closed by END SOLUTION")
    return "".join(out)


def master_questions(nb: dict, notebook: str = "?") -> dict[str, Question]:
    """The questions of a (trusted) master notebook, checked for authoring mistakes."""
    found: dict[str, Question] = {}
    for i, cell in enumerate(nb.get("cells", [])):
        if SOLUTION_TAG not in cell_tags(cell):
            continue
        if cell.get("cell_type") != "code":
            raise MarkerError(notebook, i, None, "a cell tagged 'solution' must be a code cell")
        q, points = cell_question(cell)
        if q is None or not QUESTION_RE.match(q):
            raise MarkerError(notebook, i, None, "solution cell needs metadata "
                              '"grading": {"question": "NN-name", "points": N}')
        if not isinstance(points, (int, float)) or isinstance(points, bool) or points < 0:
            raise MarkerError(notebook, i, None, f"question {q}: grading.points must be a number >= 0")
        if q in found:
            raise MarkerError(notebook, i, None, f"question {q} already used by cell {found[q].cell_index}")
        src = cell_source(cell) or ""
        if not has_markers(src):
            raise MarkerError(notebook, i, None, f"question {q}: solution cell has no # BEGIN SOLUTION marker")
        strip_solution(src, q, notebook, i)  # raises on unbalanced markers
        found[q] = Question(q, float(points), i, src)
    return found


def runnable(source: str) -> str:
    """Notebook cell source -> plain Python: IPython magics and shell lines become comments."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        lines.append(line[: len(line) - len(stripped)] + "# " + stripped
                     if stripped.startswith(("%", "!")) else line)
    return "\n".join(lines) + "\n"


def read_json_notebook(path: Path) -> dict:
    """Read a (trusted) notebook file as a dict."""
    with open(path, encoding="utf-8") as f:
        nb = json.load(f)
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError(f"{path}: not a notebook (no list of cells)")
    return nb


def dumps_notebook(nb: dict) -> str:
    """Serialize like Jupyter/nbformat does (sorted keys, indent 1), so diffs stay small."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
