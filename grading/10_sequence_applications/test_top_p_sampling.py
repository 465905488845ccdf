"""Graded tests of 10-top-p-sampling: nucleus sampling (Holtzman et al. 2020), checked by its
support (never outside the nucleus) and statistically (total variation of 20,000 samples)."""
import torch

from nblib.exercises.ch10 import nucleus, top_p_frequencies, top_p_target
from nblib.grading import question

FORBIDDEN = {"10-top-p-sampling": ["transformers", "nblib", "getattr", "eval", "exec",
                                   "__import__"]}


def _logits(rng, B, V, scale=2.0):
    # distinct values (no ties at the nucleus boundary), scale decides how peaked
    return torch.randn(B, V, dtype=torch.float64, generator=rng) * scale


def _p_away_from_boundaries(logits, rng):
    """A p whose value is not within 1e-3 of any cumulative probability (no float ties)."""
    cum = torch.softmax(logits, -1).sort(-1, descending=True).values.cumsum(-1)
    while True:
        p = float(torch.rand((), generator=rng)) * 0.9 + 0.05
        if (cum - p).abs().min() > 1e-3:
            return p


@question("10-top-p-sampling", points=1)
def test_samples_stay_in_the_nucleus(student, rng):
    B, V = int(torch.randint(2, 5, (), generator=rng)), int(torch.randint(5, 40, (), generator=rng))
    logits = _logits(rng, B, V)
    p = _p_away_from_boundaries(logits, rng)
    out = torch.as_tensor(student.sample_top_p(logits, p, 2000, int(torch.randint(10**6, (), generator=rng))))
    assert tuple(out.shape) == (B, 2000), f"expected samples of shape {(B, 2000)}, got {tuple(out.shape)}"
    assert out.dtype == torch.int64, f"expected int64 samples, got {out.dtype}"
    assert ((out >= 0) & (out < V)).all(), "a sample is not a token index"
    assert nucleus(logits, p).gather(1, out).all(), f"a sample lies outside the top-p nucleus (p = {p:.3f})"


@question("10-top-p-sampling", points=1)
def test_frequencies_follow_the_renormalised_nucleus(student, rng):
    for scale in (1.0, 3.0):
        logits = _logits(rng, 2, int(torch.randint(5, 15, (), generator=rng)), scale)
        p = _p_away_from_boundaries(logits, rng)
        out = torch.as_tensor(student.sample_top_p(logits, p, 20000, int(torch.randint(10**6, (), generator=rng))))
        tv = 0.5 * (top_p_frequencies(out, logits.shape[1]) - top_p_target(logits, p)).abs().sum(-1).max()
        assert tv < 0.03, f"sample frequencies differ from the nucleus distribution (total variation {tv:.3f})"


@question("10-top-p-sampling", points=1)
def test_seeded_stable_and_leaves_the_logits(student, rng):
    logits = _logits(rng, 2, 10).float() * 400                  # logits in the hundreds
    copy = logits.clone()
    seed = int(torch.randint(10**6, (), generator=rng))
    a = torch.as_tensor(student.sample_top_p(logits, 0.95, 500, seed))
    b = torch.as_tensor(student.sample_top_p(logits, 0.95, 500, seed))
    assert torch.equal(a, b), "the same seed must give the same samples"
    assert nucleus(logits, 0.95).gather(1, a).all(), "with huge logits a sample left the nucleus"
    spread = _logits(rng, 1, 30, 0.5)
    c = torch.as_tensor(student.sample_top_p(spread, 0.99, 200, seed))
    d = torch.as_tensor(student.sample_top_p(spread, 0.99, 200, seed + 1))
    assert not torch.equal(c, d), "different seeds gave identical samples"
    assert torch.equal(logits, copy), "the logits were modified"
