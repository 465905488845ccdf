"""Graded tests of 07-giou: the pairwise generalised IoU (Rezatofighi et al. 2019) of random
boxes, against the reference, including empty sides and float32."""
import torch

from nblib.grading import assert_close, question

FORBIDDEN = {"07-giou": ["torchvision", "nblib", "getattr", "eval", "exec", "__import__"]}


def _boxes(n, rng, dtype=torch.float64):
    xy = torch.rand(n, 2, generator=rng, dtype=torch.float64) * 40 - 10
    wh = 0.5 + torch.rand(n, 2, generator=rng, dtype=torch.float64) * 25
    return torch.cat([xy, xy + wh], 1).to(dtype)


@question("07-giou", points=1)
def test_random_boxes_match_the_reference(student, reference, rng):
    for _ in range(3):
        n, m = (int(torch.randint(1, 12, (), generator=rng)) for _ in range(2))
        a, b = _boxes(n, rng), _boxes(m, rng)
        out = student.generalized_box_iou(a, b)
        assert_close(out, reference.generalized_box_iou(a, b), rtol=1e-9, atol=1e-12,
                     check_dtype=True)
        assert bool((out <= 1 + 1e-12).all() and (out >= -1 - 1e-12).all()), "GIoU lies in [-1, 1]"


@question("07-giou", points=1)
def test_empty_sides_nested_boxes_and_float32(student, reference, rng):
    a = _boxes(int(torch.randint(1, 6, (), generator=rng)), rng)
    assert tuple(torch.as_tensor(student.generalized_box_iou(a, a[:0])).shape) == (len(a), 0)
    assert tuple(torch.as_tensor(student.generalized_box_iou(a[:0], a)).shape) == (0, len(a))
    # a box inside another: the enclosing box is the outer one, GIoU = IoU
    inner = torch.cat([a[:, :2] + 0.1, a[:, 2:] - 0.1], 1)
    assert_close(student.generalized_box_iou(a, inner), reference.generalized_box_iou(a, inner),
                 rtol=1e-9, atol=1e-12)
    a32, b32 = _boxes(5, rng, torch.float32), _boxes(4, rng, torch.float32)
    assert_close(student.generalized_box_iou(a32, b32), reference.generalized_box_iou(a32, b32),
                 rtol=1e-4, atol=1e-5, check_dtype=True)
