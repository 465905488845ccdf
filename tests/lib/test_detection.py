"""Specification of nblib.nn.detection: box IoU and NMS with torchvision's semantics (checked
against brute-force definitions written with Python floats, since torchvision is not
installed), the grid targets and their decoding, and the YOLO-style detector."""
import itertools
import math

import pytest
import torch

from nblib.nn.detection import (GridDetector, batched_nms, box_area, box_iou, decode,
                                detection_loss, encode_targets, nms)


def random_boxes(n, generator, scale=50.0, dtype=torch.float64, min_size=0.0):
    xy = torch.rand(n, 2, generator=generator, dtype=dtype) * scale
    wh = torch.rand(n, 2, generator=generator, dtype=dtype) * scale / 2 + min_size
    return torch.cat([xy, xy + wh], dim=1)


def iou_by_definition(a, b):
    """IoU of two boxes from the definition |A n B| / |A u B|, in Python floats."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else math.nan


def nms_by_definition(boxes, scores, threshold):
    """Greedy NMS, the slow way: visit by score (ties: lower index first); keep a box unless a
    kept box overlaps it with IoU > threshold."""
    b, s = boxes.tolist(), scores.tolist()
    keep = []
    for i in sorted(range(len(s)), key=lambda i: (-s[i], i)):
        if all(not iou_by_definition(b[i], b[k]) > threshold for k in keep):
            keep.append(i)
    return keep


# ------------------------------------------------------------------------------- IoU
@pytest.mark.parametrize("n, m", [(1, 1), (5, 7), (13, 2), (0, 4), (3, 0)])
@pytest.mark.parametrize("seed", [0, 1])
def test_box_iou_is_the_definition_for_every_pair(n, m, seed):
    g = torch.Generator().manual_seed(seed)
    a, b = random_boxes(n, g), random_boxes(m, g)
    iou = box_iou(a, b)
    assert iou.shape == (n, m) and iou.dtype == torch.float64
    for i, j in itertools.product(range(n), range(m)):
        assert iou[i, j].item() == pytest.approx(iou_by_definition(a[i].tolist(), b[j].tolist()),
                                                 abs=1e-12)


def test_box_iou_special_cases():
    box = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    cases = {  # other box: IoU with box
        (0.0, 0.0, 2.0, 2.0): 1.0,           # identical
        (1.0, 0.0, 3.0, 2.0): 2 / 6,          # half overlap
        (2.0, 0.0, 4.0, 2.0): 0.0,            # touching edges: no area in common
        (5.0, 5.0, 6.0, 6.0): 0.0,            # apart
        (0.5, 0.5, 1.5, 1.5): 1 / 4,          # inside
        (1.0, 1.0, 1.0, 1.0): 0.0,            # a zero-area box inside
    }
    for other, expected in cases.items():
        assert box_iou(box, torch.tensor([other])).item() == pytest.approx(expected)
    point = torch.tensor([[1.0, 1.0, 1.0, 1.0]])
    assert torch.isnan(box_iou(point, point)).all(), "0/0, as torchvision's box_iou"


def test_box_iou_is_symmetric_and_in_unit_interval_and_differentiable():
    g = torch.Generator().manual_seed(3)
    a, b = random_boxes(6, g).requires_grad_(True), random_boxes(4, g)
    iou = box_iou(a, b)
    assert torch.allclose(iou, box_iou(b, a.detach()).T, atol=1e-15)
    assert (iou >= 0).all() and (iou <= 1).all()
    iou.sum().backward()
    assert torch.isfinite(a.grad).all()
    assert torch.allclose(box_area(a.detach()), (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]))


@pytest.mark.parametrize("bad, message", [
    (torch.zeros(3, 5), r"shape \(N, 4\)"),
    (torch.zeros(4), r"shape \(N, 4\)"),
    (torch.zeros(2, 4, dtype=torch.int64), "floating-point"),
    (torch.tensor([[2.0, 0.0, 1.0, 1.0]]), r"x2 >= x1 and y2 >= y1; row 0"),
])
def test_box_iou_explains_bad_boxes(bad, message):
    with pytest.raises((ValueError, TypeError), match=message):
        box_iou(bad, torch.zeros(1, 4))


# ------------------------------------------------------------------------------- NMS
@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.7, 1.0])
@pytest.mark.parametrize("seed", range(4))
def test_nms_equals_the_brute_force_definition(threshold, seed):
    g = torch.Generator().manual_seed(seed)
    n = int(torch.randint(1, 40, (), generator=g))
    boxes, scores = random_boxes(n, g, scale=30.0), torch.rand(n, generator=g, dtype=torch.float64)
    keep = nms(boxes, scores, threshold)
    assert keep.dtype == torch.int64
    assert keep.tolist() == nms_by_definition(boxes, scores, threshold)
    assert (scores[keep].diff() <= 0).all(), "kept indices come in decreasing score order"


def test_nms_of_nothing_is_nothing():
    keep = nms(torch.zeros(0, 4), torch.zeros(0), 0.5)
    assert keep.shape == (0,) and keep.dtype == torch.int64


def test_nms_ties_in_score_are_visited_in_index_order():
    boxes = torch.tensor([[0.0, 0, 10, 10], [1.0, 1, 11, 11], [50.0, 50, 60, 60]])
    scores = torch.tensor([0.5, 0.5, 0.5])
    assert nms(boxes, scores, 0.5).tolist() == [0, 2]
    assert nms(boxes.flip(0), scores, 0.5).tolist() == [0, 1]


def test_nms_identical_boxes_keep_only_the_best():
    boxes = torch.tensor([[0.0, 0, 10, 10]] * 4)
    scores = torch.tensor([0.1, 0.9, 0.3, 0.9])
    assert nms(boxes, scores, 0.5).tolist() == [1]
    assert nms(boxes, scores, 1.0).tolist() == [1, 3, 2, 0], "IoU 1 is not > 1: all kept"


def test_nms_zero_area_boxes_never_suppress_nor_get_suppressed():
    # IoU of a point with itself is 0/0 = NaN, and NaN > t is False (as torchvision)
    boxes = torch.tensor([[5.0, 5, 5, 5], [5.0, 5, 5, 5], [0.0, 0, 10, 10]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    assert nms(boxes, scores, 0.0).tolist() == [0, 1, 2]


def test_nms_explains_mismatched_scores():
    with pytest.raises(ValueError, match=r"scores must have shape \(3,\)"):
        nms(torch.zeros(3, 4), torch.zeros(2), 0.5)


def test_batched_nms_suppresses_only_within_a_category():
    g = torch.Generator().manual_seed(7)
    boxes, scores = random_boxes(30, g, scale=20.0), torch.rand(30, generator=g, dtype=torch.float64)
    idxs = torch.randint(0, 3, (30,), generator=g)
    keep = batched_nms(boxes, scores, idxs, 0.4)
    expected = []
    for c in range(3):
        where = (idxs == c).nonzero()[:, 0]
        expected += where[nms_by_definition(boxes[where], scores[where], 0.4)].tolist()
    assert sorted(keep.tolist()) == sorted(expected)
    assert (scores[keep].diff() <= 0).all()
    assert batched_nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.int64),
                       0.5).shape == (0,)


# ------------------------------------------------------------------- targets and decoding
def test_encoded_targets_decode_back_to_the_boxes():
    boxes = [torch.tensor([[3.0, 5.0, 20.0, 30.0], [40.0, 33.0, 57.0, 41.0]]),
             torch.zeros(0, 4)]
    labels = [torch.tensor([7, 2]), torch.zeros(0, dtype=torch.int64)]
    t = encode_targets(boxes, labels, grid=8, stride=8, anchor=16.0)
    assert t["obj"].shape == (2, 8, 8) and t["box"].shape == (2, 4, 8, 8)
    assert t["obj"].sum() == 2 and t["obj"][1].sum() == 0 and (t["cls"][1] == -1).all()
    # build the output a perfect network would give, then decode it
    out = torch.full((2, 15, 8, 8), -20.0)
    out[:, 0] = torch.where(t["obj"] > 0, 20.0, -20.0)
    out[:, 1:3] = torch.logit(t["box"][:, :2].clamp(1e-9, 1 - 1e-9))
    out[:, 3:5] = t["box"][:, 2:]
    out[:, 5:] = torch.where(t["cls"][:, None] == torch.arange(10)[None, :, None, None], 20.0, -20.0)
    dets = decode(out.double(), stride=8, anchor=16.0, score_threshold=0.5)
    assert len(dets[1]["boxes"]) == 0
    order = dets[0]["labels"].argsort(descending=True)
    assert torch.allclose(dets[0]["boxes"][order].float(), boxes[0], atol=1e-4)
    assert dets[0]["labels"][order].tolist() == [7, 2]


def test_two_centres_in_one_cell_keep_the_larger_box():
    boxes = [torch.tensor([[0.0, 0.0, 30.0, 30.0], [13.0, 13.0, 17.0, 17.0]])]
    t = encode_targets(boxes, [torch.tensor([1, 2])], grid=8)
    assert t["obj"].sum() == 1 and t["cls"][0, 1, 1] == 1
    assert t["box"][0, 2:, 1, 1].tolist() == pytest.approx([math.log(30 / 16)] * 2)


def test_detector_shapes_loss_and_bad_input():
    torch.manual_seed(0)
    model = GridDetector(num_classes=10, channels=(4, 8, 8))
    x = torch.rand(3, 1, 64, 48)
    out = model(x)
    assert out.shape == (3, 15, 8, 6)
    boxes = [torch.tensor([[3.0, 5.0, 20.0, 30.0]])] * 3
    t = encode_targets(boxes, [torch.tensor([4])] * 3, grid=8)
    t = {k: v[:, :, :6] if k != "box" else v[..., :6] for k, v in t.items()}
    loss = detection_loss(out, t)
    loss.backward()
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(ValueError, match=r"multiples of 8"):
        model(torch.rand(1, 1, 60, 64))
    with pytest.raises(ValueError, match=r"shape \(N, 1, H, W\)"):
        model(torch.rand(1, 3, 64, 64))


def test_a_detector_can_overfit_one_batch():
    torch.manual_seed(0)
    from nblib.data.scenes import make_scenes
    scenes = make_scenes(8, "train", seed=3, size=32, scale=(14, 20), digits=(1, 2))
    t = encode_targets(scenes.boxes, scenes.labels, grid=4)
    model = GridDetector(channels=(8, 16, 32))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(150):
        loss = detection_loss(model(scenes.images), t)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 * first


def test_box_iou_gradients_pass_gradcheck():
    g = torch.Generator().manual_seed(11)
    a = random_boxes(4, g, min_size=1.0).requires_grad_(True)
    b = random_boxes(3, g, min_size=1.0).requires_grad_(True)
    assert torch.autograd.gradcheck(box_iou, (a, b), eps=1e-6, atol=1e-7)


def loss_by_definition(output, boxes, labels, box_weight=5.0):
    """The YOLO-style loss written cell by cell in Python floats (one image per list entry)."""
    total = 0.0
    n, _, grid, _ = output.shape
    for b in range(n):
        owner = {}
        for k, (x1, y1, x2, y2) in enumerate(boxes[b].tolist()):
            cx, cy = (x1 + x2) / 2 / 8, (y1 + y2) / 2 / 8
            cell = (min(int(cy), grid - 1), min(int(cx), grid - 1))
            area = (x2 - x1) * (y2 - y1)
            if cell not in owner or owner[cell][0] < area:
                owner[cell] = (area, cx - cell[1], cy - cell[0], math.log((x2 - x1) / 16),
                               math.log((y2 - y1) / 16), int(labels[b][k]))
        for i in range(grid):
            for j in range(grid):
                o = output[b, :, i, j].tolist()
                p = 1 / (1 + math.exp(-o[0]))
                if (i, j) in owner:
                    _, tx, ty, tw, th, c = owner[(i, j)]
                    sx, sy = 1 / (1 + math.exp(-o[1])), 1 / (1 + math.exp(-o[2]))
                    z = o[5:]
                    ce = math.log(sum(math.exp(v) for v in z)) - z[c]
                    total += -math.log(p) + ce + box_weight * (
                        (sx - tx) ** 2 + (sy - ty) ** 2 + (o[3] - tw) ** 2 + (o[4] - th) ** 2)
                else:
                    total += -math.log(1 - p)
    return total / n


@pytest.mark.parametrize("seed", range(3))
def test_detection_loss_is_the_yolo_sum_and_has_the_right_gradient(seed):
    g = torch.Generator().manual_seed(seed)
    boxes = [random_boxes(int(torch.randint(0, 5, (), generator=g)), g, scale=40.0, min_size=2.0)
             for _ in range(3)]
    labels = [torch.randint(0, 10, (len(b),), generator=g) for b in boxes]
    targets = encode_targets(boxes, labels, grid=8)
    output = torch.randn(3, 15, 8, 8, generator=g, dtype=torch.float64)
    loss = detection_loss(output, {k: v.double() if v.is_floating_point() else v
                                   for k, v in targets.items()})
    assert loss.item() == pytest.approx(loss_by_definition(output, boxes, labels), rel=1e-6)
    small = output[:1, :, :3, :3].clone().requires_grad_(True)
    cut = {"obj": targets["obj"][:1, :3, :3].double(), "box": targets["box"][:1, :, :3, :3].double(),
           "cls": targets["cls"][:1, :3, :3]}
    assert torch.autograd.gradcheck(lambda o: detection_loss(o, cut), (small,), eps=1e-6,
                                    atol=1e-6)


def test_training_step_reads_no_tensor_values():
    """Forward, loss and backward run on meta tensors (no data): no host-device sync on a GPU."""
    model = GridDetector(channels=(4, 8, 8)).to("meta")
    out = model(torch.empty(2, 1, 64, 64, device="meta"))
    targets = {"obj": torch.empty(2, 8, 8, device="meta"),
               "box": torch.empty(2, 4, 8, 8, device="meta"),
               "cls": torch.empty(2, 8, 8, dtype=torch.int64, device="meta")}
    loss = detection_loss(out, targets)
    loss.backward()
    assert loss.shape == () and model.head.weight.grad.shape == model.head.weight.shape
