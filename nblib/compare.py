"""Describing and comparing values: one line per value, one reason per mismatch.

Shared by the learner's public checks (:mod:`nblib.exercises`) and the instructor's graded tests
(:func:`nblib.grading.assert_close`), so both explain a wrong answer in the same words.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

__all__ = ["compare", "describe", "as_tensor"]


def _fmt_num(v: Any) -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _values(t: torch.Tensor, k: int = 6) -> str:
    flat = t.detach().reshape(-1)
    n = flat.numel()
    if n == 0:
        return "[]"
    vals = flat.tolist() if n <= k else flat[: k - 1].tolist() + [flat[-1].item()]
    parts = [_fmt_num(v) for v in vals]
    if n > k:
        parts.insert(k - 1, "...")
    return "[" + ", ".join(parts) + "]"


def describe(x: Any) -> str:
    """One line saying what ``x`` is: type, shape, dtype and a few values."""
    if x is None:
        return "None (did the function forget to `return`?)"
    if isinstance(x, torch.Tensor):
        if x.layout != torch.strided:
            return f"a {x.layout} tensor of shape {tuple(x.shape)}, dtype {x.dtype}"
        return f"tensor, shape {tuple(x.shape)}, dtype {x.dtype}, values {_values(x)}"
    if isinstance(x, np.ndarray):
        vals = _values(torch.from_numpy(np.ascontiguousarray(x))) if x.dtype.kind in "biuf" else repr(x)[:80]
        return f"numpy array, shape {x.shape}, dtype {x.dtype}, values {vals}"
    if isinstance(x, (bool, int, float, np.generic)):
        return f"{type(x).__name__} {_fmt_num(x.item() if isinstance(x, np.generic) else x)}"
    if isinstance(x, str):
        return f"str {x[:80]!r}" + ("..." if len(x) > 80 else "")
    if isinstance(x, (list, tuple)):
        r = repr(x)
        return f"{type(x).__name__} of length {len(x)}: {r[:100]}" + ("..." if len(r) > 100 else "")
    if isinstance(x, dict):
        keys = list(x)[:8]
        return f"dict with keys {keys}" + ("..." if len(x) > 8 else "")
    r = repr(x)
    return f"{type(x).__name__} {r[:80]}"


def as_tensor(x: Any) -> torch.Tensor | None:
    if isinstance(x, torch.Tensor):
        return x.detach()
    if isinstance(x, np.ndarray) and x.dtype.kind in "biuf":
        return torch.from_numpy(np.ascontiguousarray(x))
    return None


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def _compare_tensors(a: torch.Tensor, e: torch.Tensor, rtol: float, atol: float,
                     check_dtype: bool, where: str) -> list[str]:
    if tuple(a.shape) != tuple(e.shape):
        return [f"{where}shape {tuple(a.shape)} was received, shape {tuple(e.shape)} was expected"]
    if check_dtype and a.dtype != e.dtype:
        return [f"{where}dtype {a.dtype} was received, dtype {e.dtype} was expected"]
    if a.dtype.is_complex or e.dtype.is_complex:
        ok = torch.allclose(a.to("cpu", torch.complex128), e.to("cpu", torch.complex128), rtol=rtol, atol=atol,
                            equal_nan=True)
        return [] if ok else [f"{where}complex values differ"]
    exact = not (a.dtype.is_floating_point or e.dtype.is_floating_point)
    # On the CPU: a result computed on CUDA must compare with expected values built on the CPU.
    a64, e64 = a.to("cpu", torch.float64), e.to("cpu", torch.float64)
    if exact:
        bad = a64 != e64
    else:
        bad = ~torch.isclose(a64, e64, rtol=rtol, atol=atol, equal_nan=True)
    if not bool(bad.any()):
        return []
    diff = (a64 - e64).abs()
    diff = torch.where(bad, torch.nan_to_num(diff, nan=math.inf), torch.zeros_like(diff))
    flat = int(diff.reshape(-1).argmax())
    idx = tuple(int(i) for i in np.unravel_index(flat, tuple(a.shape))) if a.dim() else ()
    tol = "exact equality" if exact else f"rtol={rtol:g}, atol={atol:g}"
    return [f"{where}{int(bad.sum())} of {a.numel()} values differ ({tol}); "
            f"largest |difference| {_fmt_num(float(diff.reshape(-1)[flat]))} at index {idx}: "
            f"received {_fmt_num(a.reshape(-1)[flat].item())}, expected {_fmt_num(e.reshape(-1)[flat].item())}"]


def compare(actual: Any, expected: Any, rtol: float = 1e-5, atol: float = 1e-8,
            check_dtype: bool = False, _where: str = "") -> list[str]:
    """Differences between ``actual`` and ``expected`` as readable lines; ``[]`` if they agree.

    Tensors and numpy arrays: same shape, values within ``rtol``/``atol`` (NaN equals NaN;
    integer and bool tensors exactly), same dtype only if ``check_dtype``. Numbers: within
    tolerance (a 1-element tensor counts as a number). Lists/tuples (interchangeable) and
    dicts: compared element by element. Strings, bools and None: equal.
    """
    where = f"at {_where}: " if _where else ""
    e_t = as_tensor(expected)
    if e_t is not None:
        a_t = as_tensor(actual)
        if a_t is None and _is_number(actual) and e_t.numel() == 1:
            a_t = torch.tensor(float(actual)).reshape(e_t.shape)
        if a_t is None:
            return [f"{where}expected a tensor, received {describe(actual)}"]
        return _compare_tensors(a_t, e_t, rtol, atol, check_dtype, where)
    if isinstance(expected, (bool, np.bool_)):
        a = actual
        if isinstance(a, torch.Tensor) and a.numel() == 1 and a.dtype == torch.bool:
            a = bool(a.item())
        if isinstance(a, (bool, np.bool_)) and bool(a) == bool(expected):
            return []
        return [f"{where}expected {bool(expected)}, received {describe(actual)}"]
    if _is_number(expected):
        a = actual
        if isinstance(a, torch.Tensor) and a.numel() == 1:
            a = a.item()
        if isinstance(a, np.ndarray) and a.size == 1:
            a = a.item()
        if not _is_number(a):
            return [f"{where}expected a number ({_fmt_num(expected)}), received {describe(actual)}"]
        a, e = float(a), float(expected)
        if (math.isnan(a) and math.isnan(e)) or math.isclose(a, e, rel_tol=rtol, abs_tol=atol) or a == e:
            return []
        return [f"{where}received {_fmt_num(a)}, expected {_fmt_num(e)} (|difference| {_fmt_num(abs(a - e))})"]
    if expected is None or isinstance(expected, str):
        if type(actual) is type(expected) and actual == expected:
            return []
        return [f"{where}expected {describe(expected)}, received {describe(actual)}"]
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)):
            return [f"{where}expected a {type(expected).__name__} of length {len(expected)}, received {describe(actual)}"]
        if len(actual) != len(expected):
            return [f"{where}expected a {type(expected).__name__} of length {len(expected)}, "
                    f"received one of length {len(actual)}"]
        out: list[str] = []
        for i, (a, e) in enumerate(zip(actual, expected)):
            out += compare(a, e, rtol, atol, check_dtype, f"{_where}[{i}]")
            if len(out) >= 3:
                break
        return out
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}expected a dict with keys {sorted(map(str, expected))}, received {describe(actual)}"]
        if set(actual) != set(expected):
            missing = sorted(set(expected) - set(actual), key=repr)
            extra = sorted(set(actual) - set(expected), key=repr)
            return [f"{where}dict keys differ: missing {missing}, unexpected {extra}"]
        out = []
        for k in expected:
            out += compare(actual[k], expected[k], rtol, atol, check_dtype, f"{_where}[{k!r}]")
            if len(out) >= 3:
                break
        return out
    return [] if actual == expected else [f"{where}expected {describe(expected)}, received {describe(actual)}"]
