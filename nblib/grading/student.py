"""Step 3 of grading: run one student's solution cells in a sandbox, answering the tests' calls.

Gets from step 2 (:mod:`~nblib.grading.submission`) one job's sources by question; is called
by step 4 (the ``student`` fixture of :mod:`~nblib.grading.plugin`) as
``session.call(question, name, args, kwargs)``. Below it: :mod:`~nblib.grading.sandbox`
starts and kills the sandbox process, :mod:`~nblib.grading.server` runs inside it, and
:mod:`~nblib.grading.channel` carries the JSON in between.

A ``StudentSession`` serves all questions of one student's chapter from one sandbox, and
restarts the sandbox only after a timeout or a crash (which zeroes that question alone:
``session.dead``, read by step 5). Each question has a wall-clock budget
(``Limits.timeout``) for loading its cell plus all calls its tests make.
"""
from __future__ import annotations

import time
from typing import Any

from nblib.exercises.format import runnable
from nblib.grading import channel
from nblib.grading.api import MissingSolution, SandboxCrashed, StudentError, StudentTimeout
from nblib.grading.sandbox import Died, Limits, Sandbox, Timeout


class StudentSession:
    """One student's solution cells for one chapter, served by a (re)started sandbox."""

    def __init__(self, sources: dict[str, str | None], limits: Limits, mode: str, slot: int = 0):
        self.sources, self.limits, self.mode, self.slot = sources, limits, mode, slot
        self.used: dict[str, float] = {}
        self.dead: dict[str, Exception] = {}       # question -> StudentTimeout / SandboxCrashed
        self.load_errors: dict[str, StudentError] = {}
        self.sandbox: Sandbox | None = None
        self.loaded: set[str] = set()
        self.inputs_after: dict[str, tuple | None] = {}  # question -> (args, kwargs) after its last call

    def _sandbox(self) -> Sandbox:
        if self.sandbox is None or not self.sandbox.alive:
            if self.sandbox is not None:
                self.sandbox.close()
            self.sandbox, self.loaded = Sandbox(self.limits, self.mode, self.slot), set()
            self.sandbox.start()  # StartError propagates: not the student's fault
        return self.sandbox

    def _request(self, q: str, msg: dict) -> dict:
        sb = self._sandbox()
        budget = self.limits.timeout - self.used.get(q, 0.0)
        t0 = time.monotonic()
        try:
            if budget <= 0:
                raise Timeout()
            return sb.request(msg, t0 + budget)
        except Timeout:
            sb.close()
            self.dead[q] = StudentTimeout(f"ran longer than {self.limits.timeout:g} s in total; stopped")
            raise self.dead[q] from None
        except (Died, channel.ProtocolError) as exc:
            why = sb.describe_death() if isinstance(exc, Died) else f"the sandbox broke the protocol ({exc})"
            sb.close()
            self.dead[q] = SandboxCrashed(why)
            raise self.dead[q] from None
        finally:
            self.used[q] = self.used.get(q, 0.0) + time.monotonic() - t0

    def call(self, q: str, name: str, args: tuple, kwargs: dict) -> Any:
        """``name(*args, **kwargs)`` from question ``q``'s cell, in the sandbox; the decoded result."""
        if q in self.dead:
            raise type(self.dead[q])(str(self.dead[q]))
        if q in self.load_errors:
            raise self.load_errors[q]
        source = self.sources.get(q)
        if source is None:
            raise MissingSolution(f"no solution cell for {q} in the submission")
        encoded = {"args": channel.encode(list(args)), "kwargs": channel.encode(dict(kwargs))}
        if q not in self.loaded or not (self.sandbox and self.sandbox.alive):
            self._sandbox()
            if q not in self.loaded:
                answer = self._request(q, {"op": "load", "question": q, "source": runnable(source)})
                if not answer["ok"]:
                    self.load_errors[q] = _student_error(answer, prefix="the cell failed to run: ")
                    raise self.load_errors[q]
                self.loaded.add(q)
        self.inputs_after[q] = None
        answer = self._request(q, {"op": "call", "question": q, "name": name, **encoded})
        if not answer["ok"]:
            raise _student_error(answer)
        try:
            value = channel.decode(answer.get("value"))
            after = answer.get("inputs_after")
            after = channel.decode(after) if after is not None else None
        except channel.ProtocolError as exc:
            raise StudentError("BadResult", f"the result could not be decoded: {exc}") from None
        if isinstance(after, dict) and isinstance(after.get("args"), list):
            self.inputs_after[q] = (tuple(after["args"]), after.get("kwargs") or {})
        return value

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None


def _student_error(answer: dict, prefix: str = "") -> StudentError:
    err = answer.get("error")
    err = err if isinstance(err, dict) else {}
    text = lambda k: str(err.get(k, ""))[:500]  # noqa: E731
    return StudentError(text("type") or "Error", prefix + text("message"), text("where"))
