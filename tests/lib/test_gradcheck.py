"""Specification of nblib.gradcheck: finite differences that agree with autograd."""
import math

import pytest
import torch

from nblib.autograd import Value
from nblib.gradcheck import (
    check_value_grad,
    max_rel_error,
    numerical_grad,
    numerical_grad_list,
    value_grad_list,
)


def random_function(seed: int):
    """A smooth scalar function of a (3, 4) tensor, with random fixed weights."""
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(4, 3, generator=g, dtype=torch.float64)
    b = torch.randn(3, generator=g, dtype=torch.float64)
    return lambda x: (torch.tanh(x @ W + b) ** 2).sum() + (x.sin() * x.exp()).mean()


@pytest.mark.parametrize("seed", range(5))
def test_numerical_grad_agrees_with_autograd_on_random_functions(seed):
    f = random_function(seed)
    x = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(100 + seed))
    x_before = x.clone()
    x.requires_grad_(True)
    (analytic,) = torch.autograd.grad(f(x), x)
    numeric = numerical_grad(f, x)
    assert numeric.shape == x.shape and numeric.dtype == torch.float64
    assert max_rel_error(numeric, analytic) < 1e-7
    assert torch.equal(x.detach(), x_before)     # the input is left untouched


def test_central_difference_error_shrinks_like_eps_squared():
    x = torch.tensor([0.7], dtype=torch.float64)
    exact = math.cos(0.7)
    err = [abs(numerical_grad(lambda z: z.sin().sum(), x, eps).item() - exact) for eps in (1e-2, 1e-3)]
    assert 80 < err[0] / err[1] < 120            # 10x smaller eps, 100x smaller error


def test_numerical_grad_rejects_non_scalar_functions_and_low_precision():
    x = torch.zeros(3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"must return a scalar .* got a tensor of shape \(3,\)"):
        numerical_grad(lambda z: z * 2, x)
    with pytest.raises(TypeError, match="needs a float64 tensor, got torch.float32"):
        numerical_grad(lambda z: z.sum(), x.float())
    with pytest.raises(ValueError, match="eps must be > 0"):
        numerical_grad(lambda z: z.sum(), x, eps=0.0)


def test_max_rel_error():
    assert max_rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert max_rel_error([1.0, 2.0], [1.0, 2.2]) == pytest.approx(0.2 / 4.2)
    assert max_rel_error([1e-12], [0.0]) < 1e-3   # both ~0: the floor keeps this small
    assert max_rel_error(torch.ones(2, 3), torch.ones(2, 3)) == 0.0
    with pytest.raises(ValueError, match=r"equal shapes, got \(2,\) and \(3,\)"):
        max_rel_error([1.0, 2.0], [1.0, 2.0, 3.0])


def value_function(v):
    """Uses every kind of Value operation, with reuse."""
    a, b, c = v
    h = (a * b + c.tanh()) / (b**2 + 1) - a.sigmoid() * 3
    return (h.exp() + (c * c + 0.5).log() + (a - b).relu() + (b * b + 1) ** c) * h + 2 / (1 + a * a)


@pytest.mark.parametrize("seed", range(5))
def test_value_graphs_pass_the_gradient_check(seed):
    g = torch.Generator().manual_seed(seed)
    xs = (torch.rand(3, generator=g, dtype=torch.float64) * 4 - 2).tolist()
    assert check_value_grad(value_function, xs) < 1e-6
    numeric = numerical_grad_list(lambda zs: value_function([Value(z) for z in zs]), xs)
    assert max_rel_error(value_grad_list(value_function, xs), numeric) < 1e-6


def test_the_check_catches_a_wrong_gradient():
    class Broken(Value):
        """tanh with the derivative 1 - tanh (instead of 1 - tanh^2)."""

        def tanh(self):
            out = super().tanh()
            out._derivative = lambda a, out: (1 - out,)   # backward() uses whatever is here
            return out

    x = Broken(0.8)
    x.tanh().backward()
    numeric = numerical_grad_list(lambda zs: math.tanh(zs[0]), [0.8])
    assert max_rel_error([x.grad], numeric) > 1e-2
    assert check_value_grad(lambda v: v[0].tanh(), [0.8]) < 1e-8   # the real one passes


def test_list_version_accepts_floats_tensors_and_values_but_wants_scalars():
    f = lambda zs: zs[0] ** 2 + 3 * zs[1]
    assert numerical_grad_list(f, [1.0, 2.0]) == pytest.approx([2.0, 3.0], rel=1e-8)
    assert numerical_grad_list(lambda zs: torch.tensor(zs, dtype=torch.float64).sum(), [1.0, 2.0]) == pytest.approx([1.0, 1.0])
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        numerical_grad_list(lambda zs: torch.tensor(zs), [1.0, 2.0])
