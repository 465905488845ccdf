"""Step 3 of grading, the wire: JSON lines between the grader and the sandbox, no pickle.

Both ends use it: :mod:`~nblib.grading.sandbox` (grader side) and
:mod:`~nblib.grading.server` (sandbox side); the reference's arguments and results make the
same round trip (:func:`roundtrip`), so tests see both sides alike.

One message is one line of JSON (UTF-8), at most ``MAX_MESSAGE`` bytes. Values travel as:

- ``None``, ``bool``, ``int``, ``str``, finite ``float``: themselves;
- non-finite float: ``{"$float": "nan" | "inf" | "-inf"}``;
- list: a JSON list; tuple (and ``torch.Size``): ``{"$tuple": [...]}``;
- dict: ``{"$dict": [[key, value], ...]}`` (keys: str, int, float, bool or None);
- tensor: ``{"$tensor": {"dtype": "float64", "shape": [2, 3], "data": "<base64>"}}``, the
  data being the raw little-endian bytes (so values round-trip exactly, NaN included);
- numpy array: ``{"$ndarray": {...}}`` likewise; numpy scalars become Python numbers;
- ``torch.dtype``: ``{"$dtype": "float32"}``.

Anything else is refused (``Unsendable``); a message that breaks the schema, the size
cap, the nesting cap or the element cap is refused on decoding (``ProtocolError``).
"""
from __future__ import annotations

import base64
import json
import math
from typing import Any

import numpy as np
import torch

MAX_MESSAGE = 8 * 2**20  # bytes per message
MAX_DEPTH = 64
MAX_NODES = 200_000
MAX_NUMEL = 2**24

TORCH_DTYPES = {name: getattr(torch, name) for name in (
    "float16", "bfloat16", "float32", "float64", "complex64", "complex128",
    "int8", "int16", "int32", "int64", "uint8", "bool")}
NUMPY_DTYPES = {"float16", "float32", "float64", "complex64", "complex128", "int8", "int16",
                "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool"}
_DTYPE_NAME = {v: k for k, v in TORCH_DTYPES.items()}


class Unsendable(TypeError):
    """A value that the channel cannot carry."""


class ProtocolError(ValueError):
    """A message that is not valid under the channel's schema."""


# ---------------------------------------------------------------------------------------------
def encode(obj: Any, _depth: int = 0) -> Any:
    """Python value -> JSON-able value (see the module docstring)."""
    if _depth > MAX_DEPTH:
        raise Unsendable(f"value nested more than {MAX_DEPTH} levels deep")
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        if math.isfinite(obj):
            return float(obj)
        return {"$float": "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")}
    if isinstance(obj, np.generic) and not isinstance(obj, np.ndarray):
        if isinstance(obj, (np.bool_, np.integer, np.floating)):
            return encode(obj.item(), _depth)
        raise Unsendable(f"numpy scalar of type {type(obj).__name__}")
    if isinstance(obj, torch.Tensor):
        t = obj.detach()
        if t.layout != torch.strided:
            t = t.to_dense()
        t = t.cpu().resolve_conj().resolve_neg().contiguous()
        if t.dtype not in _DTYPE_NAME:
            raise Unsendable(f"tensor of dtype {t.dtype}")
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        return {"$tensor": {"dtype": _DTYPE_NAME[t.dtype], "shape": list(t.shape),
                            "data": base64.b64encode(raw).decode("ascii")}}
    if isinstance(obj, np.ndarray):
        if obj.dtype.name not in NUMPY_DTYPES:
            raise Unsendable(f"numpy array of dtype {obj.dtype}")
        a = np.ascontiguousarray(obj).astype(obj.dtype.newbyteorder("<"), copy=False)
        return {"$ndarray": {"dtype": obj.dtype.name, "shape": list(obj.shape),
                             "data": base64.b64encode(a.tobytes()).decode("ascii")}}
    if isinstance(obj, torch.dtype):
        if obj not in _DTYPE_NAME:
            raise Unsendable(f"dtype {obj}")
        return {"$dtype": _DTYPE_NAME[obj]}
    if isinstance(obj, list):
        return [encode(v, _depth + 1) for v in obj]
    if isinstance(obj, tuple):  # includes torch.Size
        return {"$tuple": [encode(v, _depth + 1) for v in obj]}
    if isinstance(obj, dict):
        for k in obj:
            if not (k is None or isinstance(k, (str, int, float, bool))):
                raise Unsendable(f"dict key of type {type(k).__name__}")
        return {"$dict": [[encode(k, _depth + 1), encode(v, _depth + 1)] for k, v in obj.items()]}
    raise Unsendable(f"a value of type {type(obj).__module__}.{type(obj).__qualname__} cannot be sent "
                     "(allowed: tensors, numpy arrays, numbers, bools, strings, None, lists, tuples, dicts)")


def _decode_array(spec: Any, kind: str) -> Any:
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data"}:
        raise ProtocolError(f"{kind} needs exactly dtype, shape, data")
    dtype, shape, data = spec["dtype"], spec["shape"], spec["data"]
    names = TORCH_DTYPES if kind == "$tensor" else NUMPY_DTYPES
    if not isinstance(dtype, str) or dtype not in names:
        raise ProtocolError(f"{kind}: dtype {dtype!r} not allowed")
    if (not isinstance(shape, list) or len(shape) > 32
            or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_NUMEL for s in shape)):
        raise ProtocolError(f"{kind}: bad shape")
    numel = math.prod(shape)
    if numel > MAX_NUMEL or not isinstance(data, str):
        raise ProtocolError(f"{kind}: too large or bad data")
    try:
        raw = base64.b64decode(data.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise ProtocolError(f"{kind}: data is not base64") from exc
    if kind == "$ndarray":
        np_dtype = np.dtype(dtype).newbyteorder("<")
        if len(raw) != numel * np_dtype.itemsize:
            raise ProtocolError(f"{kind}: {len(raw)} bytes do not fit shape {shape} of {dtype}")
        return np.frombuffer(raw, dtype=np_dtype).astype(np.dtype(dtype)).reshape(shape)
    t_dtype = TORCH_DTYPES[dtype]
    itemsize = torch.empty((), dtype=t_dtype).element_size()
    if len(raw) != numel * itemsize:
        raise ProtocolError(f"{kind}: {len(raw)} bytes do not fit shape {shape} of {dtype}")
    if numel == 0:
        return torch.empty(shape, dtype=t_dtype)
    return torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(t_dtype).reshape(shape).clone()


def decode(obj: Any, _depth: int = 0, _count: list | None = None) -> Any:
    """JSON value -> Python value; raises ``ProtocolError`` on anything off-schema."""
    count = _count if _count is not None else [0]
    count[0] += 1
    if count[0] > MAX_NODES or _depth > MAX_DEPTH:
        raise ProtocolError("value too large or nested too deeply")
    if obj is None or isinstance(obj, (bool, str, int)):
        return obj
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ProtocolError("bare non-finite float")
        return obj
    if isinstance(obj, list):
        return [decode(v, _depth + 1, count) for v in obj]
    if not isinstance(obj, dict) or len(obj) != 1:
        raise ProtocolError("objects must have exactly one $-key")
    (key, val), = obj.items()
    if key == "$float":
        if val not in ("nan", "inf", "-inf"):
            raise ProtocolError("bad $float")
        return float(val)
    if key == "$tuple":
        if not isinstance(val, list):
            raise ProtocolError("bad $tuple")
        return tuple(decode(v, _depth + 1, count) for v in val)
    if key == "$dict":
        if not isinstance(val, list) or not all(isinstance(p, list) and len(p) == 2 for p in val):
            raise ProtocolError("bad $dict")
        out = {}
        for k, v in val:
            k = decode(k, _depth + 1, count)
            if not (k is None or isinstance(k, (str, int, float, bool))):
                raise ProtocolError("bad $dict key")
            out[k] = decode(v, _depth + 1, count)
        return out
    if key in ("$tensor", "$ndarray"):
        return _decode_array(val, key)
    if key == "$dtype":
        if val not in TORCH_DTYPES:
            raise ProtocolError("bad $dtype")
        return TORCH_DTYPES[val]
    raise ProtocolError(f"unknown key {key!r}")


def dumps(message: dict) -> bytes:
    """A message (already encoded) -> one line of bytes; ``Unsendable`` if over the cap."""
    line = json.dumps(message, allow_nan=False, separators=(",", ":")).encode("utf-8") + b"\n"
    if len(line) > MAX_MESSAGE:
        raise Unsendable(f"message of {len(line)} bytes exceeds the {MAX_MESSAGE} byte cap")
    return line


def _no_constants(name: str) -> Any:
    raise ProtocolError(f"bare {name} not allowed")


def loads(line: bytes) -> dict:
    """One line of bytes -> message dict (values still encoded); ``ProtocolError`` if invalid."""
    if len(line) > MAX_MESSAGE:
        raise ProtocolError("message over the size cap")
    try:
        msg = json.loads(line.decode("utf-8"), parse_constant=_no_constants)
    except ProtocolError:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ProtocolError(f"not valid JSON: {type(exc).__name__}") from None
    if not isinstance(msg, dict):
        raise ProtocolError("a message must be a JSON object")
    return msg


def roundtrip(obj: Any) -> Any:
    """``decode(encode(obj))``: what the other side of the channel would see."""
    return decode(loads(dumps({"v": encode(obj)}))["v"])
