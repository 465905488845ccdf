"""Specification of nblib.nn.batchnorm: batch normalisation from scratch equals torch's
BatchNorm1d/BatchNorm2d and F.batch_norm in float64, forward and backward, in training and eval
mode, running statistics included."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nblib.nn.batchnorm import BatchNorm1d, BatchNorm2d, batch_norm

TOL = dict(atol=1e-6, rtol=0)
CASES = [  # (ours, torch's, input shape)
    (BatchNorm2d, nn.BatchNorm2d, (4, 3, 5, 6)),
    (BatchNorm2d, nn.BatchNorm2d, (2, 5, 1, 3)),
    (BatchNorm2d, nn.BatchNorm2d, (7, 1, 2, 2)),
    (BatchNorm1d, nn.BatchNorm1d, (8, 6)),
    (BatchNorm1d, nn.BatchNorm1d, (3, 4, 9)),
]
IDS = [f"{ours.__name__}-{'x'.join(map(str, shape))}" for ours, _, shape in CASES]
SETTINGS = [  # (momentum, eps, affine)
    (0.1, 1e-5, True), (0.5, 1e-3, True), (None, 1e-5, True), (0.1, 1e-5, False), (1.0, 0.1, True)]


def pair(ours, theirs, c, momentum, eps, affine, track=True, seed=0):
    """Our module and torch's with the same (random) affine parameters, in float64."""
    a = ours(c, eps=eps, momentum=momentum, affine=affine, track_running_stats=track).double()
    b = theirs(c, eps=eps, momentum=momentum, affine=affine, track_running_stats=track).double()
    if affine:
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p, q in ((a.weight, b.weight), (a.bias, b.bias)):
                p.copy_(torch.randn(c, dtype=torch.float64, generator=g))
                q.copy_(p)
    return a, b


def grads(module, x, upstream):
    """Gradients of sum(module(x) * upstream) with respect to x and the affine parameters."""
    x = x.clone().requires_grad_(True)
    out = module(x)
    leaves = [x] + ([module.weight, module.bias] if module.affine else [])
    return out, torch.autograd.grad((out * upstream).sum(), leaves)


@pytest.mark.parametrize("momentum,eps,affine", SETTINGS)
@pytest.mark.parametrize("ours,theirs,shape", CASES, ids=IDS)
def test_training_mode_forward_backward_and_running_stats_match_torch(ours, theirs, shape, momentum, eps,
                                                                        affine):
    a, b = pair(ours, theirs, shape[1], momentum, eps, affine)
    g = torch.Generator().manual_seed(1)
    for _ in range(3):  # three batches: the running averages accumulate
        x = 3 + 2 * torch.randn(*shape, dtype=torch.float64, generator=g)
        upstream = torch.randn(*shape, dtype=torch.float64, generator=g)
        out_a, grads_a = grads(a, x, upstream)
        out_b, grads_b = grads(b, x, upstream)
        torch.testing.assert_close(out_a, out_b, **TOL)
        for ga, gb in zip(grads_a, grads_b):
            torch.testing.assert_close(ga, gb, **TOL)
        torch.testing.assert_close(a.running_mean, b.running_mean, **TOL)
        torch.testing.assert_close(a.running_var, b.running_var, **TOL)
    assert int(a.num_batches_tracked) == int(b.num_batches_tracked) == 3


@pytest.mark.parametrize("momentum,eps,affine", SETTINGS)
@pytest.mark.parametrize("ours,theirs,shape", CASES, ids=IDS)
def test_eval_mode_uses_the_running_statistics_like_torch(ours, theirs, shape, momentum, eps, affine):
    a, b = pair(ours, theirs, shape[1], momentum, eps, affine)
    g = torch.Generator().manual_seed(2)
    for _ in range(2):
        x = torch.randn(*shape, dtype=torch.float64, generator=g) * 4 - 1
        a(x), b(x)
    a.eval(), b.eval()
    x = torch.randn(*shape, dtype=torch.float64, generator=g)
    upstream = torch.randn(*shape, dtype=torch.float64, generator=g)
    before = a.running_mean.clone(), a.running_var.clone()
    out_a, grads_a = grads(a, x, upstream)
    out_b, grads_b = grads(b, x, upstream)
    torch.testing.assert_close(out_a, out_b, **TOL)
    for ga, gb in zip(grads_a, grads_b):
        torch.testing.assert_close(ga, gb, **TOL)
    # eval mode neither updates the statistics nor depends on the rest of the batch
    assert torch.equal(a.running_mean, before[0]) and torch.equal(a.running_var, before[1])
    torch.testing.assert_close(a(x[:1]), out_a[:1], **TOL)


def test_without_running_statistics_both_modes_use_the_batch_like_torch():
    a, b = pair(BatchNorm2d, nn.BatchNorm2d, 3, 0.1, 1e-5, True, track=False)
    assert a.running_mean is None and "running_mean" not in a.state_dict()
    x = torch.randn(5, 3, 4, 4, dtype=torch.float64)
    for mode in (True, False):
        a.train(mode), b.train(mode)
        torch.testing.assert_close(a(x), b(x), **TOL)


def test_state_dicts_are_interchangeable_with_torch():
    a, b = pair(BatchNorm2d, nn.BatchNorm2d, 4, 0.1, 1e-5, True)
    b(torch.randn(6, 4, 3, 3, dtype=torch.float64))  # torch's module has seen one batch
    assert set(a.state_dict()) == set(b.state_dict())
    a.load_state_dict(b.state_dict())
    a.eval(), b.eval()
    x = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    torch.testing.assert_close(a(x), b(x), **TOL)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 7), (2, 3, 4, 5), (2, 3, 2, 2, 2)])
def test_the_functional_form_matches_F_batch_norm(shape, training):
    g = torch.Generator().manual_seed(3)
    c = shape[1]
    x = torch.randn(*shape, dtype=torch.float64, generator=g).requires_grad_(True)
    w = torch.randn(c, dtype=torch.float64, generator=g).requires_grad_(True)
    bias = torch.randn(c, dtype=torch.float64, generator=g).requires_grad_(True)
    rm, rv = torch.randn(c, dtype=torch.float64, generator=g), torch.rand(c, dtype=torch.float64, generator=g) + 0.5
    rm2, rv2 = rm.clone(), rv.clone()
    upstream = torch.randn(*shape, dtype=torch.float64, generator=g)
    ours = batch_norm(x, rm, rv, w, bias, training=training, momentum=0.3, eps=1e-4)
    theirs = F.batch_norm(x, rm2, rv2, w, bias, training=training, momentum=0.3, eps=1e-4)
    torch.testing.assert_close(ours, theirs, **TOL)
    g1 = torch.autograd.grad((ours * upstream).sum(), [x, w, bias])
    g2 = torch.autograd.grad((theirs * upstream).sum(), [x, w, bias])
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, **TOL)
    torch.testing.assert_close(rm, rm2, **TOL)
    torch.testing.assert_close(rv, rv2, **TOL)


def test_training_output_has_zero_mean_and_unit_variance_per_channel():
    x = 5 + 3 * torch.randn(64, 3, 8, 8, dtype=torch.float64)
    y = batch_norm(x, None, None, training=True, eps=0.0)
    torch.testing.assert_close(y.mean(dim=(0, 2, 3)), torch.zeros(3, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(y.var(dim=(0, 2, 3), unbiased=False), torch.ones(3, dtype=torch.float64),
                               atol=1e-12, rtol=0)


def test_float32_modules_stay_float32():
    bn = BatchNorm2d(2)
    assert bn(torch.randn(3, 2, 4, 4)).dtype == torch.float32


# ------------------------------------------------------------------------------ clear errors
def test_wrong_number_of_channels_names_both():
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\) expects \(N, C, H, W\) with C = 3, got \(2, 4, 5, 5\)"):
        BatchNorm2d(3)(torch.randn(2, 4, 5, 5))


def test_wrong_rank_names_the_expected_shapes():
    with pytest.raises(ValueError, match=r"BatchNorm1d\(4\) expects \(N, C\) or \(N, C, L\)"):
        BatchNorm1d(4)(torch.randn(2, 4, 5, 5))


def test_one_value_per_channel_in_training_mode_is_an_error():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        BatchNorm1d(4)(torch.randn(1, 4))


def test_integer_input_is_a_type_error():
    with pytest.raises(TypeError, match="floating-point"):
        BatchNorm1d(4)(torch.ones(3, 4, dtype=torch.long))


def test_eval_mode_without_running_statistics_is_an_error():
    with pytest.raises(ValueError, match="needs running_mean and running_var"):
        batch_norm(torch.randn(3, 2), None, None, training=False)


def test_buffer_of_the_wrong_size_is_named():
    with pytest.raises(ValueError, match=r"running_mean must have shape \(3,\), got \(2,\)"):
        batch_norm(torch.randn(4, 3), torch.zeros(2), torch.ones(2), training=True)


@pytest.mark.parametrize("kwargs,match", [(dict(momentum=1.5), "momentum"), (dict(eps=0.0), "eps"),
                                          (dict(num_features=0), "num_features")])
def test_bad_hyperparameters_are_rejected(kwargs, match):
    args = dict(num_features=3) | kwargs
    with pytest.raises(ValueError, match=match):
        BatchNorm2d(**args)
