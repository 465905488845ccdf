"""nblib.exercises: the learner's self-check prints one readable verdict and raises only when strict."""
import ast
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from nblib.compare import compare
from nblib.exercises import verdict as check_module
from nblib.exercises import expect as C
from paths import FIXTURES
from devices import CUDA

sys.path.insert(0, str(FIXTURES))
importlib.import_module("exercises_ch99")


@pytest.fixture(autouse=True)
def learner_environment(monkeypatch):
    """The learner's default (make test exports NBLIB_STRICT_CHECKS=1 for the chapters)."""
    monkeypatch.delenv("NBLIB_STRICT_CHECKS", raising=False)


def good_sigmoid(x):
    return 1 / (1 + torch.exp(-x))


def test_pass_prints_verdict_and_returns_true(capsys):
    assert check_module.check("99-sigmoid", good_sigmoid) is True
    out = capsys.readouterr().out
    assert out.startswith("PASS 99-sigmoid")
    assert out.strip().endswith("public checks passed (1 check); graded tests may differ.")


def test_wrong_values_show_expected_received_max_difference_and_hint(capsys):
    assert check_module.check("99-sigmoid", lambda x: good_sigmoid(x) + 0.5 * (x == 0)) is False
    out = capsys.readouterr().out
    assert out.startswith("FAIL 99-sigmoid")
    assert "expected: tensor, shape (13,), dtype torch.float64" in out
    assert "1 of 13 values differ" in out and "at index (6,)" in out and "received 1, expected 0.5" in out
    assert "hint: 1 / (1 + exp(-x))" in out
    assert "Traceback" not in out and len(out.splitlines()) < 10


def test_wrong_shape_and_none_are_named(capsys):
    check_module.check("99-sigmoid", lambda x: x[:3])
    assert "has shape (3,); expected shape (13,)" in capsys.readouterr().out
    check_module.check("99-sigmoid", lambda x: None)
    assert "forget to `return`" in capsys.readouterr().out


def test_stub_is_not_attempted(capsys):
    def stub(x):
        raise NotImplementedError("99-sigmoid: write your solution here")
    assert check_module.check("99-sigmoid", stub) is False
    assert capsys.readouterr().out.startswith("TODO 99-sigmoid: not attempted yet")


def test_exception_in_student_code_names_the_line(capsys):
    def bad(x):
        return x / undefined_name  # noqa: F821
    assert check_module.check("99-sigmoid", bad) is False
    out = capsys.readouterr().out
    assert out.startswith("ERROR 99-sigmoid: your code raised NameError")
    assert "in bad(): `return x / undefined_name" in out


def test_strict_raises_assertion_error_after_printing(capsys, monkeypatch):
    with pytest.raises(AssertionError, match="FAIL 99-sigmoid"):
        check_module.check("99-sigmoid", lambda x: x, strict=True)
    monkeypatch.setenv("NBLIB_STRICT_CHECKS", "1")
    with pytest.raises(AssertionError, match="TODO 99-sigmoid"):
        check_module.check("99-sigmoid", lambda x: (_ for _ in ()).throw(NotImplementedError()))
    assert check_module.check("99-sigmoid", good_sigmoid) is True
    assert check_module.check("99-sigmoid", lambda x: x, strict=False) is False


def test_unknown_question_has_no_checks(capsys):
    assert check_module.check("98-nothing", good_sigmoid) is False
    assert "no public checks are registered" in capsys.readouterr().out
    assert check_module.check("sigmoid", good_sigmoid) is False
    assert "must look like 'NN-name'" in capsys.readouterr().out


def test_lists_and_dicts(capsys):
    assert check_module.check("99-running-mean", lambda xs: [1.0, 1.5, 2.0])
    assert not check_module.check("99-running-mean", lambda xs: [1.0, 1.5])
    assert "length 3, received one of length 2" in capsys.readouterr().out
    assert check_module.check("99-stats", lambda t: {"mean": 2.0, "max": 3.0, "n": 3})
    assert not check_module.check("99-stats", lambda t: {"mean": 2.0, "max": 3.0})
    assert "missing ['n']" in capsys.readouterr().out


@pytest.mark.parametrize("actual, expected, ok", [
    (torch.tensor([1.0, float("nan")]), torch.tensor([1.0, float("nan")]), True),
    (np.array([1, 2]), torch.tensor([1, 2]), True),
    (torch.tensor([1, 2]), torch.tensor([1, 3]), False),
    (torch.tensor(2.0), 2.0, True),
    (2, 2.0000001, True),
    (True, True, True),
    (1, True, False),
    ("a", "a", True),
    (None, None, True),
    ((1, 2), [1, 2], True),
    ([1, 2], torch.tensor([1, 2]), False),
    (torch.ones(2, 3), torch.ones(3, 2), False),
])
def test_compare(actual, expected, ok):
    assert (compare(actual, expected) == []) is ok


def test_expect_helpers():
    C.expect_shape(torch.zeros(2, 5), (2, None))
    C.expect_dtype(torch.zeros(2), torch.float32)
    with pytest.raises(C.CheckFailure, match="dtype torch.float32; expected torch.float64"):
        C.expect_dtype(torch.zeros(2), torch.float64)
    with pytest.raises(C.CheckFailure, match=r"shape \(2, 5\); expected shape \(2, 4\)"):
        C.expect_shape(torch.zeros(2, 5), (2, 4))
    assert isinstance(C.expect_raises(ValueError, int, "x"), ValueError)
    with pytest.raises(C.CheckFailure, match="should raise ValueError; it returned normally"):
        C.expect_raises(ValueError, int, "3")
    with pytest.raises(C.CheckFailure, match="expected x > 0"):
        C.expect_true(False, "x > 0")
    C.expect_true(torch.ones(3) > 0, "all positive")


def test_reregistering_a_check_does_not_duplicate_it():
    from nblib.exercises.registry import checks_for
    importlib.reload(sys.modules["exercises_ch99"])
    assert len(checks_for("99-sigmoid")) == 1


@pytest.mark.slow
def test_cli_check_runs_a_notebooks_public_checks(tmp_path, monkeypatch):
    import subprocess
    from nblib.grading.release import release
    fixtures = FIXTURES
    master = fixtures / "book" / "chapters" / "99_fixture.ipynb"
    env = {**__import__("os").environ, "NBLIB_FIXTURES": str(fixtures)}
    r = subprocess.run([sys.executable, "-m", "nblib", "check", str(master)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("PASS 99-") == 3 and "3/3 questions pass" in r.stdout
    student = release(master, tmp_path)[0]
    r = subprocess.run([sys.executable, "-m", "nblib", "check", str(student)], capture_output=True, text=True, env=env)
    assert r.returncode == 1
    assert r.stdout.count("TODO 99-") == 3 and "0/3 questions pass" in r.stdout


@pytest.mark.parametrize("device", ["elsewhere", *CUDA])
def test_compare_a_result_on_the_gpu_with_an_expected_tensor_on_the_cpu(device, on_another_device):
    # A learner's function may compute on CUDA; the expected values are built on the CPU.
    # Without a GPU, "elsewhere" tensors (tests/conftest.py) refuse to mix with CPU tensors as CUDA ones do.
    def put(t):
        return on_another_device(t) if device == "elsewhere" else t.to(device)

    with pytest.raises(RuntimeError, match="same device"):  # what compare must avoid
        put(torch.ones(3)) == torch.ones(3)
    assert compare(put(torch.ones(3)), torch.ones(3)) == []
    (problem,) = compare(put(torch.tensor([1.0, 2.0, 5.0])), torch.tensor([1.0, 2.0, 3.0]))
    assert "1 of 3 values differ" in problem and "at index (2,)" in problem
    C.expect_close(put(torch.ones(2, dtype=torch.int64)), np.ones(2, dtype=np.int64))


def test_hints_come_in_tiers_one_more_per_failure(capsys, monkeypatch):
    from nblib.exercises import expect, registry, verdict

    monkeypatch.setattr(verdict, "_failures", {})

    @registry.public_check("99-tiers")
    def _(f):
        expect.expect_close(f(2), 4, what="f(2)", hint=("think of squares", "f(x) = x times itself"))

    assert not check_module.check("99-tiers", lambda x: x + 1)
    first = capsys.readouterr().out
    assert "hint 1/2: think of squares" in first and "hint 2/2" not in first
    assert "check(..., hint=2)" in first
    assert not check_module.check("99-tiers", lambda x: x + 3)
    second = capsys.readouterr().out
    assert "hint 1/2: think of squares" in second and "hint 2/2: f(x) = x times itself" in second
    verdict._failures.clear()
    assert not check_module.check("99-tiers", lambda x: x, hint=2)
    assert "hint 2/2" in capsys.readouterr().out
    assert check_module.check("99-tiers", lambda x: x * x)
    with pytest.raises(ValueError, match="hint must be a tier number >= 1"):
        check_module.check("99-tiers", lambda x: x * x, hint=0)


# The public checks of chapters 01-03 (CONTRIBUTING: hints in two tiers, never the answer).
def _hint_values(module_source):
    """Each ``hint=`` argument of the module, with the tiers it can take: a tuple's length, or,
    for a name, the lengths of every value assigned to that name (an ``a if c else b`` both)."""
    tree = ast.parse(module_source)
    assigned = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, []).append(node.value)

    def leaves(node, seen=()):
        if isinstance(node, ast.Name) and node.id not in seen and node.id in assigned:
            return [leaf for value in assigned[node.id] for leaf in leaves(value, seen + (node.id,))]
        if isinstance(node, ast.IfExp):
            return leaves(node.body, seen) + leaves(node.orelse, seen)
        return [node]

    return [(kw.value, leaves(kw.value)) for node in ast.walk(tree) if isinstance(node, ast.Call)
            for kw in node.keywords if kw.arg == "hint"]


# Answers that hints of these chapters once printed: a formula or a line of a reference solution.
ANSWERS = {"ch01": ["sigmoid", "e^x / (1 + e^x)", "zeros_like(x[0])", "exactly one of the two corners"],
           "ch02": ["exp(a - out)", "share of e^a", "new_buf = momentum * buf + g", "dtype=w.dtype"],
           "ch03": ["1 + a^2", "1 + a**2", "a*z the other half", "sqrt(2"]}


@pytest.mark.parametrize("chapter", sorted(ANSWERS))
def test_public_check_hints_of_chapters_01_to_03_come_in_two_tiers_without_the_answer(chapter):
    from paths import ROOT

    source = (ROOT / "nblib" / "exercises" / f"{chapter}.py").read_text()
    hints = _hint_values(source)
    assert len(hints) >= 10
    for value, leaves in hints:
        for leaf in leaves:
            assert isinstance(leaf, ast.Tuple) and len(leaf.elts) >= 2, (
                f"{chapter}: hint={ast.unparse(value)} has a single tier: {ast.unparse(leaf)[:80]}")
            text = " ".join(ast.literal_eval(e) if isinstance(e, ast.Constant) else ast.unparse(e)
                            for e in leaf.elts)
            leaked = [a for a in ANSWERS[chapter] if a in text]
            assert not leaked, f"{chapter}: a hint gives the answer away ({leaked}): {text[:120]}"
    assert "math.sqrt(2 /" not in source  # 03-leaky-init's public check computed the answer
