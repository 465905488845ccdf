"""``nblib check NOTEBOOK``: run a notebook's public checks from the command line.

In a fresh Python subprocess (cwd: the notebook's folder) it runs the notebook's first code
cell (the setup cell; IPython magics and ``!`` lines are skipped), then for each solution
cell, in order: the cell itself and the ``public-check`` cells that follow it. Each
``check(...)`` prints its verdict; a summary follows. Exit code 0 only if every question
with a solution cell passed its public checks. Works on masters (CI) and on a learner's
own notebook.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def _driver(notebook: Path, report: Path) -> None:
    from nblib.exercises import verdict as check_module
    from nblib.exercises.format import (PRELUDE, PUBLIC_CHECK_TAG, SOLUTION_TAG, cell_question, cell_source,
                                        cell_tags, read_json_notebook, runnable)

    nb = read_json_notebook(notebook)
    code = [(i, c) for i, c in enumerate(nb["cells"]) if c.get("cell_type") == "code"]
    ns: dict = {"__name__": "__main__"}
    results: dict[str, bool] = {}
    calls: list[tuple[str, bool]] = []

    def recording_check(question, *objs, strict=None):
        ok = check_module.check(question, *objs, strict=False)
        calls.append((question, ok))
        return ok

    def run(i: int, src: str, what: str) -> bool:
        try:
            exec(compile(runnable(src), f"<cell {i}>", "exec"), ns)
            return True
        except BaseException as exc:  # noqa: BLE001
            print(f"ERROR in {what} (cell {i}): {type(exc).__name__}: {exc}", flush=True)
            return False

    exec(PRELUDE, ns)
    if code and SOLUTION_TAG not in cell_tags(code[0][1]) and PUBLIC_CHECK_TAG not in cell_tags(code[0][1]):
        run(code[0][0], cell_source(code[0][1]) or "", "the setup cell")
    ns["check"] = recording_check
    current = None
    for i, cell in code:
        tags = cell_tags(cell)
        if SOLUTION_TAG in tags:
            current = cell_question(cell)[0] or f"cell-{i}"
            results[current] = False
            calls.clear()
            if not run(i, cell_source(cell) or "", f"the solution cell of {current}"):
                current = None
        elif PUBLIC_CHECK_TAG in tags and current is not None:
            ns["check"] = recording_check
            run(i, cell_source(cell) or "", f"the public check of {current}")
            mine = [ok for q, ok in calls if q == current]
            results[current] = bool(mine) and all(mine)
    report.write_text(json.dumps(results))


def check_notebook(notebook: Path, timeout: float = 600.0) -> int:
    notebook = Path(notebook)
    if not notebook.is_file():
        print(f"nblib check: {notebook}: no such notebook", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        env = {k: v for k, v in os.environ.items() if k != "NBLIB_STRICT_CHECKS"}
        env["MPLBACKEND"] = "Agg"
        try:
            proc = subprocess.run([sys.executable, "-m", "nblib.exercises.selfcheck", str(notebook.resolve()),
                                   str(report)], cwd=notebook.resolve().parent, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"nblib check: {notebook}: did not finish in {timeout:g} s", file=sys.stderr)
            return 1
        if proc.returncode != 0 or not report.exists():
            print(f"nblib check: {notebook}: the check run failed (exit code {proc.returncode})", file=sys.stderr)
            return 1
        results = json.loads(report.read_text())
    passed = [q for q, ok in results.items() if ok]
    failed = [q for q, ok in results.items() if not ok]
    print(f"{notebook.name}: {len(passed)}/{len(results)} questions pass their public checks"
          + (f"; not passing: {', '.join(failed)}" if failed else ""))
    return 0 if results and not failed else 1


if __name__ == "__main__":
    _driver(Path(sys.argv[1]), Path(sys.argv[2]))
