"""Graded tests of 07-soft-nms: Gaussian Soft-NMS (Bodla et al. 2017) on random clusters of
boxes, against the reference: the same indices in the same order, the same scores."""
import torch

from nblib.grading import assert_close, question

FORBIDDEN = {"07-soft-nms": ["torchvision", "nblib", "getattr", "eval", "exec", "__import__"]}


def _clustered_boxes(rng, n):
    """n boxes around a few centres, so that many overlap (the case NMS is for)."""
    centres = torch.rand(3, 2, generator=rng, dtype=torch.float64) * 60
    which = torch.randint(0, 3, (n,), generator=rng)
    xy = centres[which] + torch.randn(n, 2, generator=rng, dtype=torch.float64) * 3
    wh = 8 + torch.rand(n, 2, generator=rng, dtype=torch.float64) * 8
    return torch.cat([xy - wh / 2, xy + wh / 2], 1)


def _compare(student, reference, boxes, scores, sigma, threshold):
    copy = scores.clone()
    keep, kept = student.soft_nms(boxes, scores, sigma, threshold)
    ref_keep, ref_kept = reference.soft_nms(boxes, scores, sigma, threshold)
    assert torch.as_tensor(keep).tolist() == torch.as_tensor(ref_keep).tolist(), (
        f"kept indices (in selection order) {torch.as_tensor(keep).tolist()}, "
        f"expected {torch.as_tensor(ref_keep).tolist()}")
    assert_close(kept, ref_kept, rtol=1e-9, atol=1e-12, check_dtype=True)
    assert torch.equal(scores, copy)


@question("07-soft-nms", points=2)
def test_random_clusters_match_the_reference(student, reference, rng):
    for sigma, threshold in ((0.5, 0.001), (float(0.1 + torch.rand((), generator=rng)), 0.05)):
        n = int(torch.randint(5, 30, (), generator=rng))
        boxes = _clustered_boxes(rng, n)
        scores = torch.rand(n, generator=rng, dtype=torch.float64)
        _compare(student, reference, boxes, scores, sigma, threshold)


@question("07-soft-nms", points=1)
def test_threshold_drops_boxes_and_empty_input(student, reference, rng):
    n = int(torch.randint(10, 25, (), generator=rng))
    boxes = _clustered_boxes(rng, n)
    scores = 0.2 + 0.8 * torch.rand(n, generator=rng, dtype=torch.float64)
    _compare(student, reference, boxes, scores, 0.3, 0.15)
    keep, kept = student.soft_nms(boxes[:0], scores[:0], 0.5, 0.001)
    assert len(torch.as_tensor(keep)) == 0 and len(torch.as_tensor(kept)) == 0
