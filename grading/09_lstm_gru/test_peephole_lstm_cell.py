"""Graded tests of 09-peephole-lstm-cell: the LSTM cell with peephole connections (Gers &
Schmidhuber 2000; Gers, Schraudolph & Schmidhuber 2002): the input and forget gates see the old
cell state c, the output gate the new one, each through a vector of weights (elementwise)."""
import torch
from torch import nn

from nblib.grading import assert_close, question
from nblib.grading.api import assert_inputs_unchanged

FORBIDDEN = {"09-peephole-lstm-cell": ["nblib", "torch.lstm_cell", ".lstm_cell", "nn.LSTMCell",
                                       "nn.LSTM", "getattr", "eval", "exec",
                                       "__import__", "_VF"]}


def _problem(rng, dtype=torch.float64):
    B, I, H = (int(torch.randint(1, 7, (), generator=rng)) for _ in range(3))
    r = lambda *s: torch.randn(*s, dtype=dtype, generator=rng)  # noqa: E731
    return [r(B, I), r(B, H), r(B, H), r(4 * H, I), r(4 * H, H), r(4 * H), r(4 * H),
            r(H), r(H), r(H)]


@question("09-peephole-lstm-cell", points=2)
def test_matches_the_reference_on_random_shapes(student, reference, rng):
    for _ in range(3):
        args = _problem(rng)
        out = student.peephole_lstm_cell(*args)
        assert_inputs_unchanged(student, tuple(args))
        assert_close(list(out), list(reference.peephole_lstm_cell(*args)), rtol=1e-9, atol=1e-11)


@question("09-peephole-lstm-cell", points=1)
def test_zero_peepholes_give_nn_lstmcell_and_float32_is_kept(student, reference, rng):
    args = _problem(rng)
    B, I, H = args[0].shape[0], args[0].shape[1], args[1].shape[1]
    ref = nn.LSTMCell(I, H).double()
    with torch.no_grad():
        for p, v in zip(ref.parameters(), args[3:7]):
            p.copy_(v)
        expected = list(ref(args[0], (args[1], args[2])))
    zeros = [torch.zeros(H, dtype=torch.float64)] * 3
    assert_close(list(student.peephole_lstm_cell(*args[:7], *zeros)), expected, rtol=1e-9,
                 atol=1e-11)
    args32 = _problem(rng, torch.float32)
    assert_close(list(student.peephole_lstm_cell(*args32)),
                 list(reference.peephole_lstm_cell(*args32)), rtol=1e-4, atol=1e-5,
                 check_dtype=True)
