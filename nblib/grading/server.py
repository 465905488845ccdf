"""Step 3 of grading, inside the sandbox: run a student's solution cells and answer calls.

Started by :mod:`nblib.grading.sandbox` as ``python -I -m nblib.grading.server --in-fd N
--out-fd M [--uid U --gid G]``. It imports the prelude, drops to the unprivileged uid/gid
when started as root, says ``ready``, then serves requests, one JSON line each:

- ``{"id": 1, "op": "load", "question": "01-softplus", "source": "..."}``: run the cell in
  a fresh namespace that holds only the prelude (``math, np, torch, nn, F``);
- ``{"id": 2, "op": "call", "question": ..., "name": "sigmoid", "args": [...], "kwargs": {...}}``.

Answers are ``{"id", "ok": true, "value"}`` or ``{"id", "ok": false, "error": {"type",
"message", "where"}}``. Nothing here is trusted by the grader: the student's code runs in
this process and could write anything to the channel; the grader only ever treats an
answer as the student's return value, checked against the reference outside.
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback


def _drop_privileges(uid: int, gid: int) -> None:
    if os.geteuid() != 0:
        return
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.geteuid() == 0 or os.getuid() == 0:  # pragma: no cover
        raise SystemExit("could not drop root privileges")


def _where(exc: BaseException, filename: str) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    if isinstance(exc, SyntaxError) and exc.filename == filename:
        return f"line {exc.lineno} of the solution cell"
    return f"line {frames[-1].lineno} of the solution cell" if frames else ""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--in-fd", type=int, required=True)
    ap.add_argument("--out-fd", type=int, required=True)
    ap.add_argument("--uid", type=int, default=65534)
    ap.add_argument("--gid", type=int, default=65534)
    args = ap.parse_args()

    import torch  # the prelude's imports, done once (this is most of the start-up time)
    torch.set_num_threads(1)
    from nblib.grading import channel
    from nblib.exercises.format import PRELUDE
    exec(PRELUDE, {})

    inp = os.fdopen(args.in_fd, "rb", buffering=0)
    out = os.fdopen(args.out_fd, "wb", buffering=0)
    _drop_privileges(args.uid, args.gid)
    os.chdir("/tmp" if os.path.isdir("/tmp") else "/")

    def reply(msg: dict) -> None:
        try:
            line = channel.dumps(msg)
        except channel.Unsendable as exc:
            line = channel.dumps({"id": msg.get("id"), "ok": False,
                                  "error": {"type": "UnsendableResult", "message": str(exc), "where": ""}})
        out.write(line)

    def error(rid, exc: BaseException, filename: str) -> dict:
        text = str(exc)
        if isinstance(exc, SystemExit):
            text = f"the code called sys.exit({exc.code!r})"
        return {"id": rid, "ok": False, "error": {"type": type(exc).__name__, "message": text[:2000],
                                                  "where": _where(exc, filename)}}

    reply({"id": 0, "ok": True, "value": "ready"})
    namespaces: dict[str, dict] = {}
    reader = _LineReader(inp, channel.MAX_MESSAGE)
    while True:
        line = reader.readline()
        if line is None:
            return
        try:
            req = channel.loads(line)
        except channel.ProtocolError as exc:
            reply({"id": None, "ok": False, "error": {"type": "ProtocolError", "message": str(exc), "where": ""}})
            continue
        rid, op, q = req.get("id"), req.get("op"), req.get("question")
        filename = f"<solution cell {q}>"
        try:
            if op == "load":
                ns = {"__name__": "__student__", "__builtins__": __builtins__}
                exec(PRELUDE, ns)
                code = compile(str(req["source"]), filename, "exec")
                namespaces[q] = ns
                exec(code, ns)
                reply({"id": rid, "ok": True, "value": None})
            elif op == "call":
                ns = namespaces.get(q)
                if ns is None:
                    raise RuntimeError(f"question {q} was not loaded")
                name = str(req["name"])
                fn = ns.get(name)
                if fn is None or name.startswith("__"):
                    raise NameError(f"the solution cell defines no `{name}`")
                fn_args = channel.decode(req.get("args", []))
                fn_kwargs = channel.decode(req.get("kwargs", {"$dict": []}))
                result = fn(*fn_args, **fn_kwargs)
                try:
                    value = channel.encode(result)
                except channel.Unsendable as exc:
                    raise TypeError(f"`{name}` returned something that cannot be graded: {exc}") from None
                try:  # the arguments as the call left them: graders can see in-place changes
                    after = channel.encode({"args": list(fn_args), "kwargs": fn_kwargs})
                except channel.Unsendable:
                    after = None
                reply({"id": rid, "ok": True, "value": value, "inputs_after": after})
            else:
                reply({"id": rid, "ok": False, "error": {"type": "ProtocolError", "message": f"bad op {op!r}", "where": ""}})
        except BaseException as exc:  # noqa: BLE001  (SystemExit, KeyboardInterrupt too: report, keep serving)
            reply(error(rid, exc, filename))


class _LineReader:
    """Read newline-terminated messages from a raw fd with a size cap."""

    def __init__(self, f, cap: int):
        self.f, self.cap, self.buf = f, cap, b""

    def readline(self) -> bytes | None:
        while b"\n" not in self.buf:
            chunk = self.f.read(1 << 20)
            if not chunk:
                return None
            self.buf += chunk
            if len(self.buf) > self.cap + 1 and b"\n" not in self.buf:
                self.buf = b""
                return b"oversized message"
        line, _, self.buf = self.buf.partition(b"\n")
        return line


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
