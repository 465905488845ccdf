"""Graded tests of 02-label-smoothing-ce: the mean label-smoothed cross-entropy from logits,
stable for large logits, in the logits' dtype."""
import torch
import torch.nn.functional as F

from nblib.grading import assert_close, assert_inputs_unchanged, question

FORBIDDEN = {"02-label-smoothing-ce": [
    "F.cross_entropy", "F.log_softmax", "F.softmax", "F.nll_loss", "F.kl_div",
    "torch.logsumexp", ".logsumexp", "torch.log_softmax", ".log_softmax",
    "torch.softmax", ".softmax", "torch.special", "nn.CrossEntropyLoss",
    "nn.LogSoftmax", "nn.Softmax", "nn.KLDivLoss", "nblib", "getattr", "eval",
    "exec", "__import__"]}


def _problem(rng, scale=4.0, dtype=torch.float64):
    n = int(torch.randint(3, 20, (), generator=rng))
    c = int(torch.randint(2, 10, (), generator=rng))
    z = scale * torch.randn(n, c, dtype=dtype, generator=rng)
    y = torch.randint(0, c, (n,), generator=rng)
    alpha = float(0.05 + 0.9 * torch.rand((), generator=rng))
    return z, y, alpha


@question("02-label-smoothing-ce", points=1)
def test_random_logits_and_alpha(student, reference, rng):
    z, y, alpha = _problem(rng)
    out = student.label_smoothed_ce(z, y, alpha)
    assert_inputs_unchanged(student, (z, y, alpha), positions=(0,))  # stated: logits kept
    assert_close(out, reference.label_smoothed_ce(z, y, alpha), rtol=1e-6, atol=1e-9)
    assert_close(out, F.cross_entropy(z, y, label_smoothing=alpha), rtol=1e-6, atol=1e-9)
    # alpha = 0 is the plain cross-entropy
    assert_close(student.label_smoothed_ce(z, y, 0.0), F.cross_entropy(z, y),
                 rtol=1e-6, atol=1e-9)


@question("02-label-smoothing-ce", points=1)
def test_large_logits_stay_finite(student, reference, rng):
    z, y, alpha = _problem(rng)
    z = 1000 * z.sign() + z             # logits near +-1000: exp over- and underflows
    out = student.label_smoothed_ce(z, y, alpha)
    if not bool(torch.isfinite(torch.as_tensor(out)).all()):
        raise AssertionError(f"loss {out} for logits of size 1000")
    assert_close(out, F.cross_entropy(z, y, label_smoothing=alpha), rtol=1e-6, atol=1e-9)


@question("02-label-smoothing-ce", points=1)
def test_float32_stays_float32(student, reference, rng):
    z, y, alpha = _problem(rng, dtype=torch.float32)
    z = z - 1000                        # every exp underflows naively
    out = student.label_smoothed_ce(z, y, alpha)
    assert_close(out, F.cross_entropy(z, y, label_smoothing=alpha), rtol=1e-4, atol=1e-5,
                 check_dtype=True)
