"""Step 3 of grading, the process: start, talk to and kill the sandbox that runs a student's code.

Used by :mod:`~nblib.grading.student` (one ``Sandbox`` per student's chapter, restarted after
a timeout or a crash) and, once at start-up, by ``grade`` to choose the mode. The sandbox
runs :mod:`~nblib.grading.server`; requests and answers are :mod:`~nblib.grading.channel`
messages.

Two modes:

- ``bwrap`` (bubblewrap): new PID, network, IPC, UTS (and cgroup) namespaces, so nothing
  outlives the sandbox and there is no network; a fresh root holding read-only binds of
  only what Python needs (``/usr``, the interpreter, the virtualenv, the ``nblib`` package)
  and an empty ``/tmp``; never the tests, the master notebooks, the submissions or the output
  folder. ``--die-with-parent``, ``--new-session``, an empty environment. Run as root, the
  server drops to an unprivileged uid (65534 - slot) before serving; run as a normal user,
  bubblewrap maps the user into a user namespace.
- ``fallback`` (no usable bubblewrap): a plain subprocess in its own session, empty
  environment, cwd in a fresh temporary folder, unprivileged uid when run as root. It can
  still read whatever that uid can read on the host and reach the network: the grader
  says so loudly (stderr and every gradebook message).

Both: rlimits on address space (memory), CPU time, file size, open files, processes; a
wall-clock budget per question enforced from outside with SIGKILL on the whole process
group (and, as root, on every process of the sandbox uid).
"""
from __future__ import annotations

import errno
import fcntl
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from nblib.grading import channel

FALLBACK_WARNING = ("WEAK SANDBOX: bubblewrap is not usable here, so student code ran as a plain "
                    "process (rlimits, own session, unprivileged uid if root) that can read "
                    "world-readable files and may reach the network")


@dataclass
class Limits:
    timeout: float = 10.0        # wall-clock seconds of student code per question
    memory_mb: int = 2048        # RLIMIT_AS (import torch alone takes ~700 MB of address space)
    cpu_s: int = 300             # RLIMIT_CPU per process: a backstop behind the wall clock
    fsize_mb: int = 16           # RLIMIT_FSIZE
    nproc: int = 64              # RLIMIT_NPROC (threads count too)
    nofile: int = 256            # RLIMIT_NOFILE
    startup_timeout: float = 120.0


class Timeout(Exception):
    pass


class Died(Exception):
    pass


class StartError(RuntimeError):
    """The sandbox itself could not start: a grader/installation problem, not the student's."""


# ---------------------------------------------------------------------------------------------
def _bwrap_binds() -> list[str]:
    links: list[str] = []
    bound: list[Path] = []

    def ro(path: Path) -> None:
        path = Path(path)
        if not path.exists() or any(path == b or path.is_relative_to(b) for b in bound):
            return
        bound[:] = [b for b in bound if not b.is_relative_to(path)] + [path]

    ro(Path("/usr"))
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        p = Path(top)
        if p.is_symlink():
            links.extend(["--symlink", os.readlink(p), top])
        elif p.is_dir():
            ro(p)
    for f in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
              "/sys/devices/system/cpu"):
        ro(Path(f))
    ro(Path(sys.base_prefix).resolve())
    ro(Path(sys.prefix).resolve())
    ro(Path(sys.executable).resolve().parent)
    import nblib
    ro(Path(nblib.__file__).resolve().parent)
    if Path(sys.prefix) != Path(sys.prefix).resolve():
        links.extend(["--symlink", str(Path(sys.prefix).resolve()), str(Path(sys.prefix))])
    # Parent folders of the binds are created world-readable (bubblewrap would make them 0700,
    # which the unprivileged uid could not traverse: /root/.pyenv/... for a pyenv Python).
    # /tmp is the sandbox's own tmpfs, mounted before these binds (a clone and its .venv may
    # live under /tmp: mounted after, the tmpfs would hide the Python it runs).
    parents = sorted({a for b in bound for a in b.parents if a not in (Path("/"), Path("/tmp"))
                      and not any(a == o or a.is_relative_to(o) for o in bound)}, key=lambda p: len(p.parts))
    args = [x for a in parents for x in ("--perms", "0755", "--dir", str(a))]
    for b in sorted(bound, key=lambda p: len(p.parts)):
        args.extend(["--ro-bind", str(b), str(b)])
    return args + links


def _sandbox_cmd(mode: str, in_fd: int, out_fd: int, uid: int, gid: int) -> list[str]:
    server = [sys.executable, "-I", "-m", "nblib.grading.server", "--in-fd", str(in_fd),
              "--out-fd", str(out_fd), "--uid", str(uid), "--gid", str(gid)]
    if mode == "fallback":
        return server
    ns = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if os.geteuid() != 0:
        ns.append("--unshare-user")
    env = ["--clearenv", "--setenv", "HOME", "/tmp", "--setenv", "PATH", "/usr/bin:/bin",
           "--setenv", "OMP_NUM_THREADS", "1", "--setenv", "MKL_NUM_THREADS", "1",
           "--setenv", "PYTHONDONTWRITEBYTECODE", "1", "--setenv", "LANG", "C.UTF-8"]
    return (["bwrap", "--die-with-parent", "--new-session", *ns, "--perms", "1777", "--tmpfs", "/tmp",
             *_bwrap_binds(), "--proc", "/proc", "--dev", "/dev", "--chdir", "/tmp", *env, "--", *server])


def bwrap_works() -> tuple[bool, str]:
    """Whether bubblewrap can build our sandbox here (and why not)."""
    if shutil.which("bwrap") is None:
        return False, "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    cmd = _sandbox_cmd("bwrap", 0, 1, 65534, 65534)
    cmd = cmd[: cmd.index("--") + 1] + ["/bin/sh", "-c", "test ! -e /etc/passwd-nblib-probe"]
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bwrap failed: {exc}"
    if r.returncode != 0:
        return False, f"bwrap failed: {r.stderr.decode(errors='replace').strip()[:300]}"
    return True, "bubblewrap"


def _count_processes(uid: int) -> int:
    n = 0
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                n += os.stat(f"/proc/{d}").st_uid == uid
            except OSError:
                pass
    return n


def _kill_uid(uid: int) -> None:
    """SIGKILL every process owned by ``uid`` (only used for a dedicated sandbox uid)."""
    for _ in range(3):
        found = False
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    if os.stat(f"/proc/{d}").st_uid == uid:
                        os.kill(int(d), signal.SIGKILL)
                        found = True
                except OSError:
                    pass
        if not found:
            return
        time.sleep(0.05)


# ---------------------------------------------------------------------------------------------
class Sandbox:
    """One sandbox process serving one student's solution cells."""

    def __init__(self, limits: Limits, mode: str = "bwrap", slot: int = 0):
        self.limits, self.mode = limits, mode
        self.root = os.geteuid() == 0
        self.uid = 65534 - slot if self.root else os.getuid()
        self.gid = 65534 if self.root else os.getgid()
        self.proc: subprocess.Popen | None = None
        self._buf = b""
        self._next_id = 1
        self._workdir: tempfile.TemporaryDirectory | None = None

    def _preexec(self) -> None:
        lim = self.limits
        nproc = lim.nproc if self.root else _count_processes(os.getuid()) + lim.nproc
        for res, value in ((resource.RLIMIT_AS, lim.memory_mb * 2**20), (resource.RLIMIT_CPU, lim.cpu_s),
                           (resource.RLIMIT_FSIZE, lim.fsize_mb * 2**20), (resource.RLIMIT_NOFILE, lim.nofile),
                           (resource.RLIMIT_NPROC, nproc), (resource.RLIMIT_CORE, 0)):
            try:
                resource.setrlimit(res, (value, value))
            except (ValueError, OSError):
                pass

    def start(self) -> None:
        r_req, w_req = os.pipe()
        r_resp, w_resp = os.pipe()
        self._stderr = tempfile.TemporaryFile()
        env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"}
        cwd = None
        if self.mode == "fallback":
            self._workdir = tempfile.TemporaryDirectory(prefix="nblib-sandbox-")
            cwd = self._workdir.name
            if self.root:
                os.chown(cwd, self.uid, self.gid)
            env["HOME"] = cwd
        try:
            self.proc = subprocess.Popen(
                _sandbox_cmd(self.mode, r_req, w_resp, self.uid, self.gid), stdin=subprocess.DEVNULL,
                stdout=self._stderr, stderr=self._stderr, pass_fds=(r_req, w_resp), close_fds=True,
                start_new_session=True, preexec_fn=self._preexec, env=env, cwd=cwd)
        except OSError as exc:
            raise StartError(f"could not start the sandbox: {exc}") from exc
        finally:
            os.close(r_req)
            os.close(w_resp)
        self._req_fd, self._resp_fd = w_req, r_resp
        fcntl.fcntl(w_req, fcntl.F_SETFL, fcntl.fcntl(w_req, fcntl.F_GETFL) | os.O_NONBLOCK)
        self._buf = b""
        try:
            ready = self._read_message(0, time.monotonic() + self.limits.startup_timeout)
        except (Timeout, Died, channel.ProtocolError) as exc:
            detail = self.stderr_tail(600)
            self.close()
            raise StartError(f"the sandbox did not start ({type(exc).__name__}): {detail}") from None
        if ready.get("value") != "ready":
            self.close()
            raise StartError("the sandbox did not say ready")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stderr_tail(self, n: int = 300) -> str:
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - n))
            return self._stderr.read().decode("utf-8", errors="replace").strip()
        except (OSError, ValueError, AttributeError):
            return ""

    def _write(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Timeout()
            _, w, _ = select.select([], [self._req_fd], [], remaining)
            if not w:
                continue
            try:
                n = os.write(self._req_fd, view)
            except BlockingIOError:
                continue
            except BrokenPipeError:
                raise Died() from None
            view = view[n:]

    def _read_message(self, rid: int, deadline: float) -> dict:
        while True:
            while b"\n" not in self._buf:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Timeout()
                r, _, _ = select.select([self._resp_fd], [], [], remaining)
                if not r:
                    continue
                try:
                    chunk = os.read(self._resp_fd, 1 << 20)
                except OSError as exc:
                    if exc.errno == errno.EINTR:
                        continue
                    raise Died() from None
                if not chunk:
                    raise Died()
                self._buf += chunk
                if len(self._buf) > channel.MAX_MESSAGE + 1 and b"\n" not in self._buf:
                    raise channel.ProtocolError("answer over the size cap")
            line, _, self._buf = self._buf.partition(b"\n")
            msg = channel.loads(line)
            if set(msg) - {"id", "ok", "value", "error", "inputs_after"} or not isinstance(msg.get("ok"), bool):
                raise channel.ProtocolError("answer does not follow the schema")
            if msg.get("id") == rid:
                return msg
            # an answer to another request (stale or forged): ignore it

    def request(self, msg: dict, deadline: float) -> dict:
        """Send ``msg`` (values already encoded), return the answer; Timeout/Died/ProtocolError."""
        if not self.alive:
            raise Died()
        rid = self._next_id
        self._next_id += 1
        self._write(channel.dumps({**msg, "id": rid}), deadline)
        return self._read_message(rid, deadline)

    def describe_death(self) -> str:
        if self.proc is None:
            return "the sandbox was not running"
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "the sandbox stopped answering"
        sig = -code if code < 0 else (code - 128 if code > 128 and self.mode == "bwrap" else 0)
        if sig:
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
            why = {"SIGKILL": " (memory or CPU limit?)", "SIGXCPU": " (CPU time limit)",
                   "SIGXFSZ": " (file size limit)", "SIGSEGV": " (segmentation fault)"}.get(name, "")
            text = f"the sandbox process was killed by {name}{why}"
        else:
            text = f"the sandbox process exited with code {code} (os._exit or a fatal error?)"
        tail = self.stderr_tail(200).splitlines()
        return text + (f"; last stderr line: {tail[-1][:160]}" if tail else "")

    def close(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if self.root and self.mode == "fallback":
                _kill_uid(self.uid)  # processes that left the group (setsid) die too
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for fd in ("_req_fd", "_resp_fd"):
            if hasattr(self, fd):
                try:
                    os.close(getattr(self, fd))
                except OSError:
                    pass
                delattr(self, fd)
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None
