"""``nblib release``, before grading: master notebooks -> student notebooks (solutions stubbed,
outputs cleared). The exercise format it reads is :mod:`nblib.exercises.format`.

Every code cell loses its outputs and execution count; every marked solution region becomes
``raise NotImplementedError("<question>: write your solution here")`` at the marker's
indentation (the ``def`` line, signature and docstring outside the markers stay). Everything
else (cell order, metadata, tags, markdown) is kept. Releasing is deterministic and
idempotent, and never writes into (or below) the source folder.
"""
from __future__ import annotations

import copy
from pathlib import Path

from nblib.exercises.format import (MarkerError, SOLUTION_TAG, cell_question, cell_source, cell_tags,
                                    dumps_notebook, has_markers, master_questions, read_json_notebook,
                                    strip_solution)


def release_notebook(nb: dict, name: str = "?") -> dict:
    """The student version of master notebook ``nb`` (a new dict; ``nb`` is not modified)."""
    master_questions(nb, name)  # authoring errors (metadata, duplicates, markers) first
    out = copy.deepcopy(nb)
    for i, cell in enumerate(out["cells"]):
        if cell.get("cell_type") != "code":
            continue
        cell["outputs"] = []
        cell["execution_count"] = None
        src = cell_source(cell)
        if src is None:
            raise MarkerError(name, i, None, "cell source is neither a string nor a list of strings")
        if has_markers(src):
            q = cell_question(cell)[0] if SOLUTION_TAG in cell_tags(cell) else None
            stripped = strip_solution(src, q, name, i)
            cell["source"] = stripped.splitlines(keepends=True) if isinstance(cell.get("source"), list) else stripped
    return out


def _notebooks(src: Path) -> list[Path]:
    if src.is_file():
        return [src]
    return sorted(p for p in src.glob("*.ipynb") if p.is_file() and not p.name.startswith("."))


def release(src: Path | str, out: Path | str) -> list[Path]:
    """Release every ``*.ipynb`` in folder ``src`` (or the one notebook ``src``) into ``out``."""
    src, out = Path(src), Path(out)
    if not src.exists():
        raise FileNotFoundError(f"{src}: no such notebook or folder")
    src_dir = (src if src.is_dir() else src.parent).resolve()
    out_res = out.resolve()
    if out_res == src_dir or out_res.is_relative_to(src_dir):
        raise ValueError(f"refusing to write student notebooks into the source folder {src_dir} "
                         f"(--out {out}); choose a folder outside it, e.g. student/")
    notebooks = _notebooks(src)
    if not notebooks:
        raise FileNotFoundError(f"{src}: no notebooks to release")
    released = [(p, release_notebook(read_json_notebook(p), str(p))) for p in notebooks]  # all or nothing
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for p, nb in released:
        target = out / p.name
        text = dumps_notebook(nb)
        if not (target.is_file() and target.read_text(encoding="utf-8") == text):
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(target)
        written.append(target)
    return written
