"""Graded tests of 09-copy-task: the learner trains a one-layer GRU or LSTM on copy-task
sequences drawn from the grader's seed and returns its parameters; the grader builds the model
itself and runs it on fresh sequences. No rule can pass: the grader runs the returned recurrent
network, which must have stored the symbols. Untrained weights score the memoryless baseline or
worse (a test in tests/grading shows it)."""
import torch

from nblib.data.sequences import copy_baseline, copy_task
from nblib.exercises.ch09 import COPY_SETTINGS, copy_scores
from nblib.grading import question


@question("09-copy-task", points=3)
def test_recalls_fresh_sequences(student, rng):
    s = COPY_SETTINGS
    seed = int(torch.randint(0, 2**31 - 1, (), generator=rng))
    x, y = copy_task(2000, **s, seed=seed)
    state = student.train_copy(x, y, seed % 1000)
    x_new, y_new = copy_task(2000, **s, seed=seed + 1)
    ce, acc = copy_scores(state, x_new, y_new, s["n_symbols"])
    base = copy_baseline(**s)
    assert ce <= 0.5 * base, (f"cross-entropy on 2000 new sequences is {ce:.3f} nats per step; "
                              f"needs at most half the memoryless baseline, {0.5 * base:.3f}")
    assert acc >= 0.8, f"{100 * acc:.1f} % of the recalled symbols are right; needs at least 80 %"
