"""`Stepper`: a step-by-step animation whose every frame is computed in Python up front.

The widget's state holds the whole animation (a list of JSON frames), and its JavaScript
(`stepper.js`) draws the current frame and does Prev / Next / Play / slider / arrow keys in the
browser. No kernel round-trip is needed, so a stepper keeps working in the static book, where
the page only has the widget state that was saved when the chapter was executed.

Frame formats, one per ``renderer`` (every key optional unless marked):

``'graph'``  -- a computation graph drawn as boxes and arrows::

    {"nodes": [{"id": "n0", "name": "a", "op": "", "x": 0, "y": 0,    # id, x, y required;
                "value": 2.0, "grad": None, "expr": "a = 2"}],         # x, y in grid units
     "edges": [{"id": "e0", "source": "n0", "target": "n2"}],
     "active_nodes": ["n2"], "active_edges": ["e0"],                   # highlighted this step
     "caption": "...", "rule": "d(a*b)/da = b", "phase": "forward"}

``'matrix'`` -- one or more heatmaps side by side::

    {"matrices": [{"name": "W", "data": [[1, 2], [3, 4]], "highlight": [[0, 1]],
                   "row_labels": [...], "col_labels": [...]}], "caption": "..."}
    # or the shorthand {"matrix": [[...]], "highlight": [[i, j]], "name": "W"}

``'bars'`` -- one or more vectors as bar charts::

    {"vectors": [{"name": "p", "values": [0.1, 0.7, 0.2], "labels": ["a", "b", "c"],
                  "highlight": [1]}], "caption": "..."}
    # or the shorthand {"values": [...], "labels": [...], "highlight": [i]}

``'attention'`` -- one query's attention (nblib.widgets.attention builds these)::

    {"keys": ["the", "cat"], "query": {"label": "cat", "vector": [0.1, -2]},
     "key_vectors": [[...], [...]], "key_name": "k",
     "columns": [{"name": "q·k", "values": [1.5, None]},          # None: not computed yet
                 {"name": "softmax", "values": [0.8, 0.2], "bars": True}],
     "active_column": 0, "values": {"name": "v", "rows": [[...], [...]]},
     "output": {"name": "Σ w·v", "values": [...]},
     "heads": {"labels": ["head 1", "head 2"], "current": 0, "steps": [0, 5]},
     "queries": {"labels": ["the", "cat"], "current": 1, "steps": [0, 5]}}
    # a str value is written as is ("−∞"); a selector button jumps to the frame in "steps"
    # optional "image": {"height", "width", "patch", "pixels" (hex), "key_patches",
    #   "query_key", "query_patch", "shade"}: the keys drawn as patches of an image

Every frame may have ``"caption"`` (announced to screen readers when the step changes),
``"rule"`` (shown in monospace under the drawing) and ``"label"`` (a short step title).

Where it runs: JupyterLab 4, Notebook 7, VS Code and the static book (from saved widget
state). On Google Colab, third-party widgets need Colab's custom widget manager; anywidget
turns it on by itself, and if a stepper stays blank run once::

    from google.colab import output
    output.enable_custom_widget_manager()
"""
from __future__ import annotations

import json
import math
import numbers
import pathlib
from typing import Any, Iterable

import anywidget
import traitlets

__all__ = ["Stepper", "jsonable", "validate_frames", "RENDERERS", "MAX_JSON_BYTES"]

RENDERERS = ("graph", "matrix", "bars", "attention", "chain")
MAX_JSON_BYTES = 2_000_000  # the whole animation lives in the page: keep every stepper small

_HERE = pathlib.Path(__file__).parent


def _type_name(x: object) -> str:
    t = type(x)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def jsonable(x: Any, ndigits: int | None = None) -> Any:
    """``x`` as plain JSON data: tensors and numpy arrays become (nested) lists of floats.

    Dicts, lists and tuples are converted recursively; numpy/torch scalars become Python
    numbers. With ``ndigits``, floats are rounded (smaller pages). Anything else is returned
    unchanged, for :func:`validate_frames` to reject with a clear message.
    """
    if isinstance(x, dict):
        return {k: jsonable(v, ndigits) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v, ndigits) for v in x]
    if hasattr(x, "detach") and hasattr(x, "tolist"):  # torch.Tensor, without importing torch
        x = x.detach().cpu().tolist()
        return jsonable(x, ndigits)
    if type(x).__module__ == "numpy" and hasattr(x, "tolist"):  # ndarray and numpy scalars
        return jsonable(x.tolist(), ndigits)
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return x
    if isinstance(x, numbers.Integral):
        return int(x)
    if isinstance(x, numbers.Real):
        x = float(x)
        return round(x, ndigits) if ndigits is not None and math.isfinite(x) else x
    return x


def _check_value(value: Any, where: str, frame: int) -> None:
    """Raise if ``value`` (at key path ``where`` of frame ``frame``) is not plain, finite JSON."""
    if value is None or isinstance(value, (bool, str, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(
                f"frame {frame}, key {where!r}: {value!r} is not valid JSON "
                f"(NaN and infinity cannot be shown); replace it with None or a finite number"
            )
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_value(item, f"{where}[{i}]", frame)
        return
    if isinstance(value, dict):
        for k, item in value.items():
            if not isinstance(k, str):
                raise TypeError(
                    f"frame {frame}, key {where!r}: dict keys must be str, got {_type_name(k)} {k!r}"
                )
            _check_value(item, f"{where}.{k}", frame)
        return
    raise TypeError(
        f"frame {frame}, key {where!r}: {_type_name(value)} is not JSON-serialisable; "
        f"convert tensors and numpy arrays with nblib.widgets.jsonable() first"
    )


def validate_frames(frames: Any, max_bytes: int = MAX_JSON_BYTES) -> list[dict]:
    """Check that ``frames`` is a non-empty list of dicts of finite JSON values within the budget.

    Returns a fresh copy (tuples become lists), so later changes to the caller's objects do not
    leak into the widget. Raises TypeError / ValueError naming the frame index and key.
    """
    if not isinstance(frames, (list, tuple)):
        raise TypeError(f"frames must be a list of dicts, got {_type_name(frames)}")
    if len(frames) == 0:
        raise ValueError("frames must not be empty: a stepper needs at least one frame")
    for i, frame in enumerate(frames):
        if not isinstance(frame, dict):
            raise TypeError(f"frame {i} must be a dict, got {_type_name(frame)}")
        for key, value in frame.items():
            if not isinstance(key, str):
                raise TypeError(f"frame {i}: keys must be str, got {_type_name(key)} {key!r}")
            _check_value(value, key, i)
    text = json.dumps(list(frames), separators=(",", ":"), allow_nan=False)
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise ValueError(
            f"frames are {size:,} bytes of JSON, over the budget of {max_bytes:,} bytes: "
            f"use fewer or smaller frames, or round numbers with jsonable(x, ndigits=3)"
        )
    return json.loads(text)


class Stepper(anywidget.AnyWidget):
    """Show precomputed frames one step at a time: Prev / Next / Play, a slider, arrow keys.

    ``Stepper(frames, renderer='graph' | 'matrix' | 'bars', title='')``; see the module
    docstring for each renderer's frame format. Subclasses only build frames and pick a
    renderer. ``step`` is synced, so the step a reader (or the code) chose is kept in the saved
    notebook and in the static book. On Colab, if nothing shows, run
    ``from google.colab import output; output.enable_custom_widget_manager()``.
    """

    _esm = _HERE / "stepper.js"
    _css = _HERE / "stepper.css"

    frames = traitlets.List().tag(sync=True)  # checked by validate_frames, with clear messages
    renderer = traitlets.Unicode("graph").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    step = traitlets.Int(0).tag(sync=True)
    interval = traitlets.Int(900).tag(sync=True)  # milliseconds per step when playing

    max_json_bytes: int = MAX_JSON_BYTES

    def __init__(self, frames: Iterable[dict], renderer: str = "graph", title: str = "",
                 step: int = 0, interval: int = 900, **kwargs: Any) -> None:
        if not isinstance(frames, (list, tuple, dict, str)) and hasattr(frames, "__iter__"):
            frames = list(frames)  # a generator of frames
        frames = validate_frames(frames, self.max_json_bytes)  # clear errors before traitlets'
        super().__init__(frames=frames, renderer=renderer, title=title, step=step,
                         interval=interval, **kwargs)

    @traitlets.validate("frames")
    def _validate_frames(self, proposal):
        return validate_frames(proposal["value"], self.max_json_bytes)

    @traitlets.validate("renderer")
    def _validate_renderer(self, proposal):
        if proposal["value"] not in RENDERERS:
            raise ValueError(f"renderer must be one of {RENDERERS}, got {proposal['value']!r}")
        return proposal["value"]

    @traitlets.validate("step")
    def _validate_step(self, proposal):
        n = len(self.frames)
        step = proposal["value"]
        if n and not 0 <= step < n:
            raise ValueError(f"step must be in 0..{n - 1} ({n} frames), got {step}")
        return step

    @traitlets.validate("interval")
    def _validate_interval(self, proposal):
        if proposal["value"] < 50:
            raise ValueError(f"interval is in milliseconds and must be >= 50, got {proposal['value']}")
        return proposal["value"]

    @property
    def n_steps(self) -> int:
        return len(self.frames)

    def __repr__(self) -> str:
        title = f", title={self.title!r}" if self.title else ""
        return f"{type(self).__name__}(steps={len(self.frames)}, renderer={self.renderer!r}{title})"
