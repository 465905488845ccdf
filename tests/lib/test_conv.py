"""Specification of nblib.nn.conv: conv2d (loops and im2col), unfold, max and average pooling
equal torch.nn.functional's, forward and gradients, in float64, on random shapes, strides,
paddings, dilations and groups; the output-size formula equals the shapes PyTorch produces;
bad arguments raise errors that name what was expected and what was received."""
import random

import pytest
import torch
import torch.nn.functional as F

from nblib.nn import conv

TOL = dict(rtol=1e-6, atol=1e-6)  # float64: the differences seen are ~1e-15


def _case(seed: int) -> dict:
    """A random convolution problem: shapes, stride, padding, dilation, groups, bias or not."""
    r = random.Random(seed)
    groups = r.choice([1, 1, 2, 3])
    kernel = (r.randint(1, 4), r.randint(1, 4))
    dilation = (r.randint(1, 3), r.randint(1, 2))
    size = tuple(r.randint(d * (k - 1) + 1, d * (k - 1) + 7) for k, d in zip(kernel, dilation))
    return dict(N=r.randint(1, 3), C=groups * r.randint(1, 3), O=groups * r.randint(1, 3),
                size=size, kernel=kernel, groups=groups, dilation=dilation,
                stride=(r.randint(1, 3), r.randint(1, 3)),
                padding=(r.randint(0, 2), r.randint(0, 2)), bias=r.random() < 0.7)


def _tensors(c: dict, seed: int):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(c["N"], c["C"], *c["size"], dtype=torch.float64, generator=g)
    w = torch.randn(c["O"], c["C"] // c["groups"], *c["kernel"], dtype=torch.float64, generator=g)
    b = torch.randn(c["O"], dtype=torch.float64, generator=g) if c["bias"] else None
    return x, w, b


def _compare(ours, theirs, *inputs):
    """Forward and the gradients w.r.t. every tensor input agree (a random upstream gradient)."""
    a = [None if t is None else t.clone().requires_grad_(True) for t in inputs]
    b = [None if t is None else t.clone().requires_grad_(True) for t in inputs]
    out_a, out_b = ours(*a), theirs(*b)
    assert out_a.shape == out_b.shape, (out_a.shape, out_b.shape)
    torch.testing.assert_close(out_a, out_b, **TOL)
    up = torch.randn(out_a.shape, dtype=out_a.dtype, generator=torch.Generator().manual_seed(7))
    (out_a * up).sum().backward()
    (out_b * up).sum().backward()
    for ta, tb in zip(a, b):
        if ta is not None:
            torch.testing.assert_close(ta.grad, tb.grad, **TOL)


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("impl", [conv.conv2d, conv.conv2d_loops], ids=["im2col", "loops"])
def test_conv2d_matches_torch_forward_and_backward(impl, seed):
    c = _case(seed)
    args = dict(stride=c["stride"], padding=c["padding"], dilation=c["dilation"],
                groups=c["groups"])
    _compare(lambda x, w, b: impl(x, w, b, **args), lambda x, w, b: F.conv2d(x, w, b, **args),
             *_tensors(c, seed))


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch: even kernels copy
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("kernel, dilation", [((3, 3), 1), ((2, 4), 1), ((3, 2), (2, 3))])
def test_conv2d_string_padding_matches_torch(padding, kernel, dilation):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 11, 12, dtype=torch.float64, generator=g)
    w = torch.randn(4, 3, *kernel, dtype=torch.float64, generator=g)
    _compare(lambda x, w: conv.conv2d(x, w, padding=padding, dilation=dilation),
             lambda x, w: F.conv2d(x, w, padding=padding, dilation=dilation), x, w)


def test_conv2d_takes_an_unbatched_input_as_pytorch_does():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 8, 8, dtype=torch.float64, generator=g)
    w = torch.randn(5, 3, 3, 3, dtype=torch.float64, generator=g)
    for impl in (conv.conv2d, conv.conv2d_loops):
        torch.testing.assert_close(impl(x, w, padding=1), F.conv2d(x, w, padding=1), **TOL)


@pytest.mark.parametrize("seed", range(20))
def test_unfold_matches_torch(seed):
    c = _case(seed)
    x, _, _ = _tensors(c, seed)
    args = dict(kernel_size=c["kernel"], dilation=c["dilation"], padding=c["padding"],
                stride=c["stride"])
    _compare(lambda x: conv.unfold(x, **args), lambda x: F.unfold(x, **args), x)


@pytest.mark.parametrize("seed", range(200))
def test_conv_output_size_is_the_shape_pytorch_produces(seed):
    r = random.Random(seed)
    k, s, p, d = r.randint(1, 5), r.randint(1, 4), r.randint(0, 3), r.randint(1, 3)
    size = r.randint(max(1, d * (k - 1) + 1 - 2 * p), 20)
    y = F.conv2d(torch.zeros(1, 1, size, 1), torch.zeros(1, 1, k, 1), stride=(s, 1),
                 padding=(p, 0), dilation=(d, 1))
    assert conv.conv_output_size(size, k, s, p, d) == y.shape[2]


def _pool_case(seed: int) -> dict:
    r = random.Random(1000 + seed)
    kernel = (r.randint(1, 4), r.randint(1, 4))
    dilation = (r.randint(1, 2), r.randint(1, 2))
    return dict(kernel=kernel, dilation=dilation, stride=(r.randint(1, 3), r.randint(1, 3)),
                padding=(r.randint(0, kernel[0] // 2), r.randint(0, kernel[1] // 2)),
                ceil_mode=r.random() < 0.5, count_include_pad=r.random() < 0.5,
                size=tuple(r.randint(d * (k - 1) + 1, d * (k - 1) + 7)
                           for k, d in zip(kernel, dilation)),
                N=r.randint(1, 3), C=r.randint(1, 4))


@pytest.mark.parametrize("seed", range(40))
def test_max_pool2d_matches_torch_forward_backward_and_indices(seed):
    c = _pool_case(seed)
    x = torch.randn(c["N"], c["C"], *c["size"], dtype=torch.float64,
                    generator=torch.Generator().manual_seed(seed))
    args = dict(kernel_size=c["kernel"], stride=c["stride"], padding=c["padding"],
                dilation=c["dilation"], ceil_mode=c["ceil_mode"])
    _compare(lambda x: conv.max_pool2d(x, **args), lambda x: F.max_pool2d(x, **args), x)
    _, ours = conv.max_pool2d(x, **args, return_indices=True)
    _, theirs = F.max_pool2d(x, **args, return_indices=True)
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("seed", range(40))
def test_avg_pool2d_matches_torch_forward_and_backward(seed):
    c = _pool_case(seed)
    x = torch.randn(c["N"], c["C"], *c["size"], dtype=torch.float64,
                    generator=torch.Generator().manual_seed(seed))
    args = dict(kernel_size=c["kernel"], stride=c["stride"], padding=c["padding"],
                ceil_mode=c["ceil_mode"], count_include_pad=c["count_include_pad"])
    _compare(lambda x: conv.avg_pool2d(x, **args), lambda x: F.avg_pool2d(x, **args), x)


def test_avg_pool2d_divisor_override_and_default_stride():
    x = torch.randn(2, 3, 9, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    _compare(lambda x: conv.avg_pool2d(x, 3, padding=1, divisor_override=5),
             lambda x: F.avg_pool2d(x, 3, padding=1, divisor_override=5), x)
    assert conv.max_pool2d(x, 2).shape == F.max_pool2d(x, 2).shape == (2, 3, 4, 3)


def test_max_pool2d_sends_the_gradient_to_the_maximum_only():
    x = torch.tensor([[[[1.0, 5.0], [2.0, 3.0]]]], requires_grad=True)
    conv.max_pool2d(x, 2).sum().backward()
    assert x.grad.tolist() == [[[[0.0, 1.0], [0.0, 0.0]]]]


# ---------------------------------------------------------------- clear errors

def _raises(fn, kind, *words):
    with pytest.raises(kind) as err:
        fn()
    for word in words:
        assert word in str(err.value), str(err.value)


def test_bad_inputs_raise_clear_errors():
    x = torch.randn(1, 4, 6, 6)
    w = torch.randn(2, 4, 3, 3)
    _raises(lambda: conv.conv2d(torch.randn(6, 6), w), ValueError, "(N, C, H, W)", "(6, 6)")
    _raises(lambda: conv.conv2d(x, torch.randn(2, 3, 3, 3)), ValueError,
            "(O, 4, kh, kw)", "(2, 3, 3, 3)")
    _raises(lambda: conv.conv2d(x, torch.randn(3, 2, 3, 3), groups=2), ValueError,
            "groups=2", "output channels (3)")
    _raises(lambda: conv.conv2d(x, w, torch.randn(3)), ValueError, "bias", "(2,)", "(3,)")
    _raises(lambda: conv.conv2d(x, w.double()), TypeError, "float32", "float64")
    _raises(lambda: conv.conv2d(x.long(), w), TypeError, "floating-point", "int64")
    _raises(lambda: conv.conv2d(x, torch.randn(2, 4, 7, 7)), ValueError,
            "covers 7 cells", "only 6")
    _raises(lambda: conv.conv2d(x, w, stride=0), ValueError, "stride", "positive")
    _raises(lambda: conv.conv2d(x, w, padding=(1, 2, 3)), ValueError, "pair", "(1, 2, 3)")
    _raises(lambda: conv.conv2d(x, w, padding="full"), ValueError, "'valid'", "'full'")
    _raises(lambda: conv.conv2d(x, w, padding="same", stride=2), ValueError, "stride 1")
    _raises(lambda: conv.max_pool2d(x, 2, padding=2), ValueError, "half the kernel")
    _raises(lambda: conv.conv_output_size(5, 3, stride=1.5), TypeError, "stride", "float")
