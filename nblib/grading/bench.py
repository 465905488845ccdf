"""Measure grading time: one submission, then a batch, of copies of a master notebook.

    python -m nblib.grading.bench [--masters chapters] [--tests grading] [--chapter 01_neuron]
                                  [--students 20] [--jobs 2] [--timeout 10]

Each submission is the master notebook itself (the reference solutions: every test runs to
completion, the slow case). Prints the wall-clock seconds of ``nblib grade`` for 1 submission
and for ``--students`` submissions, in a fresh process each time (as an instructor runs it),
and exits 1 if they exceed the budgets (15 s and 120 s by default).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_batch(masters: Path, tests: Path, chapter: str | None, students: int, jobs: int,
              timeout: float, workdir: Path) -> float:
    subs = workdir / f"subs{students}"
    chapter_dirs = [d for d in sorted(tests.iterdir()) if d.is_dir() and (chapter is None or d.name == chapter)]
    for i in range(students):
        (subs / f"student{i:03d}").mkdir(parents=True)
        for d in chapter_dirs:
            if (masters / f"{d.name}.ipynb").is_file():
                shutil.copy(masters / f"{d.name}.ipynb", subs / f"student{i:03d}")
    cmd = [sys.executable, "-m", "nblib", "grade", "--submissions", str(subs), "--out",
           str(workdir / f"out{students}" / "gradebook.csv"), "--tests", str(tests), "--masters", str(masters),
           "--jobs", str(jobs), "--timeout", str(timeout)]
    if chapter:
        cmd += ["--chapter", chapter]
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.monotonic() - t0
    if r.returncode != 0:
        raise SystemExit(f"grading failed:\n{r.stderr[-2000:]}")
    rows = (workdir / f"out{students}" / "gradebook.csv").read_text().splitlines()[1:]
    not_passed = [row for row in rows if ",passed," not in row]
    if not_passed:
        raise SystemExit("the reference solutions did not all pass:\n" + "\n".join(not_passed[:5]))
    return seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--masters", type=Path, default=Path("chapters"))
    ap.add_argument("--tests", type=Path, default=Path("grading"))
    ap.add_argument("--chapter", default=None)
    ap.add_argument("--students", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--budget-one", type=float, default=15.0)
    ap.add_argument("--budget-batch", type=float, default=120.0)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        one = run_batch(args.masters, args.tests, args.chapter, 1, 1, args.timeout, Path(tmp))
        print(f"1 submission, --jobs 1: {one:.1f} s (budget {args.budget_one:g} s)")
        batch = run_batch(args.masters, args.tests, args.chapter, args.students, args.jobs, args.timeout, Path(tmp))
        print(f"{args.students} submissions, --jobs {args.jobs}: {batch:.1f} s (budget {args.budget_batch:g} s)")
    return 0 if one <= args.budget_one and batch <= args.budget_batch else 1


if __name__ == "__main__":
    raise SystemExit(main())
