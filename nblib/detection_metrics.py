"""Mean average precision (mAP) of a detector, from scratch, and the same number from pycocotools.

The protocol is COCO's (Lin et al. 2014, the ``COCOeval`` of ``pycocotools``) at one IoU
threshold, so :func:`mean_average_precision` at 0.5 equals ``COCOeval``'s AP@0.5 on the same
detections (checked by ``tests/lib/test_scenes.py``):

1. **Matching**, per image and class: detections in decreasing score order (stable: equal
   scores keep their input order), at most ``max_dets`` of them. Each takes the ground-truth
   box with the largest IoU among those not taken yet, if that IoU is >= the threshold: a true
   positive (TP); otherwise a false positive (FP). A ground-truth box matches at most once, so
   a second detection of one digit is a FP.
2. **Precision-recall curve**, per class: all its detections of all images, sorted by score
   (stable, image by image); after the k best, recall = TP_k / #ground truth and precision =
   TP_k / k.
3. **Average precision** with COCO's **101-point interpolation**: make precision monotone
   (p_interp(r) = the largest precision at any recall >= r), read it at the recalls
   0, 0.01, ..., 1 (0 beyond the largest recall reached) and average the 101 values. (PASCAL
   VOC 2007 used 11 points; VOC 2010 onwards the exact area under the monotone curve: the
   numbers differ slightly, so always say which.)
4. **mAP**: the mean of AP over the classes that have ground truth (a class with ground truth
   but no detection has AP 0; a class without ground truth is left out).
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import numpy as np
import torch

from nblib.nn.detection import box_iou

__all__ = ["match_detections", "precision_recall", "average_precision",
           "mean_average_precision", "MAP", "coco_map", "RECALL_POINTS"]

RECALL_POINTS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def match_detections(boxes, scores, gt_boxes, iou_threshold: float = 0.5,
                     max_dets: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching in one image for one class (step 1 above).

    boxes (D, 4), scores (D,), gt_boxes (G, 4). Returns the kept detections' scores (sorted,
    best first) and their TP flags (bool), both (min(D, max_dets),).
    """
    scores = _np(scores).astype(np.float64)
    order = np.argsort(-scores, kind="mergesort")[:max_dets]
    if len(order) == 0:
        return scores[order], np.zeros(0, dtype=bool)
    if len(gt_boxes) == 0:
        return scores[order], np.zeros(len(order), dtype=bool)
    iou = _np(box_iou(torch.as_tensor(_np(boxes)[order], dtype=torch.float64),
                      torch.as_tensor(_np(gt_boxes), dtype=torch.float64)))  # (D, G)
    taken = np.zeros(iou.shape[1], dtype=bool)
    tp = np.zeros(len(order), dtype=bool)
    threshold = min(iou_threshold, 1 - 1e-10)  # as COCOeval: IoU 1 still matches at 1.0
    for d in range(len(order)):
        best, found = threshold, -1
        for g in range(iou.shape[1]):
            if not taken[g] and iou[d, g] >= best:   # '>=': ties go to the later box, as COCO
                best, found = iou[d, g], g
        if found >= 0:
            taken[found], tp[d] = True, True
    return scores[order], tp


def precision_recall(scores, tp, n_gt: int) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall after each detection, best score first (step 2 above)."""
    scores, tp = _np(scores).astype(np.float64), _np(tp).astype(bool)
    order = np.argsort(-scores, kind="mergesort")
    tp_sum = np.cumsum(tp[order]).astype(np.float64)
    fp_sum = np.cumsum(~tp[order]).astype(np.float64)
    recall = tp_sum / n_gt if n_gt > 0 else np.zeros_like(tp_sum)
    # np.spacing(1) (2.2e-16), as COCOeval, guards nothing here but keeps equality to the bit
    precision = tp_sum / (tp_sum + fp_sum + np.spacing(1))
    return precision, recall


def average_precision(scores, tp, n_gt: int) -> float:
    """AP of one class from its detections' scores and TP flags and its number of ground-truth
    boxes, with COCO's 101-point interpolation (step 3 above)."""
    if n_gt <= 0:
        raise ValueError(f"average precision needs at least one ground-truth box, got n_gt={n_gt}")
    precision, recall = precision_recall(scores, tp, n_gt)
    if len(precision) == 0:
        return 0.0
    envelope = np.maximum.accumulate(precision[::-1])[::-1]  # best precision at recall >= r
    at = np.searchsorted(recall, RECALL_POINTS, side="left")  # first point reaching each r
    sampled = np.where(at < len(envelope), envelope[np.minimum(at, len(envelope) - 1)], 0.0)
    return float(sampled.mean())


@dataclass(frozen=True)
class MAP:
    """The result of :func:`mean_average_precision`: ``map`` (a float), ``ap`` per class (NaN
    for a class without ground truth), and each class's ``curves`` (precision, recall)."""

    map: float
    ap: np.ndarray
    curves: dict[int, tuple[np.ndarray, np.ndarray]]
    iou_threshold: float


def mean_average_precision(detections: list[dict], targets: list[dict], num_classes: int,
                           iou_threshold: float = 0.5, max_dets: int | None = 100) -> MAP:
    """mAP of a detector on a set of images (steps 1-4 above).

    ``detections[i]``: ``{"boxes": (D, 4), "scores": (D,), "labels": (D,)}`` for image ``i``;
    ``targets[i]``: ``{"boxes": (G, 4), "labels": (G,)}``. ``max_dets`` caps the detections
    per image and class (COCOeval's ``maxDets``, 100 by default; ``None``: no cap).
    """
    if len(detections) != len(targets):
        raise ValueError(f"one detection dict per target dict expected, got {len(detections)} "
                         f"and {len(targets)}")
    per_class = {c: ([], [], 0) for c in range(num_classes)}
    for det, tgt in zip(detections, targets):
        d_labels, g_labels = _np(det["labels"]), _np(tgt["labels"])
        for c in range(num_classes):
            d, g = d_labels == c, g_labels == c
            s, tp = match_detections(_np(det["boxes"])[d], _np(det["scores"])[d],
                                     _np(tgt["boxes"])[g], iou_threshold, max_dets)
            scores, flags, n_gt = per_class[c]
            per_class[c] = (scores + [s], flags + [tp], n_gt + int(g.sum()))
    ap, curves = np.full(num_classes, np.nan), {}
    for c, (scores, flags, n_gt) in per_class.items():
        if n_gt == 0:
            continue
        scores, flags = np.concatenate(scores), np.concatenate(flags)
        ap[c] = average_precision(scores, flags, n_gt)
        curves[c] = precision_recall(scores, flags, n_gt)
    valid = ap[~np.isnan(ap)]
    return MAP(float(valid.mean()) if len(valid) else float("nan"), ap, curves, iou_threshold)


def coco_map(detections: list[dict], targets: list[dict], num_classes: int,
             iou_threshold: float = 0.5, max_dets: int = 100) -> float:
    """The same mAP computed by pycocotools' ``COCOeval`` (its prints silenced).

    Builds COCO-format ground truth and results in memory (``bbox = [x1, y1, w, h]``, image
    ids 1..n, category ids 1..C) and returns the mean over classes of the precision array at
    this IoU threshold, area range "all" and ``maxDets = max_dets``.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def xywh(box):
        x1, y1, x2, y2 = (float(v) for v in box)
        return [x1, y1, x2 - x1, y2 - y1]

    images = [{"id": i + 1, "width": 1, "height": 1} for i in range(len(targets))]
    gt_anns, dt_anns = [], []
    for i, tgt in enumerate(targets):
        for box, label in zip(_np(tgt["boxes"]), _np(tgt["labels"])):
            b = xywh(box)
            gt_anns.append({"id": len(gt_anns) + 1, "image_id": i + 1, "bbox": b,
                            "category_id": int(label) + 1, "area": b[2] * b[3], "iscrowd": 0})
    for i, det in enumerate(detections):
        for box, score, label in zip(_np(det["boxes"]), _np(det["scores"]), _np(det["labels"])):
            dt_anns.append({"image_id": i + 1, "bbox": xywh(box), "score": float(score),
                            "category_id": int(label) + 1})
    quiet = contextlib.redirect_stdout(io.StringIO())
    with quiet:
        gt = COCO()
        gt.dataset = {"images": images, "annotations": gt_anns,
                      "categories": [{"id": c + 1, "name": str(c)} for c in range(num_classes)]}
        gt.createIndex()
        if not dt_anns:
            return 0.0 if gt_anns else float("nan")
        dt = gt.loadRes(dt_anns)
        ev = COCOeval(gt, dt, iouType="bbox")
        ev.params.iouThrs = np.array([iou_threshold])
        ev.params.maxDets = [max_dets]
        ev.params.areaRng, ev.params.areaRngLbl = [[0, 1e10]], ["all"]
        ev.evaluate()
        ev.accumulate()
    precision = ev.eval["precision"][0, :, :, 0, 0]  # (recall points, classes)
    valid = precision[:, (precision > -1).all(0)]
    return float(valid.mean()) if valid.size else float("nan")
