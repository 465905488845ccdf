"""The instructor's side of the exercises: release student notebooks, grade submissions.

How ``nblib grade`` runs, one module per step, in order (``grade.py`` is the whole run):

1. ``chapters.py``    find the chapters: a master notebook (questions, points, reference
                      solutions) + its folder of graded tests; self-test them
2. ``submission.py``  read each submission safely; keep only its solution cells' code
3. ``student.py``     run that code in a sandbox, one per (student, chapter):
                      ``sandbox.py`` (the process: bubblewrap or fallback, limits, kill),
                      ``server.py`` (inside it), ``channel.py`` (JSON between them)
4. ``plugin.py``      run the graded tests under pytest with the ``student``, ``reference``,
                      ``rng``, ``seed`` fixtures; ``forbidden.py`` checks forbidden names
5. ``score.py``       sum each question's points; its status is its worst test's
6. ``report.py``      write ``gradebook.csv`` and ``feedback/<student>.md``

``status.py`` is the one vocabulary of statuses (steps 4 to 6); ``batch.py`` runs steps 3 to
5 for every job, N at a time through ``worker.py`` processes; ``api.py`` is what graded tests
import (below); ``release.py`` is ``nblib release``; ``bench.py`` times a batch. The exercise
format inside notebooks (solution cells, markers, prelude) is shared with the learner's side:
:mod:`nblib.exercises.format`.

Graded tests: how to write them (for chapter authors)
-----------------------------------------------------

Graded tests are pytest files outside the notebooks, one folder per chapter notebook::

    grading/01_neuron/test_softplus.py       # grading/<notebook stem>/test_*.py

A test is an ordinary pytest function decorated with :func:`question`::

    import torch
    from nblib.grading import question, assert_close

    FORBIDDEN = {"01-softplus": ["F.softplus", "torch.logaddexp", "nn.Softplus", ".softplus"]}

    @question("01-softplus", points=1)
    def test_softplus_matches_reference(student, reference, rng):
        x = torch.randn(4, 7, dtype=torch.float64, generator=rng) * 5
        assert_close(student.softplus(x), reference.softplus(x))

    @question("01-softplus", points=1)
    def test_softplus_is_stable_for_large_inputs(student, reference, rng):
        x = torch.tensor([-800.0, 800.0], dtype=torch.float64)
        assert_close(student.softplus(x), reference.softplus(x))

Fixtures (provided by the grader, nothing to import):

- ``student``: the submitted solution cell of the test's question. ``student.<name>(*args,
  **kwargs)`` calls the function (or class) ``<name>`` defined in that cell, inside the
  sandbox; arguments and results travel as JSON, so both must be tensors, numbers, bools,
  strings, None, numpy arrays, or lists/tuples/dicts of these (results that are anything
  else, e.g. an ``nn.Module``, fail with a clear message: make the exercise a function that
  returns tensors, e.g. ``def layer_forward(W, b, x)`` or ``def train_losses(...) -> list``).
  Tensors come back detached (no autograd graph) and on the CPU.
- ``reference``: the same for the master notebook's solution cell, run in the grader
  (its arguments and results make the same JSON round trip, so both sides look alike).
- ``rng``: a ``torch.Generator`` seeded from a secret seed drawn per grading run (and
  per test), so expected values are unknown in advance; draw every input from it.
- ``seed``: the same secret per-test seed as an int (``np.random.default_rng(seed)``).

Arguments reach the sandbox as copies, so a test cannot see an in-place change in its own
tensors. After ``out = student.step(p, g)``, ``assert_inputs_unchanged(student, (p, g))``
compares the arguments as the call left them (sent back by the sandbox) with what was sent.

Points: each test declares ``points=``; a question's tests must add up to the question's
``grading.points`` in the master notebook (``nblib grade`` refuses to start otherwise).
Alternatively leave ``points`` out on *all* tests of a question: the question's points are
then split equally over its tests. A student earns the points of every test that passes.

Statuses per question (gradebook; ``status.py``): ``passed`` (all tests pass), ``failed`` (some test's
assertion failed; partial points), ``error`` (the student's code raised, would not load, or
the sandbox died), ``timeout`` (the student's code ran past ``--timeout`` seconds in total for
that question), ``missing`` (no usable solution cell for that question in the submission).

Helpers: :func:`assert_close` (tensors, numbers, lists, dicts; the same comparison and
messages as the learner's ``nblib.exercises.expect.expect_close``). ``StudentError`` is what a call
into the student's code raises when that code raised; to require an exception::

    with pytest.raises(StudentError, match="ValueError"):
        student.normalize(torch.zeros(0))

Forbidden shortcuts: an optional module-level ``FORBIDDEN = {"01-softplus": [...]}`` lists
names the submitted cell must not mention (checked on its syntax tree before it runs):
``"torch.sigmoid"`` (also matches ``from torch import sigmoid``, ``import torch as t;
t.sigmoid``), ``"F.sigmoid"`` (``F``/``nn``/``np`` are the prelude's aliases),
``".sigmoid"`` (any attribute of that name, e.g. ``x.sigmoid()``), ``"eval"`` (a bare name).
A match gives status ``failed`` for the question. It catches direct references only, not
``getattr(torch, "sig" + "moid")``: add ``"getattr"``, ``"eval"``, ``"exec"``,
``"__import__"`` to the list when that matters.

Before grading, ``nblib grade`` runs every test with the reference solution in place of the
student (self-test); a test that fails against its own reference stops the batch, so a
failing test during grading is the submission's fault.
"""
__all__ = ["question", "assert_close", "assert_inputs_unchanged", "StudentError", "StudentTimeout", "SandboxCrashed"]


def __getattr__(name: str):
    # Lazy (PEP 562) for speed only, so that `nblib release` starts without importing torch;
    # api imports nothing else of nblib.grading.
    if name in __all__:
        from nblib.grading import api
        return getattr(api, name)
    raise AttributeError(f"module 'nblib.grading' has no attribute {name!r}")
