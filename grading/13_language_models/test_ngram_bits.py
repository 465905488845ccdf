"""Graded tests of 13-ngram-bits: bits per character of an add-k n-gram model counted on a
training text, scored on a validation text, p(c | ctx) = (count(ctx, c) + k) /
(count(ctx) + k V), on Markov texts drawn from the grader's seed (order, vocabulary, k and n
random), equal to the reference to 1e-9.

A constant answer (log2 V, the uniform model) or a number computed from the public check's
texts scores 0: every test draws new texts and compares with the reference."""
import math

import torch

from nblib.exercises.ch13 import markov_text, ngram_bits_ref
from nblib.grading import assert_close, question
from nblib.grading.api import assert_inputs_unchanged

FORBIDDEN = {"13-ngram-bits": ["nltk", "nblib", "getattr", "eval", "exec", "__import__"]}


def _texts(rng):
    V = int(torch.randint(2, 9, (), generator=rng))
    order = int(torch.randint(1, 4, (), generator=rng))
    text = markov_text(rng, V, order, 2500)
    return text[:2000], text[2000:], V


@question("13-ngram-bits", points=1)
def test_matches_the_reference_on_random_markov_texts(student, reference, rng):
    for _ in range(3):
        train_ids, val_ids, V = _texts(rng)
        n = int(torch.randint(1, 6, (), generator=rng))
        k = float(torch.rand((), generator=rng)) * 2 + 0.01
        args = (train_ids, val_ids, n, k, V)
        got = student.ngram_bits_per_char(*args)
        assert_inputs_unchanged(student, args)
        assert isinstance(got, float), f"expected a Python float, got {type(got).__name__}"
        assert_close(got, ngram_bits_ref(*args), rtol=1e-9, atol=1e-12)
        assert_close(got, reference.ngram_bits_per_char(*args), rtol=1e-9, atol=1e-12)


@question("13-ngram-bits", points=1)
def test_unseen_symbols_and_the_uniform_limit(student, rng):
    train_ids, val_ids, V = _texts(rng)
    # a symbol that never occurs in training: V + 1 symbols, the last only in validation
    val_ids = val_ids.clone()
    val_ids[::7] = V
    for n in (1, 2, 3):
        args = (train_ids, val_ids, n, 0.5, V + 1)
        assert_close(student.ngram_bits_per_char(*args), ngram_bits_ref(*args), rtol=1e-9,
                     atol=1e-12)
    # with a huge k every context is uniform: log2 V bits
    big = student.ngram_bits_per_char(train_ids, val_ids % V, 2, 1e12, V)
    assert abs(big - math.log2(V)) < 1e-6, f"with k = 1e12 expected log2 V = {math.log2(V)}"
