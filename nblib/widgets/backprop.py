"""`BackpropStepper`: watch the forward pass and then backpropagation, one node and one edge at a time.

Given the output ``root`` of a graph of :class:`nblib.autograd.Value`, the stepper shows

1. the forward pass: one frame per node in topological order (inputs first), with the node's
   value and the operation that produced it;
2. the start of the backward pass: ``dL/dL = 1`` at the output;
3. one frame per edge, in reverse topological order, with the chain rule along that edge::

       dL/da += dL/dc * dc/da = 0.3 * -2 = -0.6

4. a last frame with every gradient.

The local derivative on each edge is shown as the op's own derivative, read from
:mod:`nblib.autograd` with the graph's names put in (:func:`nblib.autograd.derivative_texts`).
The gradients are computed here from :meth:`Value.local_grads`, exactly as
:meth:`Value.backward` would compute them on a fresh graph, *without touching* the graph's own
``.grad`` attributes: showing a stepper never changes the numbers a reader is working with.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from nblib.autograd import Value, derivative_texts, forward_text, local_rule, topological_order

from .stepper import Stepper

__all__ = ["BackpropStepper", "backprop_frames", "graph_layout"]

def _fmt(x: float) -> str:
    """A number as a reader writes it: 4 significant digits, no trailing zeros."""
    x = float(x)
    if x == int(x) and abs(x) < 1e6:
        return str(int(x))
    return f"{x:.4g}"


def graph_layout(order: list[Value]) -> dict[int, tuple[float, float]]:
    """Grid position ``(column, row)`` of each node (keyed by ``id``), inputs on the left.

    A node's column is one more than its deepest parent's; an input sits just left of its
    first consumer. Rows are ordered to keep edges short (a few barycentre sweeps) and each
    column is centred on row 0.
    """
    col: dict[int, int] = {}
    children: dict[int, list[Value]] = defaultdict(list)
    for node in order:
        col[id(node)] = 1 + max((col[id(p)] for p in node._prev), default=-1)
        for p in node._prev:
            children[id(p)].append(node)
    for node in order:  # pull inputs right, next to the node that uses them
        if not node._prev and children[id(node)]:
            col[id(node)] = min(col[id(c)] for c in children[id(node)]) - 1
    n_cols = max(col.values()) + 1
    columns: list[list[Value]] = [[] for _ in range(n_cols)]
    for node in order:
        columns[col[id(node)]].append(node)

    row: dict[int, float] = {}

    def place() -> None:
        for nodes in columns:
            for i, node in enumerate(nodes):
                row[id(node)] = i - (len(nodes) - 1) / 2

    def mean(nodes: list[Value], default: float) -> float:
        return sum(row[id(n)] for n in nodes) / len(nodes) if nodes else default

    place()
    for _ in range(3):
        for nodes in reversed(columns[:-1]):
            nodes.sort(key=lambda n: mean(children[id(n)], row[id(n)]))
        place()
        for nodes in columns[1:]:
            nodes.sort(key=lambda n: mean(list(n._prev), row[id(n)]))
        place()
    return {k: (float(col[k]), row[k]) for k in col}


def _names(order: list[Value], root: Value) -> dict[int, str]:
    """Display name of each node: its label, else the number for a constant, else v<i>."""
    names = {}
    for i, node in enumerate(order):
        if node.label:
            names[id(node)] = node.label
        elif node is root:
            names[id(node)] = "L"
        elif not node._prev:
            names[id(node)] = _fmt(node.data)
        else:
            names[id(node)] = f"v{i}"
    return names


def _expr(node: Value, names: dict[int, str], args: list[str] | None = None) -> str:
    """The operation that produced ``node``, in the names of its parents: 'a * b', 'tanh(n)'.

    With ``args``, those strings stand for the parents instead (e.g. their values).
    """
    if not node._op:
        return _fmt(node.data)
    return forward_text(node._op, [names[id(p)] for p in node._prev] if args is None else args)


def _local_expr(node: Value, slot: int, names: dict[int, str]) -> str:
    """d node / d parent[slot] in the graph's names, e.g. 'b' for d(a*b)/da, '(1 - L ** 2)'
    for L = tanh(n): the op's own derivative (from nblib.autograd) with the names put in."""
    args = [names[id(p)] for p in node._prev]
    try:
        return derivative_texts(node._op, args, names[id(node)], factor=True)[slot]
    except (KeyError, ValueError):  # an op that Value does not define: just name it
        return f"d{names[id(node)]}/d{args[slot]}"


def backprop_frames(root: Value) -> list[dict[str, Any]]:
    """All frames of the forward and backward pass through the graph ending at ``root``."""
    if not isinstance(root, Value):
        raise TypeError(f"BackpropStepper needs an nblib.autograd.Value, got {type(root).__name__}")
    order = topological_order(root)
    ids = {id(node): f"n{i}" for i, node in enumerate(order)}
    names = _names(order, root)
    layout = graph_layout(order)
    L = names[id(root)]

    edges = []        # (edge id, parent, child, slot)
    edges_into = defaultdict(list)
    for c_index, child in enumerate(order):
        for slot, parent in enumerate(child._prev):
            eid = f"e{c_index}_{slot}"
            edges.append({"id": eid, "source": ids[id(parent)], "target": ids[id(child)]})
            edges_into[id(child)].append(eid)

    def snapshot(known: set[int], grads: dict[int, float]) -> list[dict[str, Any]]:
        nodes = []
        for node in order:
            x, y = layout[id(node)]
            nodes.append({
                "id": ids[id(node)], "name": names[id(node)], "op": _op_badge(node._op),
                "x": x, "y": y,
                "value": node.data if id(node) in known else None,
                "grad": grads.get(id(node)),
                "expr": f"{names[id(node)]} = {_expr(node, names)}",
            })
        return nodes

    frames: list[dict[str, Any]] = []
    known: set[int] = set()
    for node in order:  # ---- forward: inputs first, each node after its parents
        known.add(id(node))
        name = names[id(node)]
        if node._prev:
            values = _expr(node, names, [_fmt(p.data) for p in node._prev])
            caption = (f"Forward: {name} = {_expr(node, names)} = {values} = {_fmt(node.data)}.")
            rule = f"{name} = {_expr(node, names)}"
        else:
            caption = (f"Forward: input {name} = {_fmt(node.data)} (a leaf of the graph)."
                       if node.label else
                       f"Forward: the constant {name} (a leaf of the graph).")
            rule = ""
        frames.append({
            "phase": "forward", "label": f"forward, node {name}",
            "nodes": snapshot(known, {}), "edges": edges,
            "active_nodes": [ids[id(node)]], "active_edges": edges_into[id(node)],
            "caption": caption, "rule": rule,
        })

    grads: dict[int, float] = {id(root): 1.0}  # ---- backward: seed, then one frame per edge
    frames.append({
        "phase": "backward", "label": "backward starts",
        "nodes": snapshot(known, grads), "edges": edges,
        "active_nodes": [ids[id(root)]], "active_edges": [],
        "caption": f"Backward: start at the output with d{L}/d{L} = 1. Gradients now flow "
                   f"right to left, each node after all the nodes that use it.",
        "rule": f"d{L}/d{L} = 1",
    })
    for c_index in reversed(range(len(order))):
        child = order[c_index]
        if not child._prev:
            continue
        local = child.local_grads()
        for slot, parent in enumerate(child._prev):
            g_child = grads.get(id(child), 0.0)
            contribution = local[slot] * g_child
            grads[id(parent)] = grads.get(id(parent), 0.0) + contribution
            c, p = names[id(child)], names[id(parent)]
            frames.append({
                "phase": "backward", "label": f"backward, edge {p} → {c}",
                "nodes": snapshot(known, grads), "edges": edges,
                "active_nodes": [ids[id(child)], ids[id(parent)]],
                "active_edges": [f"e{c_index}_{slot}"],
                "caption": (f"Chain rule along {p} → {c}: d{L}/d{p} += d{L}/d{c} * "
                            f"{_local_expr(child, slot, names)} = {_fmt(g_child)} * "
                            f"{_fmt(local[slot])} = {_fmt(contribution)}; "
                            f"d{L}/d{p} is now {_fmt(grads[id(parent)])}."),
                "rule": f"{c} = {_expr(child, names)}:   {local_rule(child._op)}",
            })
    leaves = [n for n in order if not n._prev and n.label]
    summary = ", ".join(f"d{L}/d{names[id(n)]} = {_fmt(grads.get(id(n), 0.0))}" for n in leaves)
    frames.append({
        "phase": "done", "label": "done",
        "nodes": snapshot(known, grads), "edges": edges,
        "active_nodes": [ids[id(n)] for n in leaves], "active_edges": [],
        "caption": f"Done: every node has its gradient. {summary}.".replace(" .", "."),
        "rule": "",
    })
    return frames


def _op_badge(op: str) -> str:
    """Short text for the operation badge drawn on a node."""
    return {"sigmoid": "σ", "neg": "−", "relu": "relu"}.get(op, op)


class BackpropStepper(Stepper):
    """Step through the forward pass and backpropagation of a graph of ``nblib.autograd.Value``.

    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> L = (a * b + 1).tanh(); L.label = "L"
    >>> BackpropStepper(L)                        # doctest: +SKIP
    BackpropStepper(steps=..., renderer='graph', title='Backpropagation through L')

    One frame per node forward, one to seed dL/dL = 1, one per edge backward, one summary.
    The graph's own ``.grad`` values are not changed.
    """

    def __init__(self, root: Value, title: str | None = None, **kwargs: Any) -> None:
        frames = backprop_frames(root)
        if title is None:
            title = f"Backpropagation through {_names([root], root)[id(root)]}"
        super().__init__(frames, renderer="graph", title=title, **kwargs)
