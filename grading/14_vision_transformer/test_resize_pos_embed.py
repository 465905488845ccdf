"""Graded tests of 14-resize-pos-embed: a position table (num_prefix + gh*gw, D) resized to a
new grid by bilinear interpolation (half-pixel centres, as F.interpolate with
align_corners=False), prefix rows kept, on random grids (up, down, non-square, unchanged),
dtype kept, input unchanged. Returning the table unchanged scores 0 (tests/grading/test_ch14_shortcuts.py)."""
import torch

from nblib.exercises.ch14 import bilinear_by_definition
from nblib.grading import assert_close, assert_inputs_unchanged, question

FORBIDDEN = {"14-resize-pos-embed": ["nblib", "getattr", "eval", "exec", "__import__"]}


def _grid(rng):
    return tuple(int(torch.randint(1, 7, (), generator=rng)) for _ in range(2))


def _problem(rng, dtype=torch.float64, min_prefix=0):
    old, new = _grid(rng), _grid(rng)
    while new == old:
        new = _grid(rng)
    prefix = int(torch.randint(min_prefix, 3, (), generator=rng))
    D = int(torch.randint(1, 9, (), generator=rng))
    pos = torch.randn(prefix + old[0] * old[1], D, dtype=dtype, generator=rng)
    return pos, old, new, prefix


def _want(pos, old, new, prefix):
    grid = bilinear_by_definition(pos[prefix:].reshape(*old, -1), *new)
    return torch.cat([pos[:prefix], grid.reshape(new[0] * new[1], -1)])


@question("14-resize-pos-embed", points=1)
def test_bilinear_on_random_grids(student, reference, rng):
    for _ in range(4):
        pos, old, new, prefix = _problem(rng)
        got = student.resize_pos_embed(pos, list(old), list(new), prefix)
        assert_close(got, _want(pos, old, new, prefix), rtol=1e-10, atol=1e-12)
        assert_close(got, reference.resize_pos_embed(pos, list(old), list(new), prefix),
                     rtol=1e-10, atol=1e-12)


@question("14-resize-pos-embed", points=1)
def test_prefix_kept_same_grid_dtype_and_input_unchanged(student, rng):
    pos, old, new, prefix = _problem(rng, dtype=torch.float32, min_prefix=1)
    got = student.resize_pos_embed(pos, list(old), list(new), prefix)
    assert_inputs_unchanged(student, (pos, list(old), list(new), prefix))
    assert_close(got, _want(pos, old, new, prefix), rtol=1e-5, atol=1e-6, check_dtype=True)
    assert_close(got[:prefix], pos[:prefix], rtol=0, atol=0)
    same = student.resize_pos_embed(pos, list(old), list(old), prefix)   # nothing to resize
    assert_close(same, pos, rtol=1e-6, atol=1e-6)
