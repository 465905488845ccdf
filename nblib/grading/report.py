"""Step 6 of grading: write the report, a gradebook CSV and one Markdown feedback file per student.

Gets from step 5 (:mod:`~nblib.grading.score`) the ``QuestionResult`` list of every
(student, chapter); :func:`gradebook_rows` turns them into gradebook rows (columns ``COLUMNS``; the
``status`` column is a :class:`~nblib.grading.status.Status`) and :func:`write_report` writes
``gradebook.csv`` (atomically) and ``feedback/<student>.md`` beside it.

Everything a submission controls (its folder name, its messages) is cleaned before it is
written: one line, no control or bidi characters, capped; no spreadsheet formulas in the CSV;
Markdown escaped in the feedback; feedback file names that cannot escape the folder.
"""
from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

from nblib.grading.score import QuestionResult

COLUMNS = ["student", "chapter", "question", "points", "max_points", "status", "message"]


def gradebook_rows(student: str, chapter: str, results: list[QuestionResult], mode_warning: str = "") -> list[dict]:
    """Gradebook rows of one (student, chapter); a weak sandbox is named in every message."""
    tag = f"[{mode_warning.split(':')[0]}] " if mode_warning else ""
    return [{"student": student, "chapter": chapter, "question": r.question, "points": _fmt(r.points),
             "max_points": _fmt(r.max_points), "status": str(r.status), "message": tag + r.message}
            for r in results]


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
    """A file name for ``student``'s feedback: safe, and distinct (case-insensitively) from ``taken``."""
    safe = re.sub(r"[^\w.-]", "_", student).strip("._") or "student"
    if safe != student or safe.lower() in taken:
        safe = f"{safe[:60]}-{hashlib.sha1(student.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"
    taken.add(safe.lower())
    return safe + ".md"


def _fmt(points: float) -> str:
    return f"{round(points, 4):g}"


def write_report(out: Path, rows: list[dict], mode_warning: str) -> Path:
    """Write the gradebook CSV ``out`` and ``feedback/<student>.md`` beside it; the feedback folder."""
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
