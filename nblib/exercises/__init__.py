"""The learner's side of the exercises: instant, readable self-checks in the notebook.

- :mod:`~nblib.exercises.verdict`: ``check(question, *objs)``, the call under every exercise.
- :mod:`~nblib.exercises.registry`: ``public_check`` registers a question's checks.
- :mod:`~nblib.exercises.expect`: ``expect_close``, ``expect_shape``, ... for writing them.
- :mod:`~nblib.exercises.selfcheck`: ``nblib check NOTEBOOK`` from the command line.
- ``chNN.py``: the public checks of chapter NN.

The instructor's side (hidden tests, sandbox, gradebook) is :mod:`nblib.grading`.
"""
from nblib.exercises.verdict import check

__all__ = ["check"]
