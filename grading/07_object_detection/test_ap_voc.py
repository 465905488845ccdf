"""Graded tests of 07-ap-voc: all-point interpolated average precision (PASCAL VOC 2010 and
later) of one class, against the reference, on random detections."""
import torch

from nblib.grading import assert_close, question

FORBIDDEN = {"07-ap-voc": ["sklearn", "pycocotools", "torchmetrics", "nblib", "getattr", "eval",
                           "exec", "__import__"]}


def _problem(rng, n, n_gt, quantised=False):
    scores = torch.rand(n, generator=rng, dtype=torch.float64)
    if quantised:  # many equal scores: the stable order decides
        scores = (scores * 4).floor() / 4
    # better scores are more often true positives, as for a real detector
    tp = torch.rand(n, generator=rng, dtype=torch.float64) < scores
    return scores, tp, max(n_gt, int(tp.sum()))


@question("07-ap-voc", points=1)
def test_random_detections_match_the_reference(student, reference, rng):
    for _ in range(4):
        n = int(torch.randint(1, 60, (), generator=rng))
        scores, tp, n_gt = _problem(rng, n, int(torch.randint(1, 40, (), generator=rng)))
        ap = student.voc_average_precision(scores, tp, n_gt)
        assert isinstance(ap, float), f"return a Python float, got {type(ap).__name__}"
        assert_close(ap, reference.voc_average_precision(scores, tp, n_gt), rtol=1e-9,
                     atol=1e-12)


@question("07-ap-voc", points=1)
def test_ties_missed_objects_and_no_detections(student, reference, rng):
    n = int(torch.randint(10, 40, (), generator=rng))
    scores, tp, n_gt = _problem(rng, n, n, quantised=True)
    assert_close(student.voc_average_precision(scores, tp, n_gt),
                 reference.voc_average_precision(scores, tp, n_gt), rtol=1e-9, atol=1e-12)
    scores, tp, _ = _problem(rng, n, 1)
    n_gt = int(tp.sum()) + int(torch.randint(1, 10, (), generator=rng))  # some never found
    assert_close(student.voc_average_precision(scores, tp, n_gt),
                 reference.voc_average_precision(scores, tp, n_gt), rtol=1e-9, atol=1e-12)
    empty = torch.zeros(0, dtype=torch.float64)
    assert_close(student.voc_average_precision(empty, empty.bool(), 3), 0.0)
