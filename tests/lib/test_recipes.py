"""The published protocols' optimizer: the fused Adam the recipes use is Adam."""
import torch

from nblib import recipes
from nblib.nn import mlp


def _train(make_optimizer, steps=30):
    torch.manual_seed(0)
    model = mlp.Mnist1dMLP()
    opt = make_optimizer(model.parameters())
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x, y = torch.randn(16, 40, generator=g), torch.randint(0, 10, (16,), generator=g)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_recipes_adam_takes_the_same_steps_as_torch_adam():
    ours = _train(lambda p: recipes.adam(p, 1e-2))
    default = _train(lambda p: torch.optim.Adam(p, lr=1e-2))
    assert not torch.equal(ours, _train(lambda p: torch.optim.Adam(p, lr=2e-2)))  # steps matter
    torch.testing.assert_close(ours, default, rtol=1e-5, atol=1e-6)


def test_recipes_adam_uses_the_fused_kernel_where_torch_has_one():
    opt = recipes.adam(torch.nn.Linear(3, 2).parameters(), 1e-3)
    assert opt.defaults["lr"] == 1e-3
    assert opt.defaults["fused"] is True  # torch >= 2.4 has it on the CPU
