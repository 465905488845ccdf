"""Public checks of chapter 06, transfer learning (registered on import)."""
import torch

from nblib.exercises.expect import expect_close, expect_dtype, expect_shape, expect_true
from nblib.exercises.registry import public_check

__all__ = ["clustered_features"]


def clustered_features(g, centres, per_class, spread=1.0):
    """Features of ``len(centres)`` classes, each a cloud around its own centre (C, D).

    Every vector is multiplied by a random positive scale (as the norms of real features
    vary), so only its direction carries the class. Returns x (N, D) float32, y (N,) int64.
    """
    y = torch.arange(len(centres)).repeat_interleave(per_class)
    x = centres[y] + spread * torch.randn(len(y), centres.shape[1], generator=g)
    x = x * (0.2 + 5 * torch.rand(len(y), 1, generator=g))
    return x, y


@public_check("06-topk-accuracy")
def _(topk_accuracy):
    logits = torch.tensor([[0.1, 2.0, 0.3, -1.0],
                           [1.5, 0.2, 0.9, 3.0],
                           [0.0, -0.5, 0.7, 0.2]])
    target = torch.tensor([2, 1, 2])
    copy = logits.clone()
    hints = ("for each row, find the k classes with the largest logits, then ask whether "
             "the target is one of them",
             "torch.topk(logits, k, dim=1).indices has shape (N, k): compare it with the "
             "target as a column, (N, 1), and reduce over the k columns")
    for k, expected in ((1, 1 / 3), (2, 2 / 3), (3, 2 / 3), (4, 1.0)):
        got = topk_accuracy(logits, target, k)
        expect_true(isinstance(got, float), f"topk_accuracy(..., k={k}) to return a Python "
                    f"float (got {type(got).__name__})",
                    hint=("return a number, not a tensor", "convert with .item() or float()"))
        expect_close(got, expected, what=f"top-{k} accuracy of the 3-row example", hint=hints)
    expect_true(torch.equal(logits, copy), "logits to be left unchanged",
                hint=("an in-place operation changed the input", "sort or mask a copy"))
    g = torch.Generator().manual_seed(6)
    logits = torch.randn(50, 10, generator=g)
    target = torch.randint(0, 10, (50,), generator=g)
    expect_close(topk_accuracy(logits, target, 1),
                 (logits.argmax(1) == target).float().mean().item(),
                 what="top-1 accuracy of 50 random rows (equals ordinary accuracy)", hint=hints)


@public_check("06-denormalise")
def _(denormalise):
    from nblib.data.imagenet import IMAGENET_MEAN, IMAGENET_STD, preprocess

    g = torch.Generator().manual_seed(6)
    image = torch.randint(0, 256, (256, 290, 3), dtype=torch.uint8, generator=g)
    x = preprocess(image)[None]  # (1, 3, 224, 224): the short side is already 256
    copy = x.clone()
    out = denormalise(x, IMAGENET_MEAN, IMAGENET_STD)
    expect_shape(out, (1, 224, 224, 3), what="denormalise of a (1, 3, 224, 224) batch",
                 hint=("the result is channels-last: (N, H, W, 3)",
                       "move the channel dimension to the end with permute"))
    expect_dtype(out, torch.uint8, what="denormalise's result",
                 hint=("images for display are uint8", "round, clip to [0, 255], then "
                       ".to(torch.uint8)"))
    crop = image[16:240, 33:257]
    expect_close(out[0].int(), crop.int(), atol=0, rtol=0,
                 what="the round trip preprocess -> denormalise (pixel values)",
                 hint=("undo the two steps of the normalisation in reverse order, per "
                       "channel, then undo the scaling to [0, 1]",
                       "mean and std have one value per channel: reshape them so they "
                       "broadcast over (N, 3, H, W); round before converting to uint8 "
                       "(converting truncates)"))
    expect_true(torch.equal(x, copy), "x to be left unchanged",
                hint=("an in-place operation changed the input", "compute new tensors"))
    far = torch.tensor([-10.0, 10.0, 0.0]).view(1, 3, 1, 1).expand(2, 3, 2, 5)
    out = denormalise(far, IMAGENET_MEAN, IMAGENET_STD)
    expect_shape(out, (2, 2, 5, 3), what="denormalise of a (2, 3, 2, 5) batch",
                 hint="any N, H and W: do not assume square images")
    expect_true(out[..., 0].eq(0).all().item() and out[..., 1].eq(255).all().item(),
                "values outside the displayable range to be clipped to 0 and 255",
                hint=("a normalised value of -10 is far below black",
                      "clamp to [0, 255] before the conversion: uint8 wraps around"))


@public_check("06-prototypes")
def _(prototype_predict):
    train = torch.tensor([[1.0, 0.0], [10.0, 1.0], [0.0, 1.0], [0.1, 3.0]])
    labels = torch.tensor([0, 0, 1, 1])
    test = torch.tensor([[5.0, 0.2], [0.02, 0.1], [3.0, -0.5]])
    copies = [t.clone() for t in (train, labels, test)]
    hints = ("a class's prototype is the mean of its training features after each is "
             "scaled to unit length",
             "normalise, average per class, normalise the means too, and take the "
             "argmax of the dot products with the normalised test features")
    pred = prototype_predict(train, labels, test, 2)
    expect_shape(pred, (3,), what="one prediction per test feature",
                 hint=("return a (M,) tensor of class indices", "argmax over classes"))
    expect_dtype(pred, torch.int64, what="the predictions", hint="class indices are int64")
    expect_true(pred.tolist() == [0, 1, 0], f"predictions [0, 1, 0] for the 2-D example "
                f"(got {pred.tolist()})", hint=hints)
    expect_true(all(torch.equal(a, b) for a, b in zip((train, labels, test), copies)),
                "the inputs to be left unchanged", hint="compute new tensors")
    g = torch.Generator().manual_seed(6)
    centres = torch.randn(5, 16, generator=g)
    x, y = clustered_features(g, centres, 8)
    x_new, y_new = clustered_features(g, centres, 8)
    pred = prototype_predict(x, y, x_new, 5)
    scaled = prototype_predict(x, y, x_new * torch.rand(len(x_new), 1, generator=g) * 100, 5)
    expect_true(torch.equal(pred, scaled), "predictions that ignore each test feature's "
                "length (cosine similarity)", hint=hints)
    acc = (pred == y_new).float().mean().item()
    expect_true(acc >= 0.9, f"at least 90 % accuracy on fresh points of 5 clusters "
                f"(got {100 * acc:.0f} %)", hint=hints)
