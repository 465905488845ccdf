"""nblib.data.sequences: the adding problem and the copy task are what their papers define,
deterministic from a seed or a generator, and explain bad arguments."""
import math

import pytest
import torch

from nblib.data import sequences


def test_adding_problem_shapes_markers_and_target():
    x, y = sequences.adding_problem(500, T=100, seed=3)
    assert x.shape == (500, 100, 2) and y.shape == (500,) and x.dtype == torch.float32
    values, markers = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert torch.equal(markers.sum(1), torch.full((500,), 2.0))           # exactly two markers
    assert torch.equal(markers[:, :50].sum(1), torch.ones(500))           # one in each half
    torch.testing.assert_close(y, (values * markers).sum(1))              # the marked sum


def test_adding_problem_trivial_mse_is_one_sixth():
    _, y = sequences.adding_problem(20000, T=10, seed=0, dtype=torch.float64)
    mse_of_one = ((y - 1.0) ** 2).mean().item()
    assert abs(mse_of_one - sequences.ADDING_TRIVIAL_MSE) < 0.005
    assert abs(sequences.ADDING_TRIVIAL_MSE - 0.1667) < 1e-4


def test_adding_problem_is_deterministic_from_seed_and_generator():
    a, b = sequences.adding_problem(8, 20, seed=7), sequences.adding_problem(8, 20, seed=7)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    first = sequences.adding_problem(4, 10, seed=g1)
    second = sequences.adding_problem(4, 10, seed=g1)                     # the generator advanced
    assert not torch.equal(first[0], second[0])
    assert torch.equal(sequences.adding_problem(4, 10, seed=g2)[0], first[0])


@pytest.mark.parametrize("delay,n_symbols,n_categories", [(10, 10, 8), (3, 4, 2), (1, 1, 5)])
def test_copy_task_layout(delay, n_symbols, n_categories):
    x, y = sequences.copy_task(50, delay, n_symbols, n_categories, seed=2)
    L = delay + 2 * n_symbols
    assert x.shape == y.shape == (50, L) and x.dtype == y.dtype == torch.int64
    symbols = x[:, :n_symbols]
    assert ((symbols >= 1) & (symbols <= n_categories)).all()
    assert (x[:, n_symbols + delay - 1] == n_categories + 1).all()         # the delimiter
    rest = torch.cat([x[:, n_symbols:n_symbols + delay - 1], x[:, n_symbols + delay:]], 1)
    assert (rest == 0).all()                                               # blanks elsewhere
    assert torch.equal(y[:, -n_symbols:], symbols) and (y[:, :-n_symbols] == 0).all()


def test_copy_task_with_arjovsky_settings_and_its_baseline():
    x, _ = sequences.copy_task(2, delay=100, seed=0)
    assert x.shape == (2, 120)                                             # T + 20
    assert sequences.copy_baseline(100) == pytest.approx(10 * math.log(8) / 120)
    # the baseline is the cross-entropy of "blank until the delimiter, then uniform"
    x, y = sequences.copy_task(200, delay=5, n_symbols=4, n_categories=3, seed=1)
    logp = torch.full((200, 13, 5), -1e9)
    logp[:, :9, 0] = 0.0
    logp[:, 9:, 1:4] = -math.log(3)
    ce = torch.nn.functional.nll_loss(logp.reshape(-1, 5), y.reshape(-1)).item()
    assert ce == pytest.approx(sequences.copy_baseline(5, 4, 3))


def test_copy_task_is_deterministic():
    assert torch.equal(sequences.copy_task(5, seed=4)[0], sequences.copy_task(5, seed=4)[0])
    assert not torch.equal(sequences.copy_task(5, seed=4)[0], sequences.copy_task(5, seed=5)[0])


def test_bad_arguments_get_clear_errors():
    with pytest.raises(ValueError, match="T must be an int >= 2"):
        sequences.adding_problem(4, T=1)
    with pytest.raises(TypeError, match="n must be an int"):
        sequences.adding_problem(4.0)
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        sequences.adding_problem(4, seed=-1)
    with pytest.raises(ValueError, match="n_categories must be an int >= 2"):
        sequences.copy_task(4, n_categories=1)
