"""Headline results of each chapter, written as JSON so the book can report them.

A chapter calls ``start(chapter, device=..., smoke=..., seed=...)`` in its setup (done by
:func:`nblib.start`), ``record(chapter, name, value, unit)`` for every number worth reporting
(with ``published=`` and ``source=`` when a paper or reference project reports the same
quantity), and ``finish(chapter)`` in its last cell, which records the chapter's wall time. Each chapter's results go to ``_build/results/<chapter>.json`` under the repository
root (or ``$NBLIB_RESULTS_DIR``); ``python -m nblib.results`` (``make results``) gathers them all
into one Markdown table, and the book's Results page (``_ext/results_page.py``) renders them
beside the published figures.

``record`` also *glues* the value (myst-nb) when it runs inside the book build, so prose can
quote the number from the run: ``{glue:text}`digits_mlp_test_acc:.1f```.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

__all__ = ["results_dir", "start", "record", "finish", "load_all", "table", "format_value"]

_started: dict[str, float] = {}


def results_dir() -> Path:
    """``$NBLIB_RESULTS_DIR``, else ``_build/results`` under the repository root, else under cwd."""
    env = os.environ.get("NBLIB_RESULTS_DIR")
    if env:
        return Path(env)
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").exists():
            return folder / "_build" / "results"
    return here / "_build" / "results"


def _check_name(kind: str, value: str) -> None:
    if not isinstance(value, str) or not value or not value.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"{kind} must be a non-empty name of letters, digits, '_' or '-', got {value!r}")


def _path(chapter: str) -> Path:
    return results_dir() / f"{chapter}.json"


def _load(chapter: str) -> dict:
    path = _path(chapter)
    return json.loads(path.read_text()) if path.exists() else {"chapter": chapter, "results": {}}


def start(chapter: str, **settings) -> None:
    """Start the chapter's clock and clear its previous results; ``settings`` (the device, the
    smoke switch, the seed) are stored beside them, with the versions of Python and torch."""
    import platform

    import torch

    _check_name("chapter", chapter)
    _started[chapter] = time.perf_counter()
    data = {"chapter": chapter, **settings, "python": platform.python_version(),
            "torch": torch.__version__, "results": {}}
    path = _path(chapter)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def record(chapter: str, name: str, value, unit: str = "", *, published: float | None = None,
           source: str | None = None):
    """Record one headline number of ``chapter`` and return ``value`` unchanged.

    ``published`` is the figure a paper or reference project reports for the same quantity,
    and ``source`` says where (both or neither).
    """
    _check_name("chapter", chapter)
    _check_name("name", name)
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"value of {name!r} must be a number, got {type(value).__name__} ({value!r})")
    if not math.isfinite(value):
        raise ValueError(f"value of {name!r} must be finite, got {value}")
    if not isinstance(unit, str):
        raise TypeError(f"unit must be a string such as '%' or 's', got {type(unit).__name__}")
    if (published is None) != (source is None):
        raise ValueError(f"{name!r}: give both published= and source= (where the published figure "
                         f"comes from), or neither; got published={published!r}, source={source!r}")
    entry = {"value": value, "unit": unit}
    if published is not None:
        if isinstance(published, bool) or not isinstance(published, (int, float)):
            raise TypeError(f"published figure of {name!r} must be a number, got {published!r}")
        entry.update(published=published, source=str(source))
    data = _load(chapter)
    data["results"][name] = entry
    path = _path(chapter)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    _glue(name, value)
    return value


def finish(chapter: str) -> float:
    """Record the wall time since ``start(chapter)`` as ``run_time`` (seconds) and return it."""
    if chapter not in _started:
        raise RuntimeError(f"finish({chapter!r}) called before start({chapter!r})")
    seconds = time.perf_counter() - _started.pop(chapter)
    record(chapter, "run_time", round(seconds, 2), "s")
    return seconds


def _glue(name: str, value) -> None:
    """Make ``value`` quotable in the book's prose; a no-op outside a myst-nb build."""
    if "myst_nb" not in sys.modules and "ipykernel" not in sys.modules:
        return
    try:
        from myst_nb import glue
    except ImportError:  # e.g. on Colab: prose shows the number printed by the cell instead
        return
    glue(name, value, display=False)


def load_all(folder: Path | None = None) -> list[dict]:
    """Every chapter's results, in chapter order."""
    folder = Path(folder) if folder else results_dir()
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def format_value(value, unit: str) -> str:
    """A recorded number as the tables show it: ``97.2 %``, ``35.5 s``, ``0.000473``, ``19 updates``."""
    if unit == "%":
        return f"{value:.1f} %"
    if unit == "s":
        return f"{value:.1f} s"
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return f"{text} {unit}".strip()


def table(folder: Path | None = None) -> str:
    """A Markdown table of every recorded result, with each chapter's run time."""
    rows = ["| chapter | result | value |", "|---|---|---|"]
    for data in load_all(folder):
        results = dict(data["results"])
        run_time = results.pop("run_time", None)
        for name, r in results.items():
            rows.append(f"| {data['chapter']} | {name} | {format_value(r['value'], r['unit'])} |")
        if run_time is not None:
            rows.append(f"| {data['chapter']} | **run time** | {format_value(run_time['value'], 's')} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Collect every chapter's results into one Markdown table.")
    parser.add_argument("--dir", type=Path, default=None, help="results folder (default: _build/results)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table to this file")
    args = parser.parse_args(argv)
    folder = args.dir or results_dir()
    if not any(folder.glob("*.json")):
        print(f"no results in {folder}: run the chapters first (make test or make book)", file=sys.stderr)
        return 1
    text = table(folder)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
