"""Specification of nblib.nn.perceptron: Rosenblatt's rule, Novikoff's bound, and XOR."""
import pytest
import torch

from nblib import data
from nblib.nn.perceptron import Perceptron, novikoff_bound, perceptron_update


def test_perceptron_update_moves_only_on_mistakes():
    w, b = torch.tensor([1.0, -1.0]), torch.tensor(0.0)
    x = torch.tensor([2.0, 1.0])  # z = 1 >= 0: predicts +1
    assert perceptron_update(w, b, x, 1.0)[2] is False
    w2, b2, wrong = perceptron_update(w, b, x, -1.0, lr=0.5)
    assert wrong is True
    torch.testing.assert_close(w2, torch.tensor([0.0, -1.5]))
    assert b2.item() == -0.5
    assert w.tolist() == [1.0, -1.0]  # inputs are not modified


@pytest.mark.parametrize("seed", range(5))
def test_perceptron_converges_on_separable_blobs(seed):
    x, y = data.toy_2d("blobs", n=200, noise=0.1, seed=seed)
    x = x + 3.0  # away from the origin: the bias has to be learned too
    p = Perceptron(2)
    hist = p.fit(x, y, epochs=200)
    assert hist.converged and hist.mistakes[-1] == 0
    assert hist.accuracy[-1] == 1.0
    assert (p.predict(x) == y).all()
    assert p.predict(x).dtype == torch.int64
    # Novikoff (1962): at most (R / gamma)^2 updates.
    assert 0 < hist.total_mistakes <= novikoff_bound(x, y)["bound"]
    assert len(hist.updates) == hist.total_mistakes + 1 == len(hist.update_examples) + 1
    # Each update was caused by an example the previous parameters got wrong.
    for (w, b), i in zip(hist.updates, hist.update_examples):
        assert (torch.dot(w, x[i]) + b >= 0).item() != bool(y[i])
    assert len(hist.weights) == hist.epochs + 1 == len(hist.accuracy)


def test_perceptron_mistake_count_does_not_depend_on_learning_rate():
    x, y = data.toy_2d("blobs", n=100, noise=0.1, seed=0)
    counts = {lr: Perceptron(2, lr=lr).fit(x + 2.0, y).mistakes for lr in (0.01, 1.0, 7.0)}
    assert counts[0.01] == counts[1.0] == counts[7.0]


def test_perceptron_never_converges_on_xor():
    x, y = data.toy_2d("xor", n=200, noise=0.1, seed=0)
    hist = Perceptron(2).fit(x, y, epochs=50)
    assert not hist.converged
    assert min(hist.mistakes) > 0
    assert max(hist.accuracy) <= 0.8
    with pytest.raises(ValueError, match="not linearly separable"):
        novikoff_bound(x, y)


def test_perceptron_accepts_plus_minus_one_labels_and_answers_in_kind():
    x, y = data.toy_2d("blobs", n=100, noise=0.1, seed=1)
    p = Perceptron(2)
    p.fit(x, y * 2 - 1)
    assert set(p.predict(x).tolist()) == {-1, 1}
    assert (p.predict(x) == y * 2 - 1).all()


def test_perceptron_shuffled_fit_is_reproducible():
    x, y = data.toy_2d("blobs", n=100, noise=0.1, seed=2)
    a = Perceptron(2).fit(x + 2, y, shuffle=True, seed=5)
    b = Perceptron(2).fit(x + 2, y, shuffle=True, seed=5)
    assert a.mistakes == b.mistakes and a.converged


def test_perceptron_errors_are_clear():
    p = Perceptron(2)
    x = torch.zeros(4, 2)
    with pytest.raises(ValueError, match=r"labels must be in \{0, 1\} or in \{-1, 1\}; received the values \{0, 1, 2\}"):
        p.fit(x, torch.tensor([0, 1, 2, 1]))
    with pytest.raises(ValueError, match=r"x must have shape \(N, 2\), got \(4, 3\)"):
        p.fit(torch.zeros(4, 3), torch.tensor([0, 1, 0, 1]))
    with pytest.raises(ValueError, match=r"y \(one label per row of x\) must have shape \(4,\), got \(4, 1\)"):
        p.fit(x, torch.zeros(4, 1))
    with pytest.raises(TypeError, match=r"x needs a floating-point tensor, got torch.int64"):
        p.predict(torch.zeros(4, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"epochs must be a positive int, got 0"):
        p.fit(x, torch.tensor([0, 1, 0, 1]), epochs=0)
    with pytest.raises(ValueError, match=r"in_features must be a positive int, got 0"):
        Perceptron(0)
    with pytest.raises(ValueError, match=r"lr must be > 0, got -1"):
        Perceptron(2, lr=-1)
