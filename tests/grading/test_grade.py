"""nblib grade: reference gets full marks, stubs get zero, hostile or broken submissions gain
nothing they did not earn, and the batch always finishes with a gradebook."""
import ast
import csv
import hashlib
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import torch

from nblib.exercises.format import master_questions
from nblib.grading import channel
from nblib.grading.chapters import Chapter, ConfigError, ReferenceSession
from nblib.grading.forbidden import _normalize, forbidden_uses
from nblib.grading.grade import grade, self_test, sweep_seeds
from nblib.grading.plugin import Proxy
from nblib.grading.release import release
from nblib.grading.report import clean, feedback_filename
from nblib.grading.sandbox import bwrap_works
from nblib.grading.submission import submitted_sources
from paths import FIXTURE_BOOK, ROOT
from submissions import FIXED_SEED, master, with_solution

BOOK = FIXTURE_BOOK
MASTERS, TESTS = BOOK / "chapters", BOOK / "grading"
MASTER = MASTERS / "99_fixture.ipynb"
QS = ["99-sigmoid", "99-running-mean", "99-stats"]
HAVE_BWRAP = bwrap_works()[0]


# --------------------------------------------------------------------------------------------
# building submissions
# --------------------------------------------------------------------------------------------
def master_nb():
    return json.loads(MASTER.read_text())


def master_source(q):
    return submitted_sources(master_nb(), QS)[q]


def submission(**replace):
    """The master notebook with some solution cells replaced (None: cell removed)."""
    nb = master_nb()
    cells = []
    for cell in nb["cells"]:
        q = cell["metadata"].get("grading", {}).get("question", "").replace("99-", "").replace("-", "_")
        if q in replace:
            if replace[q] is None:
                continue
            cell = dict(cell, source=replace[q])
        cells.append(cell)
    nb["cells"] = cells
    return nb


def write(subs, student, nb, name="99_fixture.ipynb"):
    d = subs / student
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(json.dumps(nb) if not isinstance(nb, str) else nb, encoding="utf-8")


def read_gradebook(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {(r["student"], r["question"]): r for r in rows}, rows


SIGMOID_OK = "def sigmoid(x):\n    return 1 / (1 + torch.exp(-x))\n"
RM_OK = master_source("99-running-mean")
STATS_OK = master_source("99-stats")


def hostile(tmp_path, listener_port):
    """Students who cheat, crash, hang or probe; what each may earn at most."""
    secret_paths = [str(MASTER), str(TESTS / "99_fixture" / "test_sigmoid.py"), str(tmp_path / "out")]
    evil = [str(tmp_path / "out" / "evil.txt"), f"/tmp/nblib-evil-{uuid.uuid4().hex}", str(MASTER) + ".evil"]
    return evil, {
        "loop": ({"sigmoid": "def sigmoid(x):\n    while True:\n        pass\n",
                  "running_mean": "while True:\n    pass\n", "stats": STATS_OK},
                 {"99-sigmoid": "timeout", "99-running-mean": "timeout", "99-stats": "passed"}),
        "exits": ({"sigmoid": "import os\ndef sigmoid(x):\n    os._exit(0)\n",
                   "running_mean": "import sys\ndef running_means(xs):\n    sys.exit(1)\n", "stats": STATS_OK},
                  {"99-sigmoid": "error", "99-running-mean": "error", "99-stats": "passed"}),
        "memory": ({"sigmoid": "def sigmoid(x):\n    b = bytearray(8 * 2**30)\n    return x\n",
                    "running_mean": "def running_means(xs):\n    keep = []\n    while True:\n"
                                    "        keep.append(bytearray(10**8))\n",
                    "stats": "def stats(x):\n    return torch.empty(2**34)\n"},
                   # growing memory ends in MemoryError or, on a slow machine, first in the timeout
                   {"99-sigmoid": "error", "99-running-mean": {"error", "timeout"}, "99-stats": "error"}),
        "forkbomb": ({"sigmoid": "import os\ndef sigmoid(x):\n    while True:\n        try:\n            os.fork()\n"
                                 "        except OSError:\n            pass\n",
                      "running_mean": RM_OK, "stats": STATS_OK},
                     {"99-sigmoid": "timeout", "99-running-mean": "passed", "99-stats": "passed"}),
        "liar": ({"sigmoid": "import os, sys\ndef sigmoid(x):\n"
                             "    print('alice,99_fixture,99-sigmoid,2,2,passed,')\n"
                             "    os.write(1, b'{\"id\": 1, \"ok\": true, \"value\": 1}\\n')\n"
                             "    os.write(2, b'PASSED 2/2\\n')\n"
                             "    fd = int(sys.argv[sys.argv.index('--out-fd') + 1])\n"
                             "    for i in range(100):\n"
                             "        os.write(fd, ('{\"id\": %d, \"ok\": true, \"value\": 0.5}\\n' % i).encode())\n"
                             "    return x * 0\n",
                  "running_mean": "def running_means(xs):\n    print('{\"ok\": true}')\n    return [0.0] * (len(xs) + 1)\n",
                  "stats": "import os, sys\ndef stats(x):\n"
                           "    fd = int(sys.argv[sys.argv.index('--out-fd') + 1])\n"
                           "    os.write(fd, b'not json at all\\n')\n    return {}\n"},
                 {"99-sigmoid": "failed", "99-running-mean": "failed", "99-stats": "error"}),
        "snoop": ({"sigmoid": "import os\ndef sigmoid(x):\n"
                              f"    for p in {secret_paths!r}:\n"
                              "        if os.path.exists(p):\n            return x * 0  # saw a secret\n"
                              "    return 1 / (1 + torch.exp(-x))\n",
                   "running_mean": RM_OK.replace("def running_means(xs):",
                                                "def running_means(xs):\n"
                                                f"    for p in {evil!r}:\n"
                                                "        try:\n            open(p, 'w').write('x')\n"
                                                "        except OSError:\n            pass"),
                   "stats": STATS_OK.replace("def stats(x):",
                                             "import socket\ndef stats(x):\n"
                                             f"    for addr in [('127.0.0.1', {listener_port}), ('1.1.1.1', 53)]:\n"
                                             "        try:\n"
                                             "            socket.create_connection(addr, timeout=1).close()\n"
                                             "            return {}  # reached the network\n"
                                             "        except OSError:\n            pass")},
                  {"99-sigmoid": "passed", "99-running-mean": "passed", "99-stats": "passed"}),
        "unsendable": ({"sigmoid": "def sigmoid(x):\n    return nn.Linear(1, 1)\n",
                        "running_mean": "def running_means(xs):\n    return (v for v in xs)\n",
                        "stats": "def stats(x):\n    return torch.zeros(3 * 10**6, dtype=torch.float64)\n"},
                       # growing memory ends in MemoryError or, on a slow machine, first in the timeout
                   {"99-sigmoid": "error", "99-running-mean": {"error", "timeout"}, "99-stats": "error"}),
    }


# --------------------------------------------------------------------------------------------
# fast unit tests
# --------------------------------------------------------------------------------------------
def test_channel_round_trips_values_exactly():
    value = {"t": torch.tensor([[1.5, float("nan")], [float("inf"), -0.0]], dtype=torch.float64),
             "i": torch.arange(6, dtype=torch.int32).reshape(2, 3), "b": torch.tensor([True, False]),
             "h": torch.randn(3, dtype=torch.bfloat16), "e": torch.zeros(0, 4), "s": torch.tensor(3.0),
             1: [1, 2.5, float("-inf"), None, "x", True], "tup": (torch.Size([2, 3]), torch.float32)}
    back = channel.roundtrip(value)
    assert back.keys() == value.keys() and back[1][:2] == [1, 2.5] and back["tup"] == ((2, 3), torch.float32)
    for k in "tibhes":
        assert back[k].dtype == value[k].dtype and back[k].shape == value[k].shape
        assert torch.equal(back[k].nan_to_num(7), value[k].nan_to_num(7))
    assert torch.equal(channel.roundtrip(torch.ones(3, requires_grad=True) * 2), torch.full((3,), 2.0))


@pytest.mark.parametrize("bad", [
    b'{"v": {"$tensor": {"dtype": "float64", "shape": [3], "data": "AAAA"}}}',      # size mismatch
    b'{"v": {"$tensor": {"dtype": "object", "shape": [1], "data": ""}}}',            # dtype not allowed
    b'{"v": {"$pickle": "gASVAAAAAAAAAACMBHRlc3SULg=="}}',                            # unknown key
    b'{"v": {"a": 1, "b": 2}}',                                                      # plain dict
    b'{"v": NaN}',                                                                   # bare constant
    b'{"v": ' + b"[" * 5000 + b"]" * 5000 + b"}",                                    # nesting
    b"\xff\xfe",                                                                      # not UTF-8
])
def test_channel_rejects_off_schema_messages(bad):
    with pytest.raises(channel.ProtocolError):
        channel.decode(channel.loads(bad)["v"])


def test_channel_refuses_objects_and_oversized_messages():
    with pytest.raises(channel.Unsendable, match="torch.nn.modules.linear.Linear"):
        channel.encode(torch.nn.Linear(1, 1))
    with pytest.raises(channel.Unsendable, match="cap"):
        channel.dumps({"v": channel.encode(torch.zeros(2 * 10**6, dtype=torch.float64))})


def test_no_pickle_in_the_grader():
    for path in (ROOT / "nblib" / "grading").glob("*.py"):
        text = path.read_text()
        assert "import pickle" not in text and "torch.load" not in text and "multiprocessing" not in text, path


@pytest.mark.parametrize("source, found", [
    ("def f(x):\n    return torch.sigmoid(x)\n", ["torch.sigmoid (line 2)"]),
    ("import torch as t\nf = lambda x: t.sigmoid(x)\n", ["torch.sigmoid (line 2)"]),
    ("from torch import sigmoid as s\n", ["torch.sigmoid (line 1)"]),
    ("def f(x):\n    return F.sigmoid(x)\n", ["F.sigmoid (line 2)"]),
    ("import torch.nn.functional as G\ng = G.sigmoid\n", ["F.sigmoid (line 2)"]),
    ("def f(x):\n    return x.sigmoid()\n", [".sigmoid (line 2)"]),
    ("def f(x):\n    return torch.special.expit(x)\n", []),
    ("def f(x):\n    return getattr(torch, 'sigmoid')(x)\n", [".sigmoid (line 2)", "torch.sigmoid (line 2)"]),
    ("def f(x):\n    return 1 / (1 + torch.exp(-x))  # not torch.sigmoid\n", []),
    ("def f(:\n", []),
])
def test_forbidden_calls_are_found_through_aliases(source, found):
    got = forbidden_uses(source, ["torch.sigmoid", "F.sigmoid", ".sigmoid"])
    assert set(found) <= set(got) and (got == []) == (found == [])
    assert all(g.startswith((".sigmoid", "torch.sigmoid", "F.sigmoid")) for g in got)


def test_submitted_sources_ignores_mangled_cells():
    nb = master_nb()
    nb["cells"][4]["source"] = 42                       # mangled source
    nb["cells"].append(dict(nb["cells"][8]))            # running-mean twice: ambiguous
    del nb["cells"][11]["metadata"]["grading"]          # stats: no longer identifiable
    assert submitted_sources(nb, QS) == {q: None for q in QS}
    assert submitted_sources(["not", "a", "notebook"], QS) == {q: None for q in QS}


def test_self_test_rejects_points_that_do_not_add_up(tmp_path):
    tests = tmp_path / "99_fixture"
    shutil.copytree(TESTS / "99_fixture", tests)
    text = (tests / "test_sigmoid.py").read_text().replace('points=1)\ndef test_sigmoid_keeps', 'points=3)\ndef test_sigmoid_keeps')
    (tests / "test_sigmoid.py").write_text(text)
    (tests / "test_extra.py").write_text("from nblib.grading import question, assert_close\n"
                                         "@question('99-stats', points=1)\n"
                                         "def test_wrong(student, reference):\n"
                                         "    assert_close(reference.stats(torch.ones(2)), 0)\n")
    with pytest.raises(ConfigError) as err:
        self_test(Chapter.load(MASTER, tests), 1)
    assert "99-sigmoid: its tests add up to 4 points, the notebook says 2" in str(err.value)
    assert "test_wrong fails against the reference solution" in str(err.value)


def test_a_test_that_breaks_for_some_secret_seeds_is_found_by_the_seed_sweep(tmp_path):
    # A graded test whose problem breaks the reference for one draw in two: a single grade run
    # may pass or stop, the sweep names exactly the seeds that stop it, and the CLI exits 1.
    tests = tmp_path / "grading" / "99_fixture"
    shutil.copytree(TESTS / "99_fixture", tests)
    text = (tests / "test_collections.py").read_text()
    text = text.replace("    x = torch.randn(int(torch.randint(2, 20,",
                        "    assert int(torch.randint(0, 2, (), generator=rng)) == 0, 'an unlucky draw'\n"
                        "    x = torch.randn(int(torch.randint(2, 20,")
    (tests / "test_collections.py").write_text(text)
    seeds = list(range(12))
    found = sweep_seeds(tmp_path / "grading", MASTERS, seeds=seeds)
    bad = [s for s, _ in found["99_fixture"]]
    assert 0 < len(bad) < len(seeds), bad
    assert all("test_stats fails against the reference solution" in msg and "an unlucky draw" in msg
               for _, msg in found["99_fixture"])
    for s in seeds:  # each verdict of the sweep is what grade's own self-test does with that seed
        if s in bad:
            with pytest.raises(ConfigError):
                self_test(Chapter.load(MASTER, tests), s)
        else:
            self_test(Chapter.load(MASTER, tests), s)
    r = subprocess.run([sys.executable, "-m", "nblib", "selftest", "--tests", str(tmp_path / "grading"),
                        "--masters", str(MASTERS)] + [f"--seed={s}" for s in seeds],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 1, r.stderr
    assert f"99_fixture: {len(seeds) - len(bad)} of {len(seeds)} seeds pass" in r.stdout
    assert f"seed {bad[0]} (reproduce: nblib grade --seed {bad[0]}" in r.stdout
    assert sweep_seeds(TESTS, MASTERS, seeds=seeds) == {"99_fixture": []}  # the unchanged tests


def test_feedback_names_are_safe_and_distinct():
    taken = set()
    names = [feedback_filename(s, taken) for s in ["bob", "Bob", "../x", "zoë smith", "..", "a/b", ""]]
    assert names[0] == "bob.md" and len(set(n.lower() for n in names)) == len(names)
    assert all("/" not in n and not n.startswith(".") for n in names)
    assert clean("a\nb\x1b[31m\u202e") == "a b [31m"


def test_refuses_a_gradebook_inside_the_submissions(tmp_path):
    (tmp_path / "subs").mkdir()
    with pytest.raises(ConfigError, match="must not be inside"):
        grade(tmp_path / "subs", tmp_path / "subs" / "gb.csv", tests=TESTS, masters=MASTERS)


# --------------------------------------------------------------------------------------------
# whole batches (slow: they start sandboxes)
# --------------------------------------------------------------------------------------------
def _sandbox_uid_processes():
    n = 0
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                n += os.stat(f"/proc/{d}").st_uid in (65534, 65533, 65532)
            except OSError:
                pass
    return n


@pytest.fixture
def listener():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    srv.setblocking(False)
    yield srv
    srv.close()


def _accepted(srv):
    try:
        srv.accept()[0].close()
        return True
    except BlockingIOError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_BWRAP, reason="bubblewrap is not usable here (the fallback batch below still runs)")
def test_batch_with_bubblewrap(tmp_path, listener):
    subs = tmp_path / "subs"
    write(subs, "reference", master_nb())
    write(subs, "stub", json.loads(release(MASTERS, tmp_path / "student")[0].read_text()))
    write(subs, "partial", submission(sigmoid="def sigmoid(x):\n    return 1 / (1 + torch.exp(-x.double()))\n",
                                      stats="def stats(x):\n    return {'mean': 0.0, 'max': x.max().item(), 'n': len(x)}\n"))
    write(subs, "forbidden", submission(sigmoid="def sigmoid(x):\n    return torch.sigmoid(x)\n"))
    write(subs, "in-place", submission(  # right answer, but it sorts the caller's list in place
        running_mean="def running_means(xs):\n    out = [sum(xs[:i + 1]) / (i + 1) for i in range(len(xs))]\n"
                     "    xs.sort()\n    return out\n"))
    write(subs, "mangled", submission(sigmoid=None, running_mean=["ok", 3], stats="x" * 300_000))
    evil, cases = hostile(tmp_path, listener.getsockname()[1])
    for name, (repl, _) in cases.items():
        write(subs, name, submission(**repl))
    # bad inputs
    write(subs, "carol smith", "{not json")
    write(subs, "zoë ünïcode", submission(  # imports beyond the prelude work in the sandbox
        running_mean="import statistics, tempfile\nfrom nblib.autograd import Value\n"
                     "def running_means(xs):\n    tempfile.TemporaryFile().write(b'scratch space works')\n    return [statistics.fmean(xs[:i + 1]) for i in range(len(xs))]\n"))
    write(subs, "=cmd|calc!A0", master_nb())
    (subs / "dir-notebook" / "99_fixture.ipynb").mkdir(parents=True)
    (subs / "linker").mkdir()
    (subs / "linker" / "99_fixture.ipynb").symlink_to(MASTER)
    (subs / "mallory").symlink_to(MASTERS)
    (subs / "empty").mkdir()
    (subs / "README.txt").write_text("not a student")

    t0 = time.monotonic()
    report = grade(subs, tmp_path / "out" / "gradebook.csv", tests=TESTS, masters=MASTERS, timeout=3, jobs=2)
    elapsed = time.monotonic() - t0
    by, rows = read_gradebook(tmp_path / "out" / "gradebook.csv")
    assert report.mode == "bwrap" and not any("WEAK SANDBOX" in r["message"] for r in rows)

    def status(student):
        return {q: by[(student, q)]["status"] for q in QS}

    def points(student):
        return sum(float(by[(student, q)]["points"]) for q in QS)

    assert status("reference") == dict.fromkeys(QS, "passed") and points("reference") == 5
    assert status("zoë ünïcode") == dict.fromkeys(QS, "passed")
    assert by[("'=cmd|calc!A0", QS[0])]["status"] == "passed"
    assert status("stub") == dict.fromkeys(QS, "error") and points("stub") == 0
    assert "not attempted" in by[("stub", "99-sigmoid")]["message"]
    assert status("partial") == {"99-sigmoid": "failed", "99-running-mean": "passed", "99-stats": "failed"}
    assert points("partial") == 3 and by[("partial", "99-sigmoid")]["points"] == "1"
    assert "dtype" in by[("partial", "99-sigmoid")]["message"]
    assert by[("forbidden", "99-sigmoid")]["status"] == "failed" and by[("forbidden", "99-sigmoid")]["points"] == "0"
    # arguments travel as copies; the sandbox sends them back, so an in-place change is seen
    in_place = by[("in-place", "99-running-mean")]
    assert in_place["status"] == "failed" and "changed in place" in in_place["message"], in_place
    assert "torch.sigmoid (line 2)" in by[("forbidden", "99-sigmoid")]["message"]
    assert status("mangled") == dict.fromkeys(QS, "missing")
    for name, (_, expected) in cases.items():
        got = status(name)
        assert all(got[q] in (e if isinstance(e, set) else {e}) for q, e in expected.items()), (
            name, got, [by[(name, q)]["message"] for q in QS])
        for q in QS:
            assert float(by[(name, q)]["points"]) <= (by[(name, q)]["status"] == "passed") * 2
    assert "longer than 3 s" in by[("loop", "99-sigmoid")]["message"]
    assert "exited with code 0" in by[("exits", "99-sigmoid")]["message"]
    assert "sys.exit(1)" in by[("exits", "99-running-mean")]["message"]
    assert "MemoryError" in by[("memory", "99-sigmoid")]["message"]
    assert "cannot be graded" in by[("unsendable", "99-sigmoid")]["message"]
    for student, why in [("carol smith", "not a valid notebook"), ("dir-notebook", "not a regular file"),
                         ("linker", "symbolic link"), ("mallory", "symbolic link"), ("empty", "no 99_fixture.ipynb")]:
        assert status(student) == dict.fromkeys(QS, "missing"), student
        assert why in by[(student, QS[0])]["message"]
    assert not any(r["student"] == "README.txt" for r in rows)
    # the probes saw and changed nothing outside the sandbox
    assert not any(Path(p).exists() for p in evil) and not _accepted(listener)
    assert _sandbox_uid_processes() == 0
    # CSV formula injection defused, feedback written for everyone
    raw = (tmp_path / "out" / "gradebook.csv").read_text(encoding="utf-8")
    assert "\n'=cmd|calc!A0," in raw
    feedback = sorted(p.name for p in (tmp_path / "out" / "feedback").iterdir())
    assert len(feedback) == len({r["student"] for r in rows}) and "reference.md" in feedback
    assert "## 99_fixture: 3 / 5 points" in (tmp_path / "out" / "feedback" / "partial.md").read_text()
    assert elapsed < 240


@pytest.mark.slow
def test_batch_with_the_fallback_sandbox_warns_loudly(tmp_path, listener, capfd):
    subs = tmp_path / "subs"
    write(subs, "reference", master_nb())
    _, cases = hostile(tmp_path, listener.getsockname()[1])
    for name in ("loop", "exits", "forkbomb", "liar"):
        write(subs, name, submission(**cases[name][0]))
    report = grade(subs, tmp_path / "gb.csv", tests=TESTS, masters=MASTERS, timeout=3, jobs=2, sandbox="fallback")
    assert report.mode == "fallback" and "WEAK SANDBOX" in capfd.readouterr().err
    by, rows = read_gradebook(tmp_path / "gb.csv")
    assert all(r["message"].startswith("[WEAK SANDBOX]") for r in rows)
    assert "WEAK SANDBOX" in (tmp_path / "feedback" / "reference.md").read_text()
    assert all(by[("reference", q)]["status"] == "passed" for q in QS)
    for name in ("loop", "exits", "forkbomb", "liar"):
        assert {q: by[(name, q)]["status"] for q in QS} == cases[name][1], name
    assert _sandbox_uid_processes() == 0


@pytest.mark.slow
def test_cli_grades_one_submission(tmp_path):
    # Its speed is measured by `python -m nblib.grading.bench` (run by hand), not asserted here:
    # a timed test fails on a busy machine.
    write(tmp_path / "subs", "alice", master_nb())
    r = subprocess.run([sys.executable, "-m", "nblib", "grade", "--submissions", str(tmp_path / "subs"),
                        "--out", str(tmp_path / "gb.csv"), "--tests", str(TESTS), "--masters", str(MASTERS)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "3 passed" in r.stdout


# --------------------------------------------------------------------------------------------
# the real chapters' exercise texts name what their graded tests forbid
# --------------------------------------------------------------------------------------------
def _exercise_texts(stem):
    """{question: the Markdown cell above its solution cell (the exercise's text)}."""
    cells = json.loads((ROOT / "chapters" / f"{stem}.ipynb").read_text())["cells"]
    texts = {}
    for i, cell in enumerate(cells):
        q = cell["metadata"].get("grading", {}).get("question")
        if q and "solution" in cell["metadata"].get("tags", []):
            j = i - 1
            while cells[j]["cell_type"] != "markdown":
                j -= 1
            texts[q] = "".join(cells[j]["source"])
    return texts


def _forbidden_lists(stem):
    found = {}
    for path in sorted((ROOT / "grading" / stem).glob("test_*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "FORBIDDEN" for t in node.targets):
                for q, names in ast.literal_eval(node.value).items():
                    found.setdefault(q, set()).update(names)
    return found


@pytest.mark.parametrize("stem", ["01_neuron", "02_learning", "03_mlp"])
def test_each_exercise_text_names_every_name_its_graded_tests_forbid(stem):
    """A learner must know before grading what the grader rejects: every FORBIDDEN entry of a
    question appears in its exercise's text as `code` (F.x and torch.nn.functional.x alike)."""
    texts = _exercise_texts(stem)
    forbidden = _forbidden_lists(stem)
    assert forbidden and set(forbidden) <= set(texts)
    for q, names in forbidden.items():
        named = {_normalize(token) for token in re.findall(r"`([^`]+)`", texts[q])}
        missing = sorted(n for n in names if _normalize(n) not in named)
        assert not missing, f"{q}: its text does not name {missing}"


# --------------------------------------------------------------------------------------------
# the real chapters, once their grading/ folders exist
# --------------------------------------------------------------------------------------------
def _real_chapters():
    found = [d.name for d in sorted((ROOT / "grading").glob("*")) if d.is_dir() and any(d.glob("test_*.py"))
             and (ROOT / "chapters" / f"{d.name}.ipynb").is_file()] if (ROOT / "grading").is_dir() else []
    return found or ["(none yet)"]


@pytest.mark.slow
@pytest.mark.parametrize("stem", _real_chapters())
def test_real_chapter_reference_gets_full_marks_and_stub_gets_zero(stem, tmp_path):
    if stem == "(none yet)":
        assert not (ROOT / "grading").is_dir() or not any((ROOT / "grading").glob("*/test_*.py"))
        return
    master = ROOT / "chapters" / f"{stem}.ipynb"
    subs = tmp_path / "subs"
    (subs / "reference").mkdir(parents=True)
    shutil.copy(master, subs / "reference")
    (subs / "stub").mkdir()
    release(master, subs / "stub")
    grade(subs, tmp_path / "gb.csv", tests=ROOT / "grading", masters=ROOT / "chapters", timeout=60, chapters=[stem],
          seed=FIXED_SEED)
    _, rows = read_gradebook(tmp_path / "gb.csv")
    assert rows
    for r in rows:
        if r["student"] == "reference":
            assert r["status"] == "passed" and r["points"] == r["max_points"], r
        else:
            assert r["status"] in ("failed", "error") and float(r["points"]) == 0, r


@pytest.mark.slow
@pytest.mark.parametrize("stem", _real_chapters())
def test_real_chapter_references_pass_their_graded_tests_under_many_secret_seeds(stem):
    # grade() draws a fresh secret seed per run; a graded test that breaks the reference for some
    # draws (a group of one value, an empty batch) would stop an instructor's run at random.
    # Eight fixed seeds here; `nblib selftest --seeds 300` tries random ones by hand.
    if stem == "(none yet)":
        return
    assert sweep_seeds(ROOT / "grading", ROOT / "chapters", seeds=range(1, 9), chapters=[stem]) == {stem: []}


# 03-train-xor-anywhere asks for training. Each of these solution bodies applies a fixed pair
# of lines through the centre of the data instead (no training): the quadrant rule
# (z0 > 0) != (z1 > 0) or |z0| > |z1|, on the raw, standardised (training mean and std) or
# whitened inputs, with the class of each side taken as given or chosen by a majority vote on y.
_XOR_INPUTS = {
    "raw": "    def z(p):\n        return p\n",
    "standardised": "    m, s = x.mean(0), x.std(0)\n"
                    "    def z(p):\n        return (p - m) / s\n",
    "whitened": "    m = x.mean(0)\n"
                "    e, v = torch.linalg.eigh(torch.cov((x - m).T))\n"
                "    root = v @ torch.diag(e.rsqrt()) @ v.T\n"
                "    def z(p):\n        return (p - m) @ root\n",
}
_XOR_SIDES = {
    "quadrant": "    def side(p):\n        u = z(p)\n        return ((u[:, 0] > 0) != (u[:, 1] > 0)).long()\n",
    "abs": "    def side(p):\n        u = z(p)\n        return (u[:, 0].abs() > u[:, 1].abs()).long()\n",
}
_XOR_VOTE = ("    flip = int((side(x) == y).float().mean() < 0.5)  # the majority of y decides\n"
             "    return (side(x_new) + flip) % 2\n")
XOR_RULES = {f"{side}-{inputs}{'-vote' if vote else ''}":
             _XOR_INPUTS[inputs] + _XOR_SIDES[side] + (_XOR_VOTE if vote else "    return side(x_new)\n")
             for inputs in _XOR_INPUTS for side in _XOR_SIDES for vote in (False, True)}


def _graded_module(path):
    spec = importlib.util.spec_from_file_location(f"graded_{path.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_fixed_rules_score_zero_and_a_trained_mlp_full_marks_on_train_xor_over_many_seeds():
    """The graded tests of 03-train-xor-anywhere, run in this process (solutions executed as the
    grader runs the reference, through the same channel round trip) for the seeds of 50 grading
    runs: every fixed rule of XOR_RULES scores 0 on every run, among them the shortcut that
    passed the old tests (|z0| > |z1| on standardised inputs, with a majority vote); the
    reference, a small MLP trained on x, y, scores full marks on all 50 (it trains 10 times per
    run)."""
    question = "03-train-xor-anywhere"
    graded = _graded_module(ROOT / "grading" / "03_mlp" / "test_train_xor.py")
    tests = [f for f in vars(graded).values() if getattr(f, "__nblib_question__", None) == question]
    full = sum(f.__nblib_points__ for f in tests)
    assert len(tests) == 2 and full == 3

    def score(session, run):
        points = 0.0
        for test in tests:  # one seed per run and test, as the grader derives them
            seed = int.from_bytes(hashlib.sha256(f"{run}:{test.__name__}".encode()).digest()[:8], "little") >> 1
            try:
                test(student=Proxy(session, question), seed=seed)
            except AssertionError:
                continue
            points += test.__nblib_points__
        return points

    runs = range(50)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the sandbox (OMP_NUM_THREADS=1)
    try:
        _score_rules_and_reference(score, runs, question, full)
    finally:
        torch.set_num_threads(threads)


def _score_rules_and_reference(score, runs, question, full):
    for name, body in XOR_RULES.items():
        rule = ReferenceSession(master_questions(with_solution(master("03_mlp"), question, body)))
        scores = [score(rule, run) for run in runs]
        assert scores == [0.0] * len(runs), (name, scores)
    reference = ReferenceSession(master_questions(master("03_mlp")))
    assert [score(reference, run) for run in runs] == [full] * len(runs)


@pytest.mark.slow
def test_a_hand_written_rule_that_does_not_train_scores_zero_on_train_xor(tmp_path):
    """The same through the real grader and its sandbox, for two rules: the quadrant rule of the
    untransformed pattern and the shortcut of the old tests (|z0| > |z1| after standardising,
    with a majority vote on y). Each gets no point, status failed."""
    question = "03-train-xor-anywhere"
    rules = {"rule-raw": XOR_RULES["quadrant-raw"], "rule-standardised": XOR_RULES["abs-standardised-vote"]}
    subs = tmp_path / "subs"
    for student, body in rules.items():
        (subs / student).mkdir(parents=True)
        (subs / student / "03_mlp.ipynb").write_text(json.dumps(with_solution(master("03_mlp"), question, body)))
    grade(subs, tmp_path / "gb.csv", tests=ROOT / "grading", masters=ROOT / "chapters", timeout=60,
          chapters=["03_mlp"], seed=FIXED_SEED)
    by, _ = read_gradebook(tmp_path / "gb.csv")
    for student in rules:
        row = by[(student, question)]
        assert float(row["points"]) == 0, row
        assert row["status"] == "failed", row
