"""Specification of nblib.validate: every error names what was expected and what was received."""
import re

import numpy as np
import pytest
import torch

from nblib import validate


def test_tensor_returns_its_argument_and_names_type_dtype_shape_and_device():
    x = torch.zeros(3, 4)
    assert validate.tensor("x", x, floating=True, shape=("N", 4), device="cpu") is x
    with pytest.raises(TypeError, match=r"^x needs a torch.Tensor of shape \(N, 4\), got list; wrap it"):
        validate.tensor("x", [1.0], shape=("N", 4))
    with pytest.raises(TypeError, match=r"^x needs a floating-point tensor, got torch.int64; convert"):
        validate.tensor("x", torch.zeros(2, dtype=torch.int64), floating=True)
    with pytest.raises(TypeError, match=r"^x needs an integer tensor, got torch.bool"):
        validate.tensor("x", torch.zeros(2, dtype=torch.bool), floating=False)
    with pytest.raises(TypeError, match=r"^x needs a float64 tensor, got torch.float32: why$"):
        validate.tensor("x", x, dtype=torch.float64, hint=": why")
    with pytest.raises(ValueError, match=r"^x must have 3 dimensions, got shape \(3, 4\)$"):
        validate.tensor("x", x, ndim=3)
    with pytest.raises(ValueError, match=r"^x must be on meta, got a tensor on cpu"):
        validate.tensor("x", x, device="meta")


@pytest.mark.parametrize("shape, expected, ok", [
    ((5, 2), ("n", 2), True), ((5, 3), ("n", 2), False), ((2,), (..., 2), True),
    ((4, 5, 2), (..., 2), True), ((), (..., 2), False), ((3,), (3,), True), ((3, 1), (3,), False)])
def test_shapes_match_ints_exactly_names_anything_and_ellipsis_leading_dims(shape, expected, ok):
    a = np.zeros(shape)
    if ok:
        assert validate.array("a", a, shape=expected) is a
    else:
        with pytest.raises(ValueError, match=rf"^a must have shape .*, got {re.escape(str(shape))}"):
            validate.array("a", a, shape=expected)


def test_a_missing_batch_dimension_gets_a_hint():
    with pytest.raises(ValueError, match=r"^x must have shape \(N, 4\), got \(4,\); a single example\? .*unsqueeze\(0\)"):
        validate.tensor("x", torch.zeros(4), shape=("N", 4))


def test_same_shape_and_class_indices():
    with pytest.raises(ValueError, match=r"^a and b must have the same shape, got \(4, 1\) and \(4,\)!$"):
        validate.same_shape("a and b", torch.zeros(4, 1), torch.zeros(4), "!")
    t = torch.tensor([0, 2, 1])
    assert validate.class_indices("t", t, 3, 3) is t
    assert validate.class_indices("t", t.int(), 3, 3, dtype=None) is not None  # any integer dtype
    with pytest.raises(TypeError, match=r"^t needs an int64 tensor, got torch.int32; class indices"):
        validate.class_indices("t", t.int(), 3, 3)
    with pytest.raises(ValueError, match=r"^t must have shape \(2,\), one class index per row, got \(3,\)"):
        validate.class_indices("t", t, 2, 3)
    with pytest.raises(IndexError, match=r"^t: class index 2 is out of range; with C = 2 classes it must lie in \[0, 1\]"):
        validate.class_indices("t", t, 3, 2)
    # on a device without free reads, only the metadata is checked
    assert validate.class_indices("t", t.to("meta"), 3, 2).device.type == "meta"


def test_choice_integer_number_and_dim_index():
    assert validate.choice("r", "sum", ("mean", "sum")) == "sum"
    with pytest.raises(ValueError, match=r"^r must be 'mean', 'sum' or 'none', got 'avg'$"):
        validate.choice("r", "avg", ("mean", "sum", "none"))
    with pytest.raises(ValueError, match=r"^a must be 'x' \(exact\) or 'y', got 'z'$"):
        validate.choice("a", "z", {"x": "exact", "y": ""})
    assert validate.positive_int("n", 3) == 3
    with pytest.raises(ValueError, match=r"^n must be a positive int, got 0$"):
        validate.positive_int("n", 0)
    with pytest.raises(ValueError, match=r"^n must be an int >= 2, got 1$"):
        validate.integer("n", 1, ge=2)
    with pytest.raises(TypeError, match=r"^n must be an int, got bool"):
        validate.integer("n", True)
    assert validate.number("p", 0.5, ge=0, lt=1) == 0.5
    for value, kwargs, bound in [(1.0, dict(ge=0, lt=1), r"in \[0, 1\)"), (0, dict(gt=0), "> 0"),
                                 (-1, dict(ge=0), ">= 0"), (2, dict(le=1), "<= 1"),
                                 (float("nan"), dict(ge=0), ">= 0")]:
        with pytest.raises(ValueError, match=rf"^p must be {bound}, got {value!r}$"):
            validate.number("p", value, **kwargs)
    with pytest.raises(TypeError, match=r"^p must be a real number, got str \('1'\)$"):
        validate.number("p", "1")
    assert validate.dim_index("dim", -1, torch.zeros(2, 3)) == 1
    with pytest.raises(IndexError, match=r"^dim 2 is out of range for a tensor of shape \(2, 3\)$"):
        validate.dim_index("dim", 2, torch.zeros(2, 3))
