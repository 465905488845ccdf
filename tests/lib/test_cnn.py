"""Specification of nblib.nn.cnn and nblib.nn.architectures: the CNNs of chapter 05 have the
published shapes and parameter counts, their blocks behave as the papers define them, and the
parameter and multiply-accumulate counters agree with hand counts."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nblib.cnn_recipes import AugmentedBatches, first_layer_grad_norm, random_shift_rotate
from nblib.data import make_loader
from nblib.nn import architectures as arch
from nblib.nn.cnn import DeepConvNet, LeNet, Mnist1dCNN, ResidualBlock


# ------------------------------------------------------------------------------------ LeNet
@pytest.mark.parametrize("size", [28, 32])
def test_lenet_maps_digits_to_ten_logits_with_61706_parameters(size):
    model = LeNet(in_size=size)
    assert model(torch.randn(3, 1, size, size)).shape == (3, 10)
    assert arch.count_parameters(model) == 61_706
    assert model.features[:2](torch.randn(2, 1, size, size)).shape == (2, 6, 32 - 4, 32 - 4)


def test_lenet_names_the_shape_it_expects():
    with pytest.raises(ValueError, match=r"x must have shape \(N, 1, 28, 28\), got \(1, 28, 28\).*unsqueeze"):
        LeNet()(torch.randn(1, 28, 28))


def test_lenet_rejects_other_input_sizes():
    with pytest.raises(ValueError, match="in_size must be 28 or 32"):
        LeNet(in_size=64)


# ----------------------------------------------------------------------------- MNIST-1D CNN
def published_mnist1d_cnn():
    """The model of the MNIST-1D repository (models.py, ConvBase), written out independently."""
    return nn.ModuleList([nn.Conv1d(1, 25, 5, stride=2, padding=1), nn.Conv1d(25, 25, 3, stride=2, padding=1),
                          nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.Linear(125, 10)])


def test_mnist1d_cnn_is_the_published_model():
    ours, ref = Mnist1dCNN(), published_mnist1d_cnn()
    assert arch.count_parameters(ours) == arch.count_parameters(ref) == 5_210
    ref.load_state_dict({k.replace("conv1", "0").replace("conv2", "1").replace("conv3", "2")
                        .replace("linear", "3"): v for k, v in ours.state_dict().items()})
    x = torch.randn(7, 40)
    h = x[:, None]
    for conv in ref[:3]:
        h = F.relu(conv(h))
    torch.testing.assert_close(ours(x), ref[3](h.flatten(1)))
    torch.testing.assert_close(ours(x[:, None]), ours(x))  # (N, 40) and (N, 1, 40) alike


def test_mnist1d_cnn_names_a_wrong_length():
    with pytest.raises(ValueError, match=r"\(N, 1, 40\), got \(2, 1, 41\)"):
        Mnist1dCNN()(torch.randn(2, 41))


# ------------------------------------------------------------------------ residual blocks
@pytest.mark.parametrize("dims,shape", [(1, (4, 8, 11)), (2, (3, 8, 5, 6))])
@pytest.mark.parametrize("batch_norm", [True, False])
def test_residual_block_adds_its_input_and_the_plain_block_does_not(dims, shape, batch_norm):
    torch.manual_seed(0)
    block = ResidualBlock(8, dims=dims, batch_norm=batch_norm).double()
    plain = ResidualBlock(8, dims=dims, residual=False, batch_norm=batch_norm).double()
    plain.load_state_dict(block.state_dict())  # the same layers and parameters
    x = torch.randn(*shape, dtype=torch.float64)
    f = block.bn2(block.conv2(F.relu(block.bn1(block.conv1(x)))))
    torch.testing.assert_close(block(x), F.relu(x + f))
    torch.testing.assert_close(plain(x), F.relu(f))
    # with F's last layer zeroed (BN's gamma and beta, or the conv), a residual block on a
    # non-negative input is the identity (the zero-init trick of Goyal et al. 2017)
    last = block.bn2 if batch_norm else block.conv2
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
    torch.testing.assert_close(block(x.relu()), x.relu())


@pytest.mark.parametrize("dims,x", [(1, torch.randn(5, 40)), (2, torch.randn(5, 1, 12, 12))])
def test_deep_conv_net_has_two_layers_per_block_plus_two(dims, x):
    model = DeepConvNet(4, channels=8, dims=dims)
    weights = [p for p in model.parameters() if p.ndim > 1]
    assert len(weights) == 2 * 4 + 2
    assert model(x).shape == (5, 10)


def test_deep_conv_net_names_the_expected_shape():
    with pytest.raises(ValueError, match=r"x must have shape \(N, 1, L, L\), got \(5, 3, 8, 8\)"):
        DeepConvNet(1, dims=2)(torch.randn(5, 3, 8, 8))


def test_first_layer_grad_norm_matches_autograd_and_leaves_no_gradient():
    torch.manual_seed(0)
    model = DeepConvNet(2, channels=4)
    x, y = torch.randn(16, 40), torch.randint(0, 10, (16,))
    norm = first_layer_grad_norm(model, x, y)
    assert model.stem.weight.grad is None
    F.cross_entropy(model(x), y).backward()
    assert norm == pytest.approx(model.stem.weight.grad.norm().item(), rel=1e-6)


# ------------------------------------------------------------------- historical architectures
PUBLISHED = [  # (constructor, input, parameters, multiply-accumulates within 1 %)
    (lambda: LeNet(in_size=32), (1, 1, 32, 32), 61_706, 416_520),
    (arch.AlexNet, (1, 3, 227, 227), 60_965_224, 724_406_816),
    (lambda: arch.VGG("16"), (1, 3, 224, 224), 138_357_544, 15_470_264_320),
    (arch.resnet18, (1, 3, 224, 224), 11_689_512, 1_814_073_344),
    (arch.resnet50, (1, 3, 224, 224), 25_557_032, 3_857_973_248),
]


@pytest.mark.parametrize("make,shape,params,macs", PUBLISHED, ids=["LeNet-5", "AlexNet", "VGG-16", "ResNet-18",
                                                                   "ResNet-50"])
def test_architectures_have_the_published_parameter_counts(make, shape, params, macs):
    with torch.device("meta"):
        model = make()
    assert arch.count_parameters(model) == params  # the counts torchvision reports, to the unit
    assert arch.count_macs(model, shape) == macs


def test_lenet_macs_equal_a_hand_count():
    # conv1: 6 x 28 x 28 outputs, 1 x 5 x 5 each; conv2: 16 x 10 x 10 outputs, 6 x 5 x 5 each
    hand = 6 * 28 * 28 * 25 + 16 * 10 * 10 * 150 + 400 * 120 + 120 * 84 + 84 * 10
    total, rows = arch.count_macs(LeNet(in_size=32), (1, 1, 32, 32), by_layer=True)
    assert total == hand and len(rows) == 5
    assert arch.count_macs(LeNet(in_size=32), (4, 1, 32, 32)) == 4 * hand  # per batch


def test_grouped_convolutions_cost_a_fraction():
    dense = nn.Conv2d(8, 8, 3, padding=1)
    grouped = nn.Conv2d(8, 8, 3, padding=1, groups=4)
    assert arch.count_macs(grouped, (1, 8, 5, 5)) * 4 == arch.count_macs(dense, (1, 8, 5, 5))


def test_count_macs_leaves_the_model_on_its_device():
    model = LeNet()
    arch.count_macs(model, (1, 1, 28, 28))
    assert next(model.parameters()).device.type == "cpu"


def test_count_macs_rejects_a_bad_shape():
    with pytest.raises(ValueError, match="input_shape must be a tuple of positive ints"):
        arch.count_macs(LeNet(), 28)


def test_vgg_names_its_configurations():
    with pytest.raises(ValueError, match="config must be '11', '16' or '19'"):
        arch.VGG("15")


# ----------------------------------------------------------------------------- augmentation
def test_zero_shift_and_rotation_is_the_identity():
    x = torch.rand(4, 1, 28, 28, dtype=torch.float64)
    torch.testing.assert_close(random_shift_rotate(x, 0, 0), x, atol=1e-12, rtol=0)


def test_a_shift_moves_the_image_by_whole_pixels():
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 4, 4] = 1.0
    g = torch.Generator().manual_seed(0)
    out = random_shift_rotate(x, max_shift=2, max_degrees=0, generator=g)
    u = torch.rand(1, 3, generator=torch.Generator().manual_seed(0)) * 2 - 1
    dx, dy = (2 * u[0, 1]).item(), (2 * u[0, 2]).item()
    # the bright pixel's centre of mass moves by -dx, -dy (the grid samples from x + d)
    rows, cols = torch.meshgrid(torch.arange(9.0), torch.arange(9.0), indexing="ij")
    com = (out[0, 0] * rows).sum() / out.sum(), (out[0, 0] * cols).sum() / out.sum()
    assert com[0].item() == pytest.approx(4 - dy, abs=1e-4)
    assert com[1].item() == pytest.approx(4 - dx, abs=1e-4)


def test_augmented_batches_change_inputs_not_labels_and_are_seeded():
    x, y = torch.rand(20, 1, 8, 8), torch.arange(20)
    a = list(AugmentedBatches(make_loader(x, y, 5, seed=1), seed=3))
    b = list(AugmentedBatches(make_loader(x, y, 5, seed=1), seed=3))
    assert len(a) == 4 and all(torch.equal(p[0], q[0]) and torch.equal(p[1], q[1]) for p, q in zip(a, b))
    plain = list(make_loader(x, y, 5, seed=1))
    assert all(torch.equal(p[1], q[1]) and not torch.equal(p[0], q[0]) for p, q in zip(a, plain))


def test_augmentation_names_a_wrong_rank():
    with pytest.raises(ValueError, match=r"x must have 4 dimensions, got shape \(28, 28\)"):
        random_shift_rotate(torch.rand(28, 28))
