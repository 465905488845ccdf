"""Graded tests of 07-box-deltas: Faster R-CNN's box encoding relative to anchors and its
inverse, against the reference, with and without weights, and the round trip."""
import torch

from nblib.grading import assert_close, question

FORBIDDEN = {"07-box-deltas": ["torchvision", "nblib", "getattr", "eval", "exec", "__import__"]}


def _boxes(n, rng):
    xy = torch.rand(n, 2, generator=rng, dtype=torch.float64) * 100 - 20
    wh = 1 + torch.rand(n, 2, generator=rng, dtype=torch.float64) * 40
    return torch.cat([xy, xy + wh], 1)


@question("07-box-deltas", points=1)
def test_encode_and_decode_match_the_reference(student, reference, rng):
    n = int(torch.randint(1, 20, (), generator=rng))
    anchors, boxes = _boxes(n, rng), _boxes(n, rng)
    weights = tuple(float(w) for w in 1 + torch.rand(4, generator=rng) * 9)
    for args in ((), (weights,)):
        d = student.encode_deltas(boxes, anchors, *args)
        assert_close(d, reference.encode_deltas(boxes, anchors, *args), rtol=1e-9, atol=1e-12,
                     check_dtype=True)
        deltas = torch.randn(n, 4, generator=rng, dtype=torch.float64) * 0.5
        assert_close(student.decode_deltas(deltas, anchors, *args),
                     reference.decode_deltas(deltas, anchors, *args), rtol=1e-9, atol=1e-9,
                     check_dtype=True)


@question("07-box-deltas", points=1)
def test_round_trip_and_float32(student, rng):
    n = int(torch.randint(1, 20, (), generator=rng))
    anchors, boxes = _boxes(n, rng), _boxes(n, rng)
    weights = (10.0, 10.0, 5.0, 5.0)
    back = student.decode_deltas(student.encode_deltas(boxes, anchors, weights), anchors, weights)
    assert_close(back, boxes, rtol=1e-9, atol=1e-9)
    a32, b32 = anchors.float(), boxes.float()
    back = student.decode_deltas(student.encode_deltas(b32, a32), a32)
    assert_close(back, b32, rtol=1e-4, atol=1e-3, check_dtype=True)
