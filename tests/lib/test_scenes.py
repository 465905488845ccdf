"""Specification of nblib.data.scenes (detection scenes of real digits, patch label maps) and of
nblib.detection_metrics (mAP equal to pycocotools' COCOeval on the same detections)."""
import numpy as np
import pytest
import torch

from nblib.data.scenes import BACKGROUND, INK, Scene, make_scenes, patch_labels
from nblib.detection_metrics import (average_precision, coco_map, match_detections,
                                     mean_average_precision, precision_recall)


@pytest.fixture(scope="module")
def scenes():
    return make_scenes(40, "train", seed=5)


# ------------------------------------------------------------------------------ scenes
def test_scenes_have_documented_shapes_and_types(scenes):
    assert len(scenes) == 40 and scenes.images.shape == (40, 1, 64, 64)
    assert scenes.images.dtype == torch.float32 and scenes.instances.dtype == torch.int64
    assert 0 <= scenes.images.min() and scenes.images.max() <= 1
    for boxes, labels in zip(scenes.boxes, scenes.labels):
        assert boxes.dtype == torch.float32 and boxes.shape == (len(labels), 4)
        assert labels.dtype == torch.int64 and 1 <= len(labels) <= 4
        assert ((labels >= 0) & (labels < 10)).all()
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
        assert (boxes >= 0).all() and (boxes <= 64).all()
    assert isinstance(scenes[3], Scene) and torch.equal(scenes[3].image, scenes.images[3])
    assert "n=40" in repr(scenes)


def test_boxes_are_tight_to_each_digits_ink(scenes):
    for i in range(len(scenes)):
        scene = scenes[i]
        for d, box in enumerate(scene.boxes.long().tolist()):
            x1, y1, x2, y2 = box
            mine = scene.instances == d
            if mine.any():  # every visible ink pixel of the digit lies inside its box
                rows, cols = mine.nonzero(as_tuple=True)
                assert x1 <= cols.min() and cols.max() < x2 and y1 <= rows.min() and rows.max() < y2
            # each edge row/column of the box holds ink (of this digit or one on top of it)
            ink = scene.image[0] > INK
            assert ink[y1:y2, x1].any() and ink[y1:y2, x2 - 1].any()
            assert ink[y1, x1:x2].any() and ink[y2 - 1, x1:x2].any()


def test_scenes_are_deterministic_and_follow_the_seed():
    a, b, c = (make_scenes(6, "test", seed=s) for s in (1, 1, 2))
    assert torch.equal(a.images, b.images) and all(torch.equal(x, y) for x, y in zip(a.boxes, b.boxes))
    assert not torch.equal(a.images, c.images)


def ink_crop(image):
    """The part of a digit image inside the tight box of its ink."""
    rows, cols = (image > INK).any(1).nonzero()[:, 0], (image > INK).any(0).nonzero()[:, 0]
    return image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def test_train_and_test_scenes_use_their_own_digits():
    from nblib.data.scenes import _digits
    pools = {split: [ink_crop(img) for img in _digits(split)[0]] for split in ("train", "test")}
    # one digit at its natural size 28 per scene: the box shows the digit's own pixels
    for split, other in (("test", "train"), ("train", "test")):
        one = make_scenes(4, split, seed=0, digits=(1, 1), scale=(28, 28))
        for i in range(4):
            x1, y1, x2, y2 = one.boxes[i][0].long().tolist()
            crop = one.images[i, 0, y1:y2, x1:x2]

            def found(pool):
                return any(c.shape == crop.shape and torch.allclose(c, crop, atol=1e-4)
                           for c in pool)
            assert found(pools[split]) and not found(pools[other])


def test_overlap_between_digits_is_bounded_by_max_iou():
    from nblib.nn.detection import box_iou
    s = make_scenes(30, "val", seed=0, digits=(4, 4), max_iou=0.1)
    for boxes in s.boxes:
        iou = box_iou(boxes, boxes) - torch.eye(len(boxes))
        assert iou.max() <= 0.1 + 1e-6


@pytest.mark.parametrize("kwargs, message", [
    (dict(n=0), "n must be a positive int"),
    (dict(n=2, split="training"), "split must be 'train', 'val' or 'test'"),
    (dict(n=2, digits=(3, 1)), r"digits must be \(min, max\)"),
    (dict(n=2, scale=(10, 80)), r"scale must be \(min, max\) with 4 <= min <= max <= size = 64"),
])
def test_make_scenes_explains_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_scenes(**kwargs)


# -------------------------------------------------------------------------- patch labels
def test_patch_labels_by_hand():
    inst = torch.full((8, 8), -1)
    inst[0:4, 0:4] = 0          # digit 0 fills the top-left square
    inst[0:2, 4:8] = 1          # digit 1 covers half of the top-right square...
    inst[2:3, 4:8] = 0          # ...and digit 0 a quarter of it
    inst[7, 7] = 1              # one pixel of digit 1 in the bottom-right square
    scene = Scene(torch.zeros(1, 8, 8), torch.zeros(2, 4), torch.tensor([3, 8]), inst)
    # one pixel is 1/16 of a square: over the default 5 %, under 10 %
    assert patch_labels(scene, 4).tolist() == [[3, 8], [BACKGROUND, 8]]
    assert patch_labels(scene, 4, min_fraction=0.1).tolist() == [[3, 8],
                                                                [BACKGROUND, BACKGROUND]]
    assert patch_labels(scene, 4, min_fraction=0.6).tolist() == [[3, BACKGROUND],
                                                                [BACKGROUND, BACKGROUND]]
    assert patch_labels(scene, 8, background=-1).tolist() == [[3]]


def test_patch_labels_of_a_batch_equal_those_of_each_scene(scenes):
    maps = patch_labels(scenes, 8)
    assert maps.shape == (40, 8, 8) and maps.dtype == torch.int64
    for i in range(len(scenes)):
        assert torch.equal(maps[i], patch_labels(scenes[i], 8))
        present = set(maps[i].unique().tolist()) - {BACKGROUND}
        assert present <= set(scenes.labels[i].tolist())
    assert (maps != BACKGROUND).float().mean() > 0.1


def test_patch_labels_explains_bad_patch(scenes):
    with pytest.raises(ValueError, match="patch = 7 must divide the canvas side 64"):
        patch_labels(scenes, 7)
    with pytest.raises(TypeError, match="Scene or Scenes"):
        patch_labels(scenes.images, 8)


# ------------------------------------------------------------------ mAP against pycocotools
def random_detection_problem(seed, n_images=25, n_classes=4):
    g = torch.Generator().manual_seed(seed)

    def boxes(k):
        xy = torch.rand(k, 2, generator=g, dtype=torch.float64) * 50
        return torch.cat([xy, xy + 1 + torch.rand(k, 2, generator=g, dtype=torch.float64) * 20], 1)

    dets, targets = [], []
    for _ in range(n_images):
        k, m = (int(torch.randint(0, hi, (), generator=g)) for hi in (5, 8))
        gt, gl = boxes(k), torch.randint(0, n_classes, (k,), generator=g)
        near = gt + torch.randn(k, 4, generator=g, dtype=torch.float64) * 2
        near = torch.cat([near[:, :2], torch.maximum(near[:, 2:], near[:, :2])], 1)
        wrong = torch.randint(0, n_classes, (k,), generator=g)
        dl = torch.cat([torch.where(torch.rand(k, generator=g) < 0.7, gl, wrong),
                        torch.randint(0, n_classes, (m,), generator=g)])
        db = torch.cat([near, boxes(m)])
        dets.append({"boxes": db, "labels": dl,
                     "scores": torch.rand(k + m, generator=g, dtype=torch.float64)})
        targets.append({"boxes": gt, "labels": gl})
    return dets, targets


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("iou_threshold", [0.5, 0.75])
def test_our_map_equals_pycocotools_on_random_detections(seed, iou_threshold):
    dets, targets = random_detection_problem(seed)
    ours = mean_average_precision(dets, targets, 4, iou_threshold=iou_threshold).map
    theirs = coco_map(dets, targets, 4, iou_threshold=iou_threshold)
    assert 0 < ours < 1
    assert ours == pytest.approx(theirs, abs=1e-9)


def test_map_equals_pycocotools_with_a_cap_on_detections_and_classes_without_any():
    dets, targets = random_detection_problem(11, n_classes=6)
    for t in targets:  # class 5 never occurs in the ground truth: left out of the mean
        keep = t["labels"] != 5
        t["boxes"], t["labels"] = t["boxes"][keep], t["labels"][keep]
    result = mean_average_precision(dets, targets, 6, max_dets=2)
    assert np.isnan(result.ap[5]) and not np.isnan(result.ap[:5]).any()
    assert result.map == pytest.approx(coco_map(dets, targets, 6, max_dets=2), abs=1e-9)


def test_perfect_detections_score_one_and_misses_lower_recall():
    targets = [{"boxes": torch.tensor([[0.0, 0, 10, 10], [20.0, 20, 30, 30]]),
                "labels": torch.tensor([0, 1])}]
    perfect = [{"boxes": targets[0]["boxes"], "scores": torch.tensor([0.9, 0.8]),
                "labels": targets[0]["labels"]}]
    assert mean_average_precision(perfect, targets, 2).map == pytest.approx(1.0)
    assert coco_map(perfect, targets, 2) == pytest.approx(1.0)
    none = [{"boxes": torch.zeros(0, 4), "scores": torch.zeros(0),
             "labels": torch.zeros(0, dtype=torch.int64)}]
    assert mean_average_precision(none, targets, 2).map == 0.0 == coco_map(none, targets, 2)


def test_duplicate_detections_are_false_positives():
    gt = torch.tensor([[0.0, 0, 10, 10]])
    dup = torch.tensor([[0.0, 0, 10, 10], [0.5, 0, 10, 10]])
    scores, tp = match_detections(dup, torch.tensor([0.6, 0.9], dtype=torch.float64), gt)
    assert scores.tolist() == [0.9, 0.6] and tp.tolist() == [True, False]


def test_average_precision_uses_101_point_interpolation():
    # TP, FP, TP with 2 ground truths: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1
    precision, recall = precision_recall([0.9, 0.8, 0.7], [True, False, True], 2)
    assert precision == pytest.approx([1, 0.5, 2 / 3]) and recall.tolist() == [0.5, 0.5, 1.0]
    # envelope: 1 for r <= 0.5 (51 points), 2/3 for 0.5 < r <= 1 (50 points)
    assert average_precision([0.9, 0.8, 0.7], [True, False, True], 2) == \
        pytest.approx((51 * 1 + 50 * 2 / 3) / 101)
    # half the ground truth never found: recall stops at 1/2
    assert average_precision([0.9], [True], 2) == pytest.approx(51 / 101)
    with pytest.raises(ValueError, match="at least one ground-truth box"):
        average_precision([0.5], [False], 0)
