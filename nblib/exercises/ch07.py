"""Public checks of chapter 07, object detection (registered on import).

The expected values here are small cases worked out by hand and properties any correct answer
has (finite differences for gradients, round trips); the graded tests compare with the
reference solutions on random inputs.
"""
import math

import torch

from nblib.exercises.expect import (CheckFailure, expect_close, expect_dtype, expect_shape,
                                    expect_true)
from nblib.exercises.registry import public_check

__all__ = []

A = [0.0, 0.0, 2.0, 2.0]
GIOU_CASES = {  # second box: GIoU with A, worked out from IoU - |C minus union| / |C|
    (0.0, 0.0, 2.0, 2.0): 1.0,                  # identical
    (1.0, 0.0, 3.0, 2.0): 2 / 6 - 0 / 6,        # half overlap: C is the union
    (1.0, 1.0, 3.0, 3.0): 1 / 7 - 2 / 9,        # diagonal overlap: C is 3 x 3
    (0.5, 0.5, 1.5, 1.5): 1 / 4,                # inside A: C = A = the union
    (3.0, 0.0, 5.0, 2.0): 0 - 1 / 5,            # apart: IoU 0, C is 5 x 2, the gap 2
    (100.0, 100.0, 102.0, 102.0): 0 - (102 ** 2 - 8) / 102 ** 2,  # far apart: near -1
}


@public_check("07-giou")
def _(generalized_box_iou):
    hints = ("GIoU = IoU - (area of C - area of the union) / area of C, where C is the "
             "smallest box enclosing both boxes",
             "C's top-left corner is the elementwise minimum of the two top-left corners, "
             "its bottom-right the maximum of the bottom-right ones; broadcast (N, 1) "
             "against (1, M) as box_iou does")
    a = torch.tensor([A], dtype=torch.float64)
    others = torch.tensor(list(GIOU_CASES), dtype=torch.float64)
    out = generalized_box_iou(a, others)
    expect_shape(out, (1, len(GIOU_CASES)), what="generalized_box_iou((1, 4), (6, 4))",
                 hint=("one value per pair: (N, M)", "broadcast boxes1[:, None] against "
                       "boxes2[None, :]"))
    expect_dtype(out, torch.float64, what="generalized_box_iou of float64 boxes",
                 hint="compute with the inputs' dtype: no torch.tensor(...) or float()")
    expect_close(out[0], torch.tensor(list(GIOU_CASES.values()), dtype=torch.float64),
                 rtol=1e-9, atol=1e-12, what=f"GIoU of {A} with " + ", ".join(
                     str(list(b)) for b in GIOU_CASES), hint=hints)
    g = torch.Generator().manual_seed(7)
    xy = torch.rand(4, 2, generator=g, dtype=torch.float64) * 10
    boxes = torch.cat([xy, xy + 1 + torch.rand(4, 2, generator=g, dtype=torch.float64) * 5], 1)
    copy = boxes.clone()
    many = generalized_box_iou(boxes, boxes[:3])
    expect_shape(many, (4, 3), what="generalized_box_iou((4, 4), (3, 4))", hint=hints)
    expect_true(torch.equal(boxes, copy), "the boxes to be left unchanged (no in-place "
                "operations)", hint="compute new tensors instead of modifying the inputs")
    expect_close(many, generalized_box_iou(boxes[:3], boxes).T, rtol=1e-9, atol=1e-12,
                 what="GIoU(A, B) against GIoU(B, A) (it is symmetric)", hint=hints)
    expect_shape(generalized_box_iou(boxes, boxes[:0]), (4, 0),
                 what="generalized_box_iou((4, 4), (0, 4))",
                 hint="no boxes on one side: an empty (N, 0) result, without a Python loop")
    # differentiable: autograd's gradient agrees with finite differences
    leaf = boxes.clone().requires_grad_(True)
    weights = torch.randn(4, 3, generator=g, dtype=torch.float64)
    try:
        (generalized_box_iou(leaf, boxes[:3]) * weights).sum().backward()
    except RuntimeError as exc:
        raise CheckFailure(f"GIoU must work with autograd (it is used as a loss); backward "
                           f"raised: {exc}", hint=("keep every step a torch operation on the "
                                                   "inputs", "no .item(), .tolist(), numpy or "
                                                   "in-place writes into a result"))
    eps, numeric = 1e-6, torch.zeros_like(boxes)
    for i in range(4):
        for j in range(4):
            up, down = boxes.clone(), boxes.clone()
            up[i, j] += eps
            down[i, j] -= eps
            numeric[i, j] = ((generalized_box_iou(up, boxes[:3]) -
                              generalized_box_iou(down, boxes[:3])) * weights).sum() / (2 * eps)
    expect_close(leaf.grad, numeric, rtol=1e-5, atol=1e-7,
                 what="the gradient of sum(GIoU * w) with respect to boxes1, against finite "
                 "differences", hint=("a value can be right and its gradient wrong if part "
                                      "of the computation is detached",
                                      "avoid .detach(), .data and torch.no_grad() inside"))


SOFT_BOXES = torch.tensor([[0.0, 0.0, 2.0, 2.0], [1.0, 0.0, 3.0, 2.0], [10.0, 10.0, 12.0, 12.0],
                           [0.0, 0.0, 2.0, 2.0]])
SOFT_SCORES = torch.tensor([0.9, 0.8, 0.7, 0.5])


@public_check("07-soft-nms")
def _(soft_nms):
    hints = ("pick the highest current score, keep it, then multiply every remaining score "
             "by exp(-IoU^2 / sigma) with that box; repeat with the decayed scores",
             "a box is dropped only when its decayed score falls below score_threshold; "
             "the scores returned are those at the moment each box was selected")
    scores = SOFT_SCORES.clone()
    out = soft_nms(SOFT_BOXES, scores, 0.5, 0.001)
    expect_true(isinstance(out, (tuple, list)) and len(out) == 2,
                "soft_nms to return two tensors (keep, scores)",
                hint="return the indices in selection order and their scores")
    keep, kept = out
    # box 0 first; box 1 (IoU 1/3 with it) decays to 0.8 e^(-2/9) = 0.641; box 3 (IoU 1)
    # to 0.5 e^-2 = 0.068, then by e^(-2/9) again after box 1; box 2 meets nobody.
    b1 = 0.8 * math.exp(-(1 / 3) ** 2 / 0.5)
    b3 = 0.5 * math.exp(-1 / 0.5) * math.exp(-(1 / 3) ** 2 / 0.5)
    expect_dtype(keep, torch.int64, what="keep", hint="indices are int64: torch.tensor(list)")
    expect_close(keep, torch.tensor([0, 2, 1, 3]), what="keep (selection order) for boxes "
                 f"{SOFT_BOXES.tolist()} with scores {SOFT_SCORES.tolist()}, sigma 0.5",
                 hint=hints)
    expect_close(kept, torch.tensor([0.9, 0.7, b1, b3]), rtol=1e-5, atol=1e-7,
                 what="the scores of the kept boxes, at selection", hint=hints)
    expect_true(torch.equal(scores, SOFT_SCORES), "the input scores to be left unchanged",
                hint="work on a copy of the scores (scores.clone())")
    keep, kept = soft_nms(SOFT_BOXES, SOFT_SCORES, 0.5, 0.1)
    expect_close(keep, torch.tensor([0, 2, 1]), what="keep with score_threshold 0.1 (box 3 "
                 "decays below it)", hint=hints)
    keep, kept = soft_nms(SOFT_BOXES.double(), torch.tensor(SOFT_SCORES.tolist(),
                          dtype=torch.float64).round(decimals=6), 2.0, 0.001)
    expect_dtype(kept, torch.float64, what="the kept scores for float64 scores",
                 hint="keep the scores' dtype")
    # a wider sigma decays less: box 1 (0.757) now comes before box 2 (0.7)
    expect_close(keep, torch.tensor([0, 1, 2, 3]), what="keep with sigma 2", hint=hints)
    expect_close(kept[1], 0.8 * math.exp(-(1 / 3) ** 2 / 2.0), rtol=1e-9,
                 what="box 1's score with sigma 2", hint=hints)
    keep, kept = soft_nms(torch.zeros(0, 4), torch.zeros(0), 0.5, 0.001)
    expect_shape(keep, (0,), what="keep for no boxes", hint="no boxes: two empty tensors")
    expect_shape(kept, (0,), what="scores for no boxes", hint="no boxes: two empty tensors")


@public_check("07-box-deltas")
def _(encode_deltas, decode_deltas):
    hints = ("convert both boxes and anchors to centre, width and height first",
             "centre offsets are measured in units of the anchor's width and height; sizes "
             "as logs of ratios; each multiplied by its weight")
    anchors = torch.tensor([[0.0, 0.0, 10.0, 20.0], [5.0, 5.0, 9.0, 7.0]], dtype=torch.float64)
    boxes = torch.tensor([[5.0, 0.0, 15.0, 20.0], [5.0, 4.0, 13.0, 8.0]], dtype=torch.float64)
    # box 0: the anchor moved right by half its width; box 1: twice as wide, same centre y
    expected = torch.tensor([[0.5, 0.0, 0.0, 0.0], [0.5, 0.0, math.log(2), math.log(2)]],
                            dtype=torch.float64)
    d = encode_deltas(boxes, anchors)
    expect_shape(d, (2, 4), what="encode_deltas((2, 4), (2, 4))", hint=hints)
    expect_dtype(d, torch.float64, what="deltas of float64 boxes", hint="keep the dtype")
    expect_close(d, expected, rtol=1e-9, atol=1e-12, what=f"encode_deltas({boxes.tolist()}, "
                 f"{anchors.tolist()})", hint=hints)
    weights = (10.0, 10.0, 5.0, 5.0)
    expect_close(encode_deltas(boxes, anchors, weights), expected * torch.tensor(weights,
                 dtype=torch.float64), rtol=1e-9, atol=1e-12,
                 what="encode_deltas with weights (10, 10, 5, 5)",
                 hint=("each of the four deltas is multiplied by its own weight",))
    expect_close(decode_deltas(expected, anchors), boxes, rtol=1e-9, atol=1e-9,
                 what="decode_deltas of those deltas", hint=("invert each step of the "
                 "encoding, in reverse order", "exp undoes log; then centre and size back to "
                 "corners"))
    g = torch.Generator().manual_seed(1)
    xy = torch.rand(5, 2, generator=g, dtype=torch.float64) * 50
    a = torch.cat([xy, xy + 1 + torch.rand(5, 2, generator=g, dtype=torch.float64) * 20], 1)
    b = a + torch.randn(5, 4, generator=g, dtype=torch.float64)
    copy = (a.clone(), b.clone())
    back = decode_deltas(encode_deltas(b, a, weights), a, weights)
    expect_close(back, b, rtol=1e-9, atol=1e-9, what="decode(encode(boxes)) with weights "
                 "(10, 10, 5, 5) on random boxes (the round trip)", hint=hints)
    expect_true(torch.equal(a, copy[0]) and torch.equal(b, copy[1]),
                "boxes and anchors to be left unchanged", hint="no in-place operations")


@public_check("07-ap-voc")
def _(voc_average_precision):
    hints = ("sort by score, then compute precision and recall after each detection; "
             "make precision monotone from the right; add up rectangle areas",
             "each true positive raises recall by 1/n_gt: add that step times the best "
             "precision at that recall or any higher one")
    cases = [  # scores, TP flags, n_gt, AP worked out by hand
        ([0.9, 0.8, 0.7], [True, False, True], 2, 0.5 * 1 + 0.5 * 2 / 3),
        ([0.7, 0.8, 0.9], [True, False, True], 2, 0.5 * 1 + 0.5 * 2 / 3),  # unsorted input
        ([0.9, 0.8], [True, True], 2, 1.0),
        ([0.9], [True], 4, 0.25),                                  # 3 objects never found
        ([0.9, 0.8, 0.7, 0.6], [False, True, False, True], 2, 0.5 * 0.5 + 0.5 * 0.5),
        ([0.9, 0.8, 0.7], [False, False, False], 3, 0.0),
        ([], [], 3, 0.0),
        ([0.5, 0.5, 0.5], [False, True, True], 2, 2 / 3),  # ties keep the input order
    ]
    for scores, tp, n_gt, expected in cases:
        s = torch.tensor(scores, dtype=torch.float64)
        t = torch.tensor(tp, dtype=torch.bool)
        got = voc_average_precision(s, t, n_gt)
        expect_true(isinstance(got, float), f"a Python float (got {type(got).__name__})",
                    hint="return float(...) of the result")
        expect_close(got, expected, rtol=1e-9, atol=1e-12,
                     what=f"voc_average_precision({scores}, {tp}, {n_gt})", hint=hints)
