"""A grading worker process for ``nblib grade --jobs N`` (N > 1): steps 3 to 5 in a child process.

Started by :class:`nblib.grading.batch.WorkerProcess` as ``python -m nblib.grading.worker``;
speaks JSON lines on stdin and on a private copy of stdout (its real stdout and stderr both
go to the grader's stderr, so nothing else can write into the protocol). First line in: the
setup (chapters with their test plans from the self-test, limits, sandbox mode, run seed,
slot); then one job per line, ``{"student": ..., "chapter": ..., "sources": {question:
source | null}}``, each answered by ``{"results": [[question, points, max_points, status,
message], ...]}`` from :func:`nblib.grading.batch.grade_chapter`. No pickle.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main() -> None:
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # stray prints (pytest, tests) go to stderr, never into the protocol
    sys.stdout = sys.stderr
    # Imported only now, once stdout is out of the protocol's way (not to break a cycle).
    from nblib.grading.batch import grade_chapter, results_to_json
    from nblib.grading.chapters import Chapter, TestPlan
    from nblib.grading.sandbox import Limits

    setup = json.loads(sys.stdin.readline())
    chapters = {}
    for c in setup["chapters"]:
        ch = Chapter.load(Path(c["master"]), Path(c["tests"]))
        ch.plan = [TestPlan(*t) for t in c["plan"]]
        chapters[ch.name] = ch
    limits = Limits(**setup["limits"])
    proto.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        job = json.loads(line)
        results = grade_chapter(chapters[job["chapter"]], job["sources"], limits, setup["mode"],
                                setup["seed"], setup["slot"])
        proto.write(json.dumps({"results": results_to_json(results)}) + "\n")


if __name__ == "__main__":
    main()
