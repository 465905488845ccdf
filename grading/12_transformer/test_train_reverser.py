"""Graded tests of 12-train-reverser: the learner trains the stated one-layer transformer
(embed + learned positions + nn.TransformerEncoderLayer + head) on reversal data drawn from
the grader's seed and returns its parameters; the grader builds the model itself and runs it
on fresh sequences. No rule can pass: the grader runs the returned network. Untrained weights
score 0 (tests/grading shows it)."""
import torch

from nblib.exercises.ch12 import reverse_accuracy, reverse_task
from nblib.grading import question


@question("12-train-reverser", points=2)
def test_reverses_fresh_sequences(student, rng):
    seed = int(torch.randint(0, 2**31 - 1, (), generator=rng))
    x, y = reverse_task(2000, seed=seed)
    state = student.train_reverser(x, y, seed % 1000)
    x_new, y_new = reverse_task(2000, seed=seed + 1)
    acc = reverse_accuracy(state, x_new, y_new)
    assert acc >= 0.95, (f"{100 * acc:.1f} % of the tokens of 2000 new sequences are right; "
                         f"needs at least 95 %")
