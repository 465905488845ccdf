"""Specification of nblib.surfaces: test functions, optimizer trajectories, contour grids."""
import pytest
import torch

from nblib import optim
from nblib.gradcheck import max_rel_error, numerical_grad
from nblib.surfaces import MINIMA, beale, grid, himmelblau, quadratic, rosenbrock, trajectory
from devices import ALL

SURFACES = {"quadratic": quadratic, "rosenbrock": rosenbrock, "beale": beale, "himmelblau": himmelblau}


def grad_at(f, point):
    xy = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    value = f(xy)
    (g,) = torch.autograd.grad(value, xy)
    return value.item(), g


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_known_minima_have_zero_value_and_zero_gradient(name):
    for point in MINIMA[name]:
        value, g = grad_at(SURFACES[name], point)
        assert abs(value) < 1e-12, (name, point, value)
        assert g.abs().max() < 1e-9, (name, point, g)


def test_surface_values_at_textbook_points():
    assert rosenbrock(torch.tensor([0.0, 0.0])).item() == 1.0
    assert himmelblau(torch.tensor([0.0, 0.0])).item() == 170.0
    assert beale(torch.tensor([0.0, 0.0])).item() == pytest.approx(1.5**2 + 2.25**2 + 2.625**2)
    assert quadratic(torch.tensor([1.0, 1.0]), a=2.0, b=4.0).item() == 3.0


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_surfaces_broadcast_over_leading_dims_and_autograd_matches_finite_differences(name):
    f = SURFACES[name]
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(5, 7, 2, generator=g, dtype=torch.float64) * 4 - 2
    assert f(xy).shape == (5, 7)
    for point in xy.view(-1, 2)[:5]:
        _, analytic = grad_at(f, point.tolist())
        assert max_rel_error(numerical_grad(f, point), analytic) < 1e-7


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_wrong_last_dimension_is_a_clear_error(name):
    with pytest.raises(ValueError, match=r"xy must have shape \(\.\.\., 2\), got \(4, 3\)"):
        SURFACES[name](torch.zeros(4, 3))
    with pytest.raises(TypeError, match=r"xy needs a torch.Tensor of shape \(\.\.\., 2\), got list"):
        SURFACES[name]([1.0, 2.0])


def test_adam_on_the_ill_conditioned_quadratic_converges_near_zero():
    path = trajectory(optim.Adam, quadratic, (2.0, 1.5), steps=500, lr=0.05)
    assert path.shape == (501, 2)
    assert path[0].tolist() == [2.0, 1.5]
    assert path[-1].abs().max() < 1e-2
    assert quadratic(path[-1]).item() < 1e-4 * quadratic(path[0]).item()


def test_gradient_descent_on_the_quadratic_diverges_above_lr_2_over_b():
    stable = trajectory(optim.SGD, quadratic, (1.0, 1.0), steps=50, lr=0.19)      # 2/b = 0.2
    unstable = trajectory(optim.SGD, quadratic, (1.0, 1.0), steps=50, lr=0.21)
    assert abs(stable[-1, 1]) < 1e-2 and abs(unstable[-1, 1]) > 10


def test_trajectory_is_the_same_with_our_optimizer_and_torchs():
    for ours, theirs, kw in [(optim.SGD, torch.optim.SGD, dict(lr=1e-3, momentum=0.9)),
                             (optim.Adam, torch.optim.Adam, dict(lr=0.01)),
                             (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.001))]:
        a = trajectory(ours, rosenbrock, (-1.5, 2.0), steps=100, **kw)
        b = trajectory(theirs, rosenbrock, (-1.5, 2.0), steps=100, **kw)
        assert (a - b).abs().max() < 1e-9


@pytest.mark.parametrize("device", ALL)
def test_trajectory_keeps_dtype_and_device_of_a_tensor_start_and_does_not_modify_it(device):
    # "meta" tensors have shapes but no values: a second device on a machine without a GPU.
    start = torch.tensor([0.5, -0.5], device=device)                        # float32
    path = trajectory(torch.optim.SGD, himmelblau, start, steps=3, lr=1e-3)
    assert path.dtype == torch.float32 and path.device == start.device and path.shape == (4, 2)
    assert not start.requires_grad
    if device != "meta":  # values: the start is unchanged, and the path starts there and moves
        assert start.tolist() == [0.5, -0.5] and path[0].tolist() == [0.5, -0.5]
        assert not torch.equal(path[1], path[0])
    with pytest.raises(ValueError, match=r"start must have shape \(2,\), got \(3,\)"):
        trajectory(optim.SGD, quadratic, (1.0, 2.0, 3.0), steps=3, lr=0.1)
    with pytest.raises(ValueError, match="steps must be an int >= 0"):
        trajectory(optim.SGD, quadratic, (1.0, 2.0), steps=-1, lr=0.1)


def test_grid_for_contour_plots():
    X, Y, Z = grid(himmelblau, (-5, 5), (-4, 4), n=50)
    assert X.shape == Y.shape == Z.shape == (50, 50)
    assert X[0, 0] == -5 and X[0, -1] == 5 and Y[0, 0] == -4 and Y[-1, 0] == 4   # columns in x
    assert torch.allclose(Z, himmelblau(torch.stack([X, Y], -1)))
    with pytest.raises(ValueError, match="xlim must be"):
        grid(himmelblau, (5, -5), (-4, 4))
    with pytest.raises(ValueError, match="n must be an int >= 2"):
        grid(himmelblau, (-5, 5), (-4, 4), n=1)
