"""Specification of the activations of nblib.nn.functional: they agree with torch.nn.functional
(values and gradients, float64) and fail clearly on bad input."""
import math

import pytest
import torch
import torch.nn.functional as F

from nblib.nn.functional import (ACTIVATIONS, gelu, gelu_grad, leaky_relu, leaky_relu_grad, relu,
                                 relu_grad, sigmoid, sigmoid_grad, step, step_grad, tanh)

TOL = 1e-6


def inputs(seed: int = 0) -> torch.Tensor:
    """Random float64 inputs: ordinary values, values near 0 (and 0 itself), large magnitudes."""
    g = torch.Generator().manual_seed(seed)
    ordinary = torch.randn(200, generator=g, dtype=torch.float64) * 3
    tiny = torch.randn(50, generator=g, dtype=torch.float64) * 1e-8
    large = torch.tensor([-1e3, -750.0, -100.0, -40.0, -20.0, 20.0, 40.0, 100.0, 750.0, 1e3],
                         dtype=torch.float64)
    return torch.cat([ordinary, tiny, large, torch.zeros(1, dtype=torch.float64)])


# Each case: (our function, our derivative, torch's function), with the same keyword arguments.
CASES = {
    "sigmoid": (sigmoid, sigmoid_grad, torch.sigmoid, {}),
    "tanh": (tanh, ACTIVATIONS["tanh"][1], torch.tanh, {}),
    "relu": (relu, relu_grad, F.relu, {}),
    "leaky_relu": (leaky_relu, leaky_relu_grad, F.leaky_relu, {}),
    "leaky_relu(0.2)": (leaky_relu, leaky_relu_grad, F.leaky_relu, {"negative_slope": 0.2}),
    "gelu": (gelu, gelu_grad, F.gelu, {}),
    "gelu(tanh)": (gelu, gelu_grad, F.gelu, {"approximate": "tanh"}),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_activation_matches_torch_forward(name, seed):
    ours, _, theirs, kw = CASES[name]
    x = inputs(seed)
    out = ours(x, **kw)
    assert out.dtype == torch.float64 and out.shape == x.shape
    torch.testing.assert_close(out, theirs(x, **kw), rtol=TOL, atol=TOL)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_derivative_matches_torch_autograd(name, seed):
    _, ours_grad, theirs, kw = CASES[name]
    x = inputs(seed).requires_grad_(True)
    (expected,) = torch.autograd.grad(theirs(x, **kw).sum(), x)
    torch.testing.assert_close(ours_grad(x.detach(), **kw), expected, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_autograd_through_activation_matches_torch(name, seed):
    """Backprop *through* our activation (not our hand-written derivative) gives torch's gradient,
    including at x = 0 exactly, where a kink such as abs() inside the formula would zero it."""
    ours, _, theirs, kw = CASES[name]
    x = inputs(seed).requires_grad_(True)
    (expected,) = torch.autograd.grad(theirs(x, **kw).sum(), x)
    (got,) = torch.autograd.grad(ours(x, **kw).sum(), x)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, expected, rtol=TOL, atol=TOL)


def test_activations_are_finite_for_huge_inputs_in_float32():
    x = torch.tensor([-1e4, -100.0, 100.0, 1e4], dtype=torch.float32)
    for name, (f, df) in ACTIVATIONS.items():
        assert torch.isfinite(f(x)).all(), name
        assert torch.isfinite(df(x)).all(), name
    torch.testing.assert_close(sigmoid(x), torch.sigmoid(x))


def test_tanh_keeps_relative_precision_near_zero():
    x = torch.tensor([1e-300, 1e-12, -1e-9], dtype=torch.float64)
    torch.testing.assert_close(tanh(x), x, rtol=1e-12, atol=0.0)


def test_step_is_heaviside_with_one_at_zero_and_has_zero_derivative():
    x = inputs(3)
    torch.testing.assert_close(step(x), torch.heaviside(x, torch.ones((), dtype=x.dtype)))
    assert step(torch.zeros(1)).item() == 1.0
    assert (step_grad(x) == 0).all()
    # Finite differences agree with 0 away from the jump.
    away = x[x.abs() > 1e-3]
    assert ((step(away + 1e-6) - step(away - 1e-6)) == 0).all()


def test_derivatives_at_exactly_zero_follow_pytorch_conventions():
    zero = torch.zeros(1, dtype=torch.float64)
    assert relu_grad(zero).item() == 0.0               # a convention: any value in [0, 1] is a subgradient
    assert leaky_relu_grad(zero).item() == 0.01
    assert sigmoid_grad(zero).item() == 0.25
    assert gelu_grad(zero).item() == 0.5


def test_gelu_tanh_approximation_is_close_but_not_equal_to_exact():
    x = torch.linspace(-6, 6, 2001, dtype=torch.float64)
    diff = (gelu(x) - gelu(x, approximate="tanh")).abs().max().item()
    assert 1e-5 < diff < 1e-3


def test_nan_propagates():
    x = torch.tensor([float("nan"), 1.0])
    for name, (f, df) in ACTIVATIONS.items():
        assert math.isnan(f(x)[0].item()), name
        assert math.isnan(df(x)[0].item()), name


@pytest.mark.parametrize("f", [step, sigmoid, tanh, relu, leaky_relu, gelu, sigmoid_grad, gelu_grad])
def test_activation_errors_are_clear(f):
    with pytest.raises(TypeError, match=rf"{f.__name__} input needs a floating-point tensor, got torch.int64"):
        f(torch.tensor([1, 2]))
    with pytest.raises(TypeError, match=rf"{f.__name__} input needs a torch.Tensor, got list"):
        f([1.0, 2.0])


def test_bad_keyword_arguments_are_rejected():
    with pytest.raises(ValueError, match=r"approximate must be 'none' .* or 'tanh', got 'erf'"):
        gelu(torch.ones(2), approximate="erf")
    with pytest.raises(TypeError, match=r"negative_slope must be a real number, got str"):
        leaky_relu(torch.ones(2), negative_slope="0.1")
