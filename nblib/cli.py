"""The ``nblib`` command: ``release``, ``grade``, ``selftest`` and ``check`` (see ``nblib COMMAND --help``)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _release(args) -> int:
    from nblib.exercises.format import MarkerError
    from nblib.grading.release import release
    try:
        written = release(args.source, args.out)
    except (MarkerError, ValueError, FileNotFoundError) as exc:
        print(f"nblib release: error: {exc}", file=sys.stderr)
        return 2
    for p in written:
        print(f"wrote {p}")
    return 0


def _grade(args) -> int:
    from nblib.grading.chapters import ConfigError
    from nblib.grading.grade import grade
    try:
        report = grade(args.submissions, args.out, tests=args.tests, masters=args.masters,
                       timeout=args.timeout, jobs=args.jobs, memory_mb=args.memory, sandbox=args.sandbox,
                       seed=args.seed, chapters=args.chapter)
    except ConfigError as exc:
        print(f"nblib grade: error: {exc}", file=sys.stderr)
        return 2
    counts: dict[str, int] = {}
    for r in report.rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    print(f"wrote {report.gradebook} ({len(report.rows)} rows: {summary or 'none'}) and "
          f"{report.feedback_dir}/ in {report.seconds:.1f} s; sandbox: {report.mode}")
    return 0


def _selftest(args) -> int:
    from nblib.grading.chapters import ConfigError
    from nblib.grading.grade import sweep_seeds
    try:
        found = sweep_seeds(args.tests, args.masters, seeds=args.seed or None, n=args.seeds,
                            chapters=args.chapter)
    except ConfigError as exc:
        print(f"nblib selftest: error: {exc}", file=sys.stderr)
        return 2
    n = len(args.seed) if args.seed else args.seeds
    for name, problems in found.items():
        print(f"{name}: {n - len(problems)} of {n} seeds pass against the reference")
        for seed, problem in problems:
            print(f"  seed {seed} (reproduce: nblib grade --seed {seed} ...):\n    {problem}")
    return 1 if any(found.values()) else 0


def _check(args) -> int:
    from nblib.exercises.selfcheck import check_notebook
    return check_notebook(Path(args.notebook), timeout=args.timeout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="nblib", description="Tools for 'Neural Networks, Step by Step'.")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="write student notebooks: solutions stubbed, outputs cleared")
    p.add_argument("source", type=Path, help="folder of master notebooks (or one notebook)")
    p.add_argument("--out", type=Path, required=True, help="folder for the student notebooks")
    p.set_defaults(func=_release)

    p = sub.add_parser("grade", help="grade DIR/<student>/<chapter>.ipynb into a gradebook")
    p.add_argument("--submissions", type=Path, required=True, metavar="DIR")
    p.add_argument("--out", type=Path, required=True, help="gradebook CSV; feedback/ goes beside it")
    p.add_argument("--tests", type=Path, default=Path("grading"), help="graded tests (default: grading/)")
    p.add_argument("--masters", type=Path, default=Path("chapters"), help="master notebooks (default: chapters/)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds of student code per question (default 10)")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel (default 1)")
    p.add_argument("--memory", type=int, default=2048, help="sandbox address-space limit in MB (default 2048)")
    p.add_argument("--sandbox", choices=["auto", "bwrap", "fallback"], default="auto",
                   help="auto: bubblewrap if it works here, else the weaker fallback (with a warning)")
    p.add_argument("--seed", type=int, default=None, help="fix the secret seed (reproduce a run); default: random")
    p.add_argument("--chapter", action="append", metavar="STEM",
                   help="grade only this chapter (e.g. 01_neuron); repeatable; default: all in --tests")
    p.set_defaults(func=_grade)

    p = sub.add_parser("selftest", help="run the graded tests against the reference under many secret seeds")
    p.add_argument("--seeds", type=int, default=100, help="how many random secret seeds (default 100)")
    p.add_argument("--seed", type=int, action="append", help="a given seed instead; repeatable")
    p.add_argument("--tests", type=Path, default=Path("grading"), help="graded tests (default: grading/)")
    p.add_argument("--masters", type=Path, default=Path("chapters"), help="master notebooks (default: chapters/)")
    p.add_argument("--chapter", action="append", metavar="STEM", help="only this chapter; repeatable")
    p.set_defaults(func=_selftest)

    p = sub.add_parser("check", help="run a notebook's public checks; exit 0 only if all pass")
    p.add_argument("notebook", type=Path)
    p.add_argument("--timeout", type=float, default=600.0, help="seconds for the whole notebook (default 600)")
    p.set_defaults(func=_check)

    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
