"""The learner's side of the exercises: instant, readable self-checks in the notebook.

- :mod:`~nblib.exercises.verdict`: ``check(question, *objs)``, the call under every exercise.
- :mod:`~nblib.exercises.registry`: ``public_check`` registers a question's checks.
- :mod:`~nblib.exercises.expect`: ``expect_close``, ``expect_shape``, ... for writing them.
- :mod:`~nblib.exercises.selfcheck`: ``nblib check NOTEBOOK`` from the command line.
- :mod:`~nblib.exercises.format`: the exercise format inside notebooks (solution cells,
  ``# BEGIN SOLUTION`` markers, stubs, the prelude), shared with the grader.
- ``chNN.py``: the public checks of chapter NN.

The instructor's side (release, hidden tests, sandbox, gradebook) is :mod:`nblib.grading`;
it imports this package's ``format``, never the other way round.
"""
__all__ = ["check"]


def __getattr__(name: str):
    # Lazy (PEP 562), for speed only: `nblib release` reads the exercise format without
    # importing torch, which `check` (through the expect helpers) needs.
    if name == "check":
        from nblib.exercises.verdict import check
        return check
    raise AttributeError(f"module 'nblib.exercises' has no attribute {name!r}")
