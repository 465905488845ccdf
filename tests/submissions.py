"""Submissions made from the master notebooks, for tests that grade a shortcut (one place, so
every chapter's shortcut test builds its submissions the same way)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from paths import ROOT

# The grader draws a secret seed per run; the tests that grade the real chapters fix it, so a CI
# run is reproducible. Many seeds are tried by hand with benchmarks/grader_seeds.py.
FIXED_SEED = 20261203


def master(stem: str) -> dict:
    """The master notebook ``chapters/<stem>.ipynb`` as a dict."""
    return json.loads((ROOT / "chapters" / f"{stem}.ipynb").read_text())


def with_solution(nb: dict, question: str, body: str) -> dict:
    """``nb`` with the lines between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` of
    ``question``'s cell replaced by ``body`` (changed in place and returned)."""
    cell = next(c for c in nb["cells"]
                if c["metadata"].get("grading", {}).get("question") == question)
    source = "".join(cell["source"])
    head, rest = source.split("    # BEGIN SOLUTION\n")
    cell["source"] = (head + "    # BEGIN SOLUTION\n" + body + "    # END SOLUTION"
                      + rest.split("    # END SOLUTION")[1])
    return nb


def read_gradebook(path: Path) -> dict[tuple[str, str], dict]:
    """The grader's CSV as ``{(student, question): row}``."""
    with open(path, newline="", encoding="utf-8") as f:
        return {(r["student"], r["question"]): r for r in csv.DictReader(f)}
