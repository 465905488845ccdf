"""nblib.nn.init against torch.nn.init and nn.Linear's default initialisation."""
import math

import pytest
import torch
from torch import nn

from nblib.nn import init


@pytest.mark.parametrize("fan_in,fan_out", [(7, 3), (256, 256), (100, 10)])
def test_xavier_and_he_match_torch_nn_init(fan_in, fan_out):
    torch.manual_seed(0)
    assert init.init_std("xavier", fan_in, fan_out) == pytest.approx(math.sqrt(2 / (fan_in + fan_out)))
    assert init.init_std("he", fan_in, fan_out) == pytest.approx(math.sqrt(2 / fan_in))
    big = torch.empty(2000, 2000, dtype=torch.float64)
    nn.init.kaiming_normal_(big, nonlinearity="relu")
    assert big.std().item() == pytest.approx(init.init_std("he", 2000, 2000), rel=0.01)
    nn.init.xavier_normal_(big)
    assert big.std().item() == pytest.approx(init.init_std("xavier", 2000, 2000), rel=0.01)


def test_pytorch_linear_default_is_uniform_with_std_one_over_sqrt_3_fan_in():
    torch.manual_seed(0)
    layer = nn.Linear(400, 3000)
    bound = 1 / math.sqrt(400)
    assert layer.weight.abs().max().item() <= bound
    assert layer.weight.std().item() == pytest.approx(init.pytorch_linear_default_std(400), rel=0.01)


def test_signal_through_depth_matches_a_module_stack_and_autograd():
    g = torch.Generator().manual_seed(1)
    out = init.signal_through_depth("he", "relu", depth=3, width=16, batch=32, generator=g,
                                    dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(32, 16, generator=g, dtype=torch.float64).requires_grad_(True)
    layers = [nn.Linear(16, 16, bias=False).double() for _ in range(3)]
    with torch.no_grad():
        for layer in layers:
            layer.weight.copy_(torch.randn(16, 16, generator=g, dtype=torch.float64) * math.sqrt(2 / 16))
    hs = [x]
    for layer in layers:
        hs[-1].retain_grad()
        hs.append(torch.relu(layer(hs[-1])))
    hs[-1].backward(torch.randn(32, 16, generator=g, dtype=torch.float64))
    assert out["act_std"] == pytest.approx([h.std().item() for h in hs[1:]], rel=1e-12)
    assert out["grad_std"] == pytest.approx([h.grad.std().item() for h in hs[:-1]], rel=1e-12)


def test_he_keeps_relu_signals_while_std_1_explodes_and_small_vanishes():
    stats = {s: init.signal_through_depth(s, "relu", generator=torch.Generator().manual_seed(0))
             for s in ("he", "std 1", "small")}
    he = stats["he"]["act_std"]
    assert max(he) / min(he) < 2
    assert stats["std 1"]["act_std"][-1] > 1e10 and stats["small"]["act_std"][-1] < 1e-10


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown initialisation scheme"):
        init.init_std("kaiming", 3, 3)
    with pytest.raises(ValueError, match="activation"):
        init.signal_through_depth("he", "gelu")
    with pytest.raises(ValueError, match="fan_in"):
        init.pytorch_linear_default_std(0)
