"""Object detection from scratch: box IoU, non-maximum suppression, and a one-stage grid detector.

Boxes are ``(x1, y1, x2, y2)`` in pixels, ``x2 >= x1`` and ``y2 >= y1`` (torchvision's box
format, and :mod:`nblib.data.scenes`'). What is here:

- :func:`box_area`, :func:`box_iou`: areas and the pairwise intersection over union, with
  ``torchvision.ops.box_area`` / ``box_iou``'s semantics (two zero-area boxes give 0/0 = NaN).
- :func:`nms`, :func:`batched_nms`: greedy non-maximum suppression with ``torchvision.ops.nms``
  / ``batched_nms``'s semantics: keep the highest-scoring box, drop every remaining box whose IoU
  with it is **strictly greater** than the threshold, repeat; return the kept indices in
  decreasing order of score (ties: the lower index first).
- :class:`GridDetector`: a YOLO-style one-stage detector (Redmon et al. 2016, "You Only Look
  Once"; the log-size box parameterisation of YOLOv2, Redmon & Farhadi 2017): a small CNN
  whose output cell ``(i, j)`` of a G x G grid predicts one box, an objectness and class
  scores for the object whose centre falls in that cell.
- :func:`encode_targets` / :func:`decode`: boxes and labels to the grid's training targets,
  and the network's output back to scored boxes (then NMS); :func:`detection_loss`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nblib import validate

__all__ = ["box_area", "box_iou", "nms", "batched_nms", "GridDetector", "encode_targets",
           "decode", "detection_loss"]


def _boxes(name: str, boxes: torch.Tensor) -> torch.Tensor:
    validate.tensor(name, boxes, shape=("N", 4), floating=True)
    if validate.free_to_read(boxes) and len(boxes):
        bad = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
        if bad.any():
            i = int(bad.nonzero()[0, 0])
            raise ValueError(f"{name} must be (x1, y1, x2, y2) with x2 >= x1 and y2 >= y1; "
                             f"row {i} is {boxes[i].tolist()}")
    return boxes


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """Areas (N,) of boxes (N, 4) in (x1, y1, x2, y2) format."""
    _boxes("boxes", boxes)
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """Intersection over union of every pair: (N, 4), (M, 4) -> (N, M).

    IoU(A, B) = |A n B| / |A u B| = inter / (area A + area B - inter), in [0, 1]. The
    intersection of two axis-aligned boxes is the box from the larger top-left corner to the
    smaller bottom-right one, clipped at zero width or height when they do not meet.
    """
    area1, area2 = box_area(boxes1), box_area(_boxes("boxes2", boxes2))
    top_left = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])      # (N, M, 2)
    bottom_right = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])  # (N, M, 2)
    wh = (bottom_right - top_left).clamp(min=0)                         # (N, M, 2)
    inter = wh[..., 0] * wh[..., 1]                                     # (N, M)
    return inter / (area1[:, None] + area2[None, :] - inter)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression; the kept indices (int64) in decreasing score order.

    Visit the boxes from the highest score down; a box survives unless a box kept before it
    overlaps it with IoU > ``iou_threshold``. Boxes of equal score are visited in index order.
    """
    _boxes("boxes", boxes)
    validate.tensor("scores", scores, shape=(boxes.shape[0],), floating=True)
    validate.number("iou_threshold", iou_threshold)
    order = torch.sort(scores, descending=True, stable=True).indices
    iou = box_iou(boxes[order], boxes[order])             # (N, N), in visiting order
    suppressed = torch.zeros(len(order), dtype=torch.bool, device=boxes.device)
    keep = []
    for i in range(len(order)):  # sequential by nature: each decision depends on the last
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold
    return order[torch.tensor(keep, dtype=torch.int64, device=boxes.device)]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor,
                iou_threshold: float) -> torch.Tensor:
    """NMS within each category ``idxs`` (N,): boxes of different categories never suppress
    each other. Kept indices in decreasing score order, as ``torchvision.ops.batched_nms``."""
    _boxes("boxes", boxes)
    validate.tensor("idxs", idxs, shape=(boxes.shape[0],), floating=False)
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.int64, device=boxes.device)
    # shift each category far away from the others: one NMS call, no overlaps across them
    offsets = idxs.to(boxes) * (boxes.max() - boxes.min() + 1)
    return nms(boxes + offsets[:, None], scores, iou_threshold)


class GridDetector(nn.Module):
    """A one-stage detector on a grid (YOLO-style), for 1-channel images of side ``8 * G``.

    Three conv-BN-ReLU-maxpool stages (stride 8), one more 3x3 conv stage, then a 1x1 conv
    that gives each grid cell ``5 + num_classes`` numbers: an objectness logit, two centre
    offsets (logits of the centre's position inside the cell), two log-sizes relative to
    ``anchor`` pixels, and class logits. Output (N, 5 + C, H/8, W/8).
    """

    stride = 8

    def __init__(self, num_classes: int = 10, channels: tuple[int, int, int] = (8, 16, 32),
                 anchor: float = 16.0):
        super().__init__()
        self.num_classes, self.anchor = validate.positive_int("num_classes", num_classes), anchor
        layers, c_in = [], 1
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                       nn.ReLU(), nn.MaxPool2d(2)]
            c_in = c
        layers += [nn.Conv2d(c_in, c_in, 3, padding=1, bias=False), nn.BatchNorm2d(c_in),
                   nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Conv2d(c_in, 5 + num_classes, 1)
        with torch.no_grad():  # start with "few objects": objectness probability about 1 %
            self.head.bias[0] = -4.6

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        validate.tensor("x", x, shape=("N", 1, "H", "W"), floating=True)
        if x.shape[-1] % self.stride or x.shape[-2] % self.stride:
            raise ValueError(f"image sides must be multiples of {self.stride}, got "
                             f"{tuple(x.shape[-2:])}")
        return self.head(self.features(x))  # (N, 5 + C, H/8, W/8)


def encode_targets(boxes: list[torch.Tensor], labels: list[torch.Tensor], grid: int,
                   stride: int = 8, anchor: float = 16.0) -> dict[str, torch.Tensor]:
    """Ground truth of a batch -> grid targets, one object per cell.

    The cell (i, j) containing a box's centre (cx, cy) is responsible for it; its targets are
    the offsets ``tx = cx / stride - j`` and ``ty = cy / stride - i`` in [0, 1), the log-sizes
    ``tw = log(w / anchor)``, ``th = log(h / anchor)`` and the class. When two centres fall in
    one cell, the larger box is kept (a grid detector's known limit). Returns ``obj`` (N, G, G)
    float (1 at responsible cells), ``box`` (N, 4, G, G) and ``cls`` (N, G, G) int64 (-1 where
    no object), all on the boxes' device.
    """
    n = len(boxes)
    if len(labels) != n:
        raise ValueError(f"boxes and labels must be lists of the same length, got {n} and "
                         f"{len(labels)}")
    device = boxes[0].device if n else None
    obj = torch.zeros(n, grid, grid, device=device)
    box = torch.zeros(n, 4, grid, grid, device=device)
    cls = torch.full((n, grid, grid), -1, dtype=torch.int64, device=device)
    for b, (bx, lb) in enumerate(zip(boxes, labels)):
        _boxes(f"boxes[{b}]", bx)
        if len(bx) == 0:
            continue
        centre = (bx[:, :2] + bx[:, 2:]) / 2 / stride               # (k, 2) in cells
        cell = centre.floor().long().clamp(0, grid - 1)             # (k, 2): column, row
        wh = (bx[:, 2:] - bx[:, :2]).clamp(min=1e-3)                # (k, 2)
        for k in torch.argsort(wh.prod(1)).tolist():                # small first: large wins
            j, i = cell[k].tolist()
            obj[b, i, j] = 1.0
            box[b, :2, i, j] = centre[k] - cell[k]
            box[b, 2:, i, j] = torch.log(wh[k] / anchor)
            cls[b, i, j] = lb[k]
    return {"obj": obj, "box": box, "cls": cls}


def detection_loss(output: torch.Tensor, targets: dict[str, torch.Tensor],
                   box_weight: float = 5.0) -> torch.Tensor:
    """YOLO-style sum of three terms, each averaged over the batch: objectness BCE over every
    cell; squared error of the centre offsets (after a sigmoid) and log-sizes, and the class
    cross-entropy, at responsible cells only. ``box_weight`` is YOLO's lambda_coord (5)."""
    validate.tensor("output", output, ndim=4, floating=True)
    n = output.shape[0]
    obj = targets["obj"]                                            # (N, G, G), 1 or 0
    obj_loss = F.binary_cross_entropy_with_logits(output[:, 0], obj, reduction="sum")
    # dense and masked (no boolean indexing: no host-device sync on a GPU)
    centre = (output[:, 1:3].sigmoid() - targets["box"][:, :2]) ** 2   # (N, 2, G, G)
    size = (output[:, 3:5] - targets["box"][:, 2:]) ** 2               # (N, 2, G, G)
    box_loss = ((centre + size) * obj[:, None]).sum()
    cls_loss = F.cross_entropy(output[:, 5:], targets["cls"], ignore_index=-1,
                               reduction="sum")                       # cls -1: no object
    return (obj_loss + box_weight * box_loss + cls_loss) / n


@torch.no_grad()
def decode(output: torch.Tensor, stride: int = 8, anchor: float = 16.0,
           score_threshold: float = 0.05, iou_threshold: float = 0.5,
           max_dets: int = 100) -> list[dict[str, torch.Tensor]]:
    """Network output (N, 5 + C, G, G) -> per image ``{"boxes", "scores", "labels"}``.

    Each cell proposes one box: centre ``((j + sigmoid(px)) * stride, (i + sigmoid(py)) *
    stride)``, size ``anchor * exp(pw), anchor * exp(ph)``, label the most likely class, score
    ``P(object) * P(class | object)``. Boxes scoring at least ``score_threshold`` go through
    class-wise NMS; at most ``max_dets`` per image are kept, best first.
    """
    validate.tensor("output", output, ndim=4, floating=True)
    n, _, g_rows, g_cols = output.shape
    rows = torch.arange(g_rows, device=output.device, dtype=output.dtype)[:, None]
    cols = torch.arange(g_cols, device=output.device, dtype=output.dtype)[None, :]
    cx = (cols + output[:, 1].sigmoid()) * stride                   # (N, G, G)
    cy = (rows + output[:, 2].sigmoid()) * stride
    w, h = anchor * output[:, 3].exp(), anchor * output[:, 4].exp()
    boxes = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)  # (N, G, G, 4)
    p_cls, labels = output[:, 5:].softmax(1).max(1)                 # (N, G, G)
    scores = output[:, 0].sigmoid() * p_cls
    results = []
    for b in range(n):
        s, bx, lb = scores[b].flatten(), boxes[b].reshape(-1, 4), labels[b].flatten()
        keep = s >= score_threshold
        s, bx, lb = s[keep], bx[keep], lb[keep]
        kept = batched_nms(bx, s, lb, iou_threshold)[:max_dets]
        results.append({"boxes": bx[kept], "scores": s[kept], "labels": lb[kept]})
    return results
