"""Specification of nblib.nn.functional (losses): each loss agrees with torch.nn.functional, forward and gradient."""
import pytest
import torch
import torch.nn.functional as F

from nblib.nn import functional as losses

TOL = 1e-6


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _compare(ours_fn, torch_fn, *inputs, grad_of=(0,)):
    """Forward and gradient (w.r.t. the inputs listed in ``grad_of``) of ours vs torch's."""
    a = [x.clone().requires_grad_(i in grad_of) for i, x in enumerate(inputs)]
    b = [x.clone().requires_grad_(i in grad_of) for i, x in enumerate(inputs)]
    out_a, out_b = ours_fn(*a), torch_fn(*b)
    assert out_a.shape == out_b.shape
    torch.testing.assert_close(out_a, out_b, rtol=TOL, atol=TOL)
    w = torch.randn(out_a.shape, generator=_gen(99), dtype=out_a.dtype)  # a random upstream gradient
    (out_a * w).sum().backward()
    (out_b * w).sum().backward()
    for i in grad_of:
        torch.testing.assert_close(a[i].grad, b[i].grad, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(7,), (5, 3), (2, 3, 4)])
def test_mse_loss_matches_torch(seed, reduction, shape):
    g = _gen(seed)
    x, y = torch.randn(shape, generator=g, dtype=torch.float64), torch.randn(shape, generator=g, dtype=torch.float64)
    _compare(lambda a, b: losses.mse_loss(a, b, reduction=reduction),
             lambda a, b: F.mse_loss(a, b, reduction=reduction), x, y, grad_of=(0, 1))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_and_log_softmax_match_torch(seed, dim):
    x = 3 * torch.randn(4, 6, generator=_gen(seed), dtype=torch.float64)
    _compare(lambda a: losses.softmax(a, dim=dim), lambda a: F.softmax(a, dim=dim), x)
    _compare(lambda a: losses.log_softmax(a, dim=dim), lambda a: F.log_softmax(a, dim=dim), x)
    _compare(lambda a: losses.logsumexp(a, dim=dim), lambda a: torch.logsumexp(a, dim=dim), x)


def test_softmax_rows_sum_to_one():
    p = losses.softmax(torch.randn(10, 5, generator=_gen(0), dtype=torch.float64), dim=1)
    torch.testing.assert_close(p.sum(1), torch.ones(10, dtype=torch.float64))
    assert (p > 0).all()


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_matches_torch(seed, reduction):
    g = _gen(seed)
    logits = 2 * torch.randn(8, 5, generator=g, dtype=torch.float64)
    target = torch.randint(0, 5, (8,), generator=g)
    _compare(lambda a, t: losses.cross_entropy(a, t, reduction=reduction),
             lambda a, t: F.cross_entropy(a, t, reduction=reduction), logits, target)


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n():
    g = _gen(1)
    logits = torch.randn(6, 4, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, 4, (6,), generator=g)
    losses.cross_entropy(logits, target).backward()
    expected = (torch.softmax(logits.detach(), 1) - F.one_hot(target, 4)) / 6
    torch.testing.assert_close(logits.grad, expected)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_with_logits_matches_torch(seed, reduction):
    g = _gen(seed)
    x = 3 * torch.randn(5, 3, generator=g, dtype=torch.float64)
    y = torch.rand(5, 3, generator=g, dtype=torch.float64)
    _compare(lambda a, b: losses.binary_cross_entropy_with_logits(a, b, reduction=reduction),
             lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction), x, y, grad_of=(0, 1))


def test_binary_cross_entropy_with_logits_gradient_at_logit_zero():
    # A zero-initialised model outputs logits of exactly 0: d loss / dx = sigmoid(0) - y = 0.5 - y.
    x = torch.zeros(3, dtype=torch.float64)
    y = torch.tensor([0.0, 1.0, 0.5], dtype=torch.float64)
    _compare(lambda a, b: losses.binary_cross_entropy_with_logits(a, b, reduction="sum"),
             lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="sum"), x, y, grad_of=(0, 1))


# ----------------------------------------------------------------------------- stability
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_stable_at_logits_of_plus_minus_1000(dtype):
    logits = torch.tensor([[1000.0, 0.0, -1000.0], [-1000.0, 999.0, 1000.0], [1000.0, 1000.0, 1000.0]], dtype=dtype)
    target = torch.tensor([0, 1, 2])
    for ours, ref in [(losses.softmax(logits, 1), F.softmax(logits, 1)),
                      (losses.log_softmax(logits, 1), F.log_softmax(logits, 1)),
                      (losses.cross_entropy(logits, target, reduction="none"), F.cross_entropy(logits, target, reduction="none"))]:
        assert torch.isfinite(ours).all(), ours
        torch.testing.assert_close(ours, ref)
    # the naive formula really does break here, which is the point of the stable one
    assert not torch.isfinite(torch.log(logits.exp() / logits.exp().sum(1, keepdim=True))).all()


def test_cross_entropy_gradient_finite_at_large_logits():
    logits = torch.tensor([[1000.0, -1000.0, 0.0]], dtype=torch.float64, requires_grad=True)
    losses.cross_entropy(logits, torch.tensor([1])).backward()
    ref = logits.detach().clone().requires_grad_()
    F.cross_entropy(ref, torch.tensor([1])).backward()
    assert torch.isfinite(logits.grad).all()
    torch.testing.assert_close(logits.grad, ref.grad)


def test_bce_with_logits_stable_at_large_logits():
    x = torch.tensor([1000.0, -1000.0, 50.0, -50.0], dtype=torch.float64)
    y = torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=torch.float64)
    ours = losses.binary_cross_entropy_with_logits(x, y, reduction="none")
    assert torch.isfinite(ours).all()
    torch.testing.assert_close(ours, F.binary_cross_entropy_with_logits(x, y, reduction="none"))


# ----------------------------------------------------------------------------- clear errors
def test_mse_shape_mismatch_is_an_error_naming_both_shapes():
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        losses.mse_loss(torch.zeros(4, 1), torch.zeros(4))


def test_cross_entropy_float_target_names_the_expected_dtype():
    with pytest.raises(TypeError, match=r"target needs an int64 tensor, got torch.float32; class indices"):
        losses.cross_entropy(torch.zeros(3, 4), torch.zeros(3))


def test_cross_entropy_class_index_out_of_range():
    with pytest.raises(IndexError, match=r"class index 4 is out of range.*\[0, 3\]"):
        losses.cross_entropy(torch.zeros(3, 4), torch.tensor([0, 4, 1]))
    with pytest.raises(IndexError, match=r"class index -1"):
        losses.cross_entropy(torch.zeros(3, 4), torch.tensor([0, -1, 1]))


def test_cross_entropy_shape_errors():
    with pytest.raises(ValueError, match=r"\(N, C\).*\(4,\).*unsqueeze"):
        losses.cross_entropy(torch.zeros(4), torch.tensor([1]))
    with pytest.raises(ValueError, match=r"shape \(3,\).*got \(3, 1\)"):
        losses.cross_entropy(torch.zeros(3, 4), torch.zeros(3, 1, dtype=torch.int64))


def test_integer_logits_and_bad_reduction_are_errors():
    with pytest.raises(TypeError, match="floating-point"):
        losses.softmax(torch.arange(3))
    with pytest.raises(ValueError, match="reduction"):
        losses.mse_loss(torch.zeros(2), torch.zeros(2), reduction="avg")
    with pytest.raises(TypeError, match=r"torch.Tensor"):
        losses.mse_loss([1.0], torch.zeros(1))


def test_bce_errors():
    with pytest.raises(TypeError, match=r"target needs a floating-point tensor, got torch.int64 \(the probability"):
        losses.binary_cross_entropy_with_logits(torch.zeros(3), torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match=r"\(3,\).*\(3, 1\)"):
        losses.binary_cross_entropy_with_logits(torch.zeros(3), torch.zeros(3, 1))
