"""Graded tests of 13-pooling-backward: dL/dhidden of Sentence-BERT's embedding
e = normalize(mean of hidden over the real tokens), against autograd on random shapes and
padding drawn from the grader's seed, in float64; exactly zero at padding; invariant work for
hidden states of any scale; inputs unchanged; no autograd (FORBIDDEN).

The backward of the mean alone (ignoring the normalisation), or the upstream gradient spread
unchanged, scores 0: both differ from autograd on every test."""
import torch

from nblib.exercises.ch13 import pooled_embedding_grad
from nblib.grading import assert_close, question
from nblib.grading.api import assert_inputs_unchanged

FORBIDDEN = {"13-pooling-backward": [".backward", "torch.autograd", ".grad", "torch.func",
                                     "functorch", "nblib", "getattr", "eval", "exec",
                                     "__import__"]}


def _problem(rng, scale=1.0):
    B, T, C = (int(torch.randint(1, 7, (), generator=rng)) for _ in range(3))
    hidden = torch.randn(B, T, C, dtype=torch.float64, generator=rng) * scale
    lengths = torch.randint(1, T + 1, (B,), generator=rng)
    mask = (torch.arange(T)[None, :] < lengths[:, None]).long()
    grad_e = torch.randn(B, C, dtype=torch.float64, generator=rng)
    return hidden, mask, grad_e


@question("13-pooling-backward", points=2)
def test_matches_autograd_on_random_padded_batches(student, reference, rng):
    for _ in range(3):
        args = _problem(rng)
        got = student.pooled_embedding_backward(*args)
        assert_inputs_unchanged(student, args)
        assert_close(got, pooled_embedding_grad(*args), rtol=1e-7, atol=1e-12)
        assert_close(got, reference.pooled_embedding_backward(*args), rtol=1e-7, atol=1e-12)
        pad = args[1] == 0
        assert (torch.as_tensor(got)[pad] == 0).all(), "a padding position got a gradient"


@question("13-pooling-backward", points=1)
def test_hidden_states_of_any_scale(student, rng):
    for scale in (1e5, 1e-5):
        args = _problem(rng, scale)
        assert_close(student.pooled_embedding_backward(*args), pooled_embedding_grad(*args),
                     rtol=1e-7, atol=1e-12 / scale)
