"""A scalar reverse-mode automatic differentiation engine, in the style of micrograd.

Every number is a :class:`Value` that remembers which values it was computed from (``_prev``)
and by which operation (``_op``). Calling ``.backward()`` on the final value (the loss) walks
that graph from the output back to the inputs and applies the chain rule once per edge:

    dL/d(parent) += d(node)/d(parent) * dL/d(node)

The ``+=`` matters: a value used twice (``a * a``, or a diamond ``b = 2a; c = b + b*a``)
receives one contribution per use. Visiting nodes in reverse topological order guarantees a
node's gradient is complete before it is passed on to its parents.

Each operation writes its local derivatives ``d(node)/d(parent)`` exactly once, as the
``lambda`` it hands to :meth:`Value._result` right beside its forward computation, e.g.
``lambda a, b, out: (b, a)`` for ``a * b``. Everything else is derived from that lambda:
:meth:`Value.backward` and :meth:`Value.local_grads` call it; :func:`local_rule` and
:func:`derivative_texts` read its source (with :mod:`ast`) to write it for people, with the
graph's names filled in for the backprop stepper.

References:
    - Rumelhart, Hinton & Williams (1986), "Learning representations by back-propagating
      errors", Nature 323: back-propagation, i.e. reverse-mode differentiation of a network.
    - Linnainmaa (1970) and Griewank & Walther (2008), "Evaluating Derivatives": reverse-mode
      automatic differentiation in general.
    - Karpathy (2020), micrograd (github.com/karpathy/micrograd): the design copied here, one
      ``Value`` class in which each operator writes its derivative beside its forward code.
"""
from __future__ import annotations

import ast
import copy
import functools
import inspect
import math
import numbers
from math import log
from typing import Callable

__all__ = ["Value", "topological_order", "local_rule", "derivative_texts", "forward_text"]


def _pow(a: float, p: float) -> float:
    """``a ** p``, except that ``0 ** p`` with ``p < 0`` is inf (IEEE 754 and torch) where
    Python raises ZeroDivisionError. Shown as ``a ** p`` in the derived rules."""
    return math.inf if a == 0.0 and p < 0.0 else a**p


def _type_name(x: object) -> str:
    t = type(x)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _format_exponent(k: float) -> str:
    """'2' for 2 or 2.0, '-1.5' for -1.5: the exponent as a reader would write it."""
    k = float(k)
    return str(int(k)) if k.is_integer() else repr(k)


class Value:
    """A scalar that records how it was computed, so that gradients can flow back through it.

    Attributes:
        data:  the number (float).
        grad:  dL/d(this value) after ``L.backward()`` (float, starts at 0.0).
        label: an optional name shown in ``repr`` and in graph drawings.
        _prev: the parent Values, in operand order (``(a, b)`` for ``a * b``).
        _op:   the operation that produced it: '+', '-', '*', '/', '**' (Value exponent),
               '**2' / '**-1.5' (constant exponent), 'neg', 'exp', 'log', 'tanh', 'relu',
               'sigmoid', or '' for a leaf.
        _derivative: the op's local derivatives as a function of the data (see :meth:`_result`);
               None for a leaf.
    """

    def __init__(self, data: float, label: str = "", _prev: tuple = (), _op: str = ""):
        if isinstance(data, Value) or not isinstance(data, numbers.Real):
            raise TypeError(
                f"Value(data) needs a real number (int or float), got {_type_name(data)}: {data!r}"
            )
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, got {_type_name(label)}: {label!r}")
        self.data = float(data)
        self.grad = 0.0
        self.label = label
        self._prev: tuple[Value, ...] = tuple(_prev)
        self._op = _op
        self._derivative: Callable[..., tuple] | None = None  # a leaf has nothing to propagate

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _lift(other: object, op: str) -> "Value":
        """Wrap a plain number as a constant leaf; refuse anything else with a clear message."""
        if isinstance(other, Value):
            return other
        if isinstance(other, numbers.Real):
            return Value(other)
        raise TypeError(
            f"unsupported operand for Value {op}: expected int, float or Value, "
            f"got {_type_name(other)}"
        )

    def _result(self, data: float, op: str, parents: tuple,
                derivative: Callable) -> "Value":
        """The Value ``data`` that ``op`` computed from ``parents``, which keeps
        the op's ``derivative`` for the backward pass.

        ``derivative(*parents_data, out_data)`` returns d out / d parent for
        each parent, in order: ``lambda a, b, out: (b, a)`` for ``a * b``.
        This lambda is the one place an op's derivative is written:
        :meth:`backward` calls it (through :meth:`local_grads`) and
        :func:`local_rule` reads its source, so write it here, in the call.
        """
        out = Value(data, _prev=parents, _op=op)
        out._derivative = derivative
        return out

    def local_grads(self) -> tuple[float, ...]:
        """d self / d parent for each parent in ``_prev``, at the data now."""
        if self._derivative is None:           # a leaf
            return ()
        parents_data = (p.data for p in self._prev)
        grads = self._derivative(*parents_data, self.data)
        if len(grads) != len(self._prev):
            raise ValueError(f"the derivative of op {self._op!r} gave "
                             f"{len(grads)} local gradients for "
                             f"{len(self._prev)} parents")
        return tuple(float(g) for g in grads)

    # ------------------------------------------------------------------ binary operations
    # Each op: its forward result, and its derivative as `lambda <parents' data>, out: (...)`.
    def __add__(self, other) -> "Value":
        other = self._lift(other, "+")
        # a sum hands its gradient on unchanged to both terms
        return self._result(self.data + other.data, "+", (self, other),
                            lambda a, b, out: (1, 1))

    def __sub__(self, other) -> "Value":
        other = self._lift(other, "-")
        return self._result(self.data - other.data, "-", (self, other),
                            lambda a, b, out: (1, -1))

    def __mul__(self, other) -> "Value":
        other = self._lift(other, "*")
        # (a, b, out) -> (d out/da, d out/db): each factor gets the other
        return self._result(self.data * other.data, "*", (self, other),
                            lambda a, b, out: (b, a))

    def __truediv__(self, other) -> "Value":
        other = self._lift(other, "/")
        if other.data == 0.0:
            raise ZeroDivisionError(f"division by zero: {self!r} / {other!r}")
        return self._result(self.data / other.data, "/", (self, other),
                            lambda a, b, out: (1 / b, -a / b**2))

    def __pow__(self, other) -> "Value":
        if isinstance(other, Value):  # a ** b with b a Value: both are differentiated
            if self.data <= 0.0:
                raise ValueError(
                    f"a ** b with a Value exponent needs a > 0 (d/db a**b = a**b * ln a), "
                    f"got a = {self!r}"
                )
            return self._result(self.data**other.data, "**", (self, other),
                                lambda a, b, out: (b * a ** (b - 1), out * log(a)))

        if isinstance(other, bool) or not isinstance(other, numbers.Real):
            raise TypeError(
                f"unsupported exponent for Value **: expected int, float or Value, "
                f"got {_type_name(other)}"
            )
        k = float(other)
        if self.data == 0.0 and k < 0.0:
            raise ZeroDivisionError(f"{self!r} ** {k!r}: zero cannot be raised to a negative power")
        result = self.data**k
        if isinstance(result, complex):
            raise ValueError(f"{self!r} ** {k!r} is not a real number (negative base, fractional power)")
        # a constant exponent k: only a is differentiated. At a = 0 the slope is inf for
        # 0 < k < 1 (_pow gives inf) and 0 for k = 0, as in torch.
        out = self._result(result, "**k", (self,),
                           lambda a, out: (k * _pow(a, k - 1) if k else 0,))
        out._op = "**" + _format_exponent(k)  # the op names its exponent: '**2', '**-1.5'
        return out

    # Reflected forms: `2 * v`, `1 - v`, `1 / v`, `2 ** v` lift the number to a constant leaf.
    def __radd__(self, other) -> "Value":
        return self._lift(other, "+") + self

    def __rsub__(self, other) -> "Value":
        return self._lift(other, "-") - self

    def __rmul__(self, other) -> "Value":
        return self._lift(other, "*") * self

    def __rtruediv__(self, other) -> "Value":
        return self._lift(other, "/") / self

    def __rpow__(self, other) -> "Value":
        return self._lift(other, "**") ** self

    # ------------------------------------------------------------------ unary operations
    def __neg__(self) -> "Value":
        return self._result(-self.data, "neg", (self,), lambda a, out: (-1,))

    def exp(self) -> "Value":
        try:
            result = math.exp(self.data)
        except OverflowError:
            raise OverflowError(f"exp({self.data!r}) is too large for a float (the largest finite result is "
                                f"exp(709.78)); rescale the input, or use a stable form such as log-sum-exp") from None
        # exp is its own slope: reuse the forward result
        return self._result(result, "exp", (self,), lambda a, out: (out,))

    def log(self) -> "Value":
        """Natural logarithm."""
        if self.data <= 0.0:
            raise ValueError(f"log() needs a positive value, got {self!r}")
        return self._result(math.log(self.data), "log", (self,), lambda a, out: (1 / a,))

    def tanh(self) -> "Value":
        # the slope is read off the forward result out = tanh(a)
        return self._result(math.tanh(self.data), "tanh", (self,),
                            lambda a, out: (1 - out**2,))

    def relu(self) -> "Value":
        # slope 0 at a = 0, as in PyTorch
        return self._result(self.data if self.data > 0.0 else 0.0, "relu", (self,),
                            lambda a, out: (1 if a > 0 else 0,))

    def sigmoid(self) -> "Value":
        x = self.data  # the two branches avoid exp overflow for large |x|
        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        return self._result(s, "sigmoid", (self,), lambda a, out: (out * (1 - out),))

    # ------------------------------------------------------------------ backward pass
    def backward(self) -> None:
        """Fill ``.grad`` of every node of the graph with d self / d node.

        Like PyTorch, leaf gradients *accumulate* across calls (reset them
        with :meth:`zero_grad`); interior gradients are rebuilt on each call.
        """
        order = topological_order(self)      # inputs first, self last
        for node in order:
            if node._prev:                   # interior node: rebuilt below
                node.grad = 0.0
        self.grad += 1.0                     # d self / d self = 1
        for node in reversed(order):         # node.grad is complete here
            for parent, local in zip(node._prev, node.local_grads()):
                parent.grad += local * node.grad  # the chain rule, one edge

    def zero_grad(self) -> None:
        """Set ``.grad = 0.0`` on every node of the graph that ends at this value."""
        for node in topological_order(self):
            node.grad = 0.0

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"


def topological_order(root: Value) -> list[Value]:
    """All nodes of the graph ending at ``root``, each after all its parents
    (inputs first, root last).

    Iterative depth-first search (no recursion): a 10,000-node chain is fine.
    """
    if not isinstance(root, Value):
        raise TypeError(
            f"topological_order needs a Value, got {_type_name(root)}")
    order: list[Value] = []
    seen: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:        # every parent has been emitted: emit the node
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        # reversed, so that the parents are emitted in operand order
        for parent in reversed(node._prev):
            if id(parent) not in seen:
                stack.append((parent, False))
    return order


# ---------------------------------------------------------------- the derivatives, as text
def forward_text(op: str, args: list[str], sep: str = " ") -> str:
    """How ``op`` is written with its operands ``args``: 'a * b', '-a', 'a**2', 'tanh(a)'."""
    if op in {"+", "-", "*", "/", "**"}:
        return f"{args[0]}{sep}{op}{sep}{args[1]}"
    if op.startswith("**"):
        return f"{args[0]}**{op[2:]}"
    if op == "neg":
        return f"-{args[0]}"
    return f"{op}({args[0]})"


@functools.cache
def _derivatives() -> dict[str, ast.Lambda]:
    """Each op's derivative as written in :class:`Value`'s source: op -> the lambda of its
    ``self._result(data, op, parents, derivative)`` call. Constant powers are filed as '**k'."""
    found = {}
    for node in ast.walk(ast.parse(inspect.getsource(Value))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "_result":
            op, derivative = ast.literal_eval(node.args[1]), node.args[3]
            if not (isinstance(derivative, ast.Lambda) and isinstance(derivative.body, ast.Tuple)):
                raise TypeError(f"op {op!r}: write its derivative as a lambda returning a tuple")
            found[op] = derivative
    return found


def _parse(text: str) -> ast.expr:
    """``text`` as an expression, or as an opaque name where it is none (a label 'my loss')."""
    try:
        return ast.parse(text, mode="eval").body
    except SyntaxError:
        return ast.Name(id=text)


class _Rewrite(ast.NodeTransformer):
    """Write a derivative for reading: put ``texts`` in for names, show ``_pow(x, p)`` as
    ``x ** p``, and keep only the branch taken of ``x if k else y`` once k is a number."""

    def __init__(self, texts: dict[str, str]):
        self.texts = texts

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return _parse(self.texts[node.id]) if node.id in self.texts else node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "_pow":
            return ast.BinOp(node.args[0], ast.Pow(), node.args[1])
        return node

    def visit_IfExp(self, node: ast.IfExp) -> ast.expr:
        self.generic_visit(node)
        try:
            taken = ast.literal_eval(node.test)
        except (ValueError, TypeError, SyntaxError):  # the test still has names in it
            return node
        return node.body if taken else node.orelse


def derivative_texts(op: str, args: list[str] | None = None, out: str | None = None,
                     factor: bool = False) -> list[str]:
    """The local derivatives d(out)/d(parent) of ``op`` as text, one per parent, read from
    the lambda that :class:`Value` wrote for ``op``.

    ``args`` name the parents (default 'a', 'b'), ``out`` the result (default: the forward
    expression, e.g. 'tanh(a)'); the exponent of '**2' is filled in for k. With ``factor``,
    a sum is parenthesised, so that the text can follow ``x *``.

    >>> derivative_texts("*", ["x", "w"]), derivative_texts("tanh", ["n"], "o")
    (['w', 'x'], ['1 - o ** 2'])
    """
    kind = "**k" if op.startswith("**") and op != "**" else op
    derivative = _derivatives().get(kind)
    if derivative is None:
        raise KeyError(f"no local rule for op {op!r}; known ops: {sorted(_derivatives())}")
    *params, out_param = [p.arg for p in derivative.args.args]
    args = ["a", "b"][:len(params)] if args is None else list(args)
    if len(args) != len(params):
        raise ValueError(f"op {op!r} has {len(params)} parents, got names {args}")
    texts = dict(zip(params, args))
    texts[out_param] = forward_text(op, args) if out is None else out
    if kind == "**k" and op != kind:          # '**2': the exponent k is known
        texts["k"] = op[2:]
    exprs = [_Rewrite(texts).visit(copy.deepcopy(e)) for e in derivative.body.elts]
    return [f"({ast.unparse(e)})" if factor and _is_sum(e) else ast.unparse(e) for e in exprs]


def _is_sum(e: ast.expr) -> bool:
    """Whether ``x * e`` would need parentheses around ``e``: a + b, a - b, x if c else y."""
    loose = (ast.IfExp, ast.Compare, ast.BoolOp, ast.Lambda, ast.NamedExpr)
    return isinstance(e, loose) or (isinstance(e, ast.BinOp) and isinstance(e.op, (ast.Add, ast.Sub)))


def local_rule(op: str) -> str:
    """The local derivatives of ``op`` as one line, e.g. 'd(a*b)/da = b, d(a*b)/db = a'.

    Derived from the lambda that :class:`Value` wrote for ``op`` (see :func:`derivative_texts`);
    '**2' fills in the exponent, '**k' keeps it as k; '' is a leaf.
    """
    if op == "":
        return "leaf (an input or a constant): no parents, nothing to propagate"
    exprs = derivative_texts(op)
    args = ["a", "b"][:len(exprs)]
    forward = forward_text(op, args, sep="")
    d = f"d {forward}" if forward.endswith(")") else f"d({forward})"
    return ", ".join(f"{d}/d{x} = {e}" for x, e in zip(args, exprs))
