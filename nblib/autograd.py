"""A scalar reverse-mode automatic differentiation engine, in the style of micrograd.

Every number is a :class:`Value` that remembers which values it was computed from (``_prev``)
and by which operation (``_op``). Calling ``.backward()`` on the final value (the loss) walks
that graph from the output back to the inputs and applies the chain rule once per edge:

    dL/d(parent) += d(node)/d(parent) * dL/d(node)

The ``+=`` matters: a value used twice (``a * a``, or a diamond ``b = 2a; c = b + b*a``)
receives one contribution per use. Visiting nodes in reverse topological order guarantees a
node's gradient is complete before it is passed on to its parents.

References:
    - Rumelhart, Hinton & Williams (1986), "Learning representations by back-propagating
      errors", Nature 323: back-propagation, i.e. reverse-mode differentiation of a network.
    - Linnainmaa (1970) and Griewank & Walther (2008), "Evaluating Derivatives": reverse-mode
      automatic differentiation in general.
    - Karpathy (2020), micrograd (github.com/karpathy/micrograd): the design copied here, one
      ``Value`` class in which each operator defines its local ``_backward`` beside its forward.

For the backprop stepper: :func:`topological_order` lists a graph's nodes inputs first,
:meth:`Value.local_grads` gives the local derivatives ``d node / d parent`` at the current data,
and :data:`LOCAL_RULES` (or :func:`local_rule`) gives them as human-readable formulas.
"""
from __future__ import annotations

import math
import numbers
from typing import Callable

__all__ = ["Value", "topological_order", "LOCAL_RULES", "local_rule"]


# One short rule per operation; `a`, `b` are the parents in `_prev` order.
LOCAL_RULES: dict[str, str] = {
    "": "leaf (an input or a constant): no parents, nothing to propagate",
    "+": "d(a+b)/da = 1, d(a+b)/db = 1",
    "-": "d(a-b)/da = 1, d(a-b)/db = -1",
    "*": "d(a*b)/da = b, d(a*b)/db = a",
    "/": "d(a/b)/da = 1/b, d(a/b)/db = -a/b^2",
    "**": "d(a**b)/da = b * a**(b-1), d(a**b)/db = a**b * ln(a)",
    "**k": "d(a**k)/da = k * a**(k-1)  (k a constant)",
    "neg": "d(-a)/da = -1",
    "exp": "d exp(a)/da = exp(a)",
    "log": "d log(a)/da = 1/a",
    "tanh": "d tanh(a)/da = 1 - tanh(a)^2",
    "relu": "d relu(a)/da = 1 if a > 0 else 0",
    "sigmoid": "d sigmoid(a)/da = sigmoid(a) * (1 - sigmoid(a))",
}


def local_rule(op: str) -> str:
    """The rule of :data:`LOCAL_RULES` for ``op``, with the exponent filled in for ``'**2'`` etc."""
    if op.startswith("**") and op != "**":
        k = op[2:]
        return f"d(a**{k})/da = {k} * a**({k}-1)"
    if op not in LOCAL_RULES:
        raise KeyError(f"no local rule for op {op!r}; known ops: {sorted(LOCAL_RULES)}")
    return LOCAL_RULES[op]


def _power_rule(a: float, k: float) -> float:
    """d(a**k)/da = k a**(k-1); at a = 0 with 0 < k < 1 the slope is infinite (as in torch)."""
    if a == 0.0 and k < 1.0:
        return 0.0 if k == 0.0 else math.inf
    return k * a ** (k - 1.0)


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
        self._backward: Callable[[], None] = lambda: None   # leaves have nothing to propagate
        self._local_grads: Callable[[], tuple[float, ...]] = lambda: ()

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

    def local_grads(self) -> tuple[float, ...]:
        """d self / d parent_i for each parent in ``_prev`` order, at the current data."""
        return tuple(float(g) for g in self._local_grads())

    # ------------------------------------------------------------------ binary operations
    def __add__(self, other) -> "Value":
        other = self._lift(other, "+")
        out = Value(self.data + other.data, _prev=(self, other), _op="+")

        def _backward():  # d(a+b)/da = 1, d(a+b)/db = 1: the sum routes the gradient unchanged
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        out._local_grads = lambda: (1.0, 1.0)
        return out

    def __sub__(self, other) -> "Value":
        other = self._lift(other, "-")
        out = Value(self.data - other.data, _prev=(self, other), _op="-")

        def _backward():  # d(a-b)/da = 1, d(a-b)/db = -1
            self.grad += out.grad
            other.grad -= out.grad

        out._backward = _backward
        out._local_grads = lambda: (1.0, -1.0)
        return out

    def __mul__(self, other) -> "Value":
        other = self._lift(other, "*")
        out = Value(self.data * other.data, _prev=(self, other), _op="*")

        def _backward():  # d(a*b)/da = b, d(a*b)/db = a: each factor gets the other one
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        out._local_grads = lambda: (other.data, self.data)
        return out

    def __truediv__(self, other) -> "Value":
        other = self._lift(other, "/")
        if other.data == 0.0:
            raise ZeroDivisionError(f"division by zero: {self!r} / {other!r}")
        out = Value(self.data / other.data, _prev=(self, other), _op="/")

        def _backward():  # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
            self.grad += out.grad / other.data
            other.grad += -self.data / other.data**2 * out.grad

        out._backward = _backward
        out._local_grads = lambda: (1.0 / other.data, -self.data / other.data**2)
        return out

    def __pow__(self, other) -> "Value":
        if isinstance(other, Value):  # a ** b with b a Value: both are differentiated
            if self.data <= 0.0:
                raise ValueError(
                    f"a ** b with a Value exponent needs a > 0 (d/db a**b = a**b * ln a), "
                    f"got a = {self!r}"
                )
            out = Value(self.data**other.data, _prev=(self, other), _op="**")

            def _backward():  # d/da = b a^(b-1), d/db = a^b ln a
                self.grad += _power_rule(self.data, other.data) * out.grad
                other.grad += out.data * math.log(self.data) * out.grad

            out._backward = _backward
            out._local_grads = lambda: (
                _power_rule(self.data, other.data),
                out.data * math.log(self.data),
            )
            return out

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
        out = Value(result, _prev=(self,), _op="**" + _format_exponent(k))

        def _backward():  # d(a^k)/da = k a^(k-1)
            self.grad += _power_rule(self.data, k) * out.grad

        out._backward = _backward
        out._local_grads = lambda: (_power_rule(self.data, k),)
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
        out = Value(-self.data, _prev=(self,), _op="neg")

        def _backward():  # d(-a)/da = -1
            self.grad -= out.grad

        out._backward = _backward
        out._local_grads = lambda: (-1.0,)
        return out

    def exp(self) -> "Value":
        try:
            result = math.exp(self.data)
        except OverflowError:
            raise OverflowError(f"exp({self.data!r}) is too large for a float (the largest finite result is "
                                f"exp(709.78)); rescale the input, or use a stable form such as log-sum-exp") from None
        out = Value(result, _prev=(self,), _op="exp")

        def _backward():  # d exp(a)/da = exp(a): reuse the forward result
            self.grad += out.data * out.grad

        out._backward = _backward
        out._local_grads = lambda: (out.data,)
        return out

    def log(self) -> "Value":
        """Natural logarithm."""
        if self.data <= 0.0:
            raise ValueError(f"log() needs a positive value, got {self!r}")
        out = Value(math.log(self.data), _prev=(self,), _op="log")

        def _backward():  # d log(a)/da = 1/a
            self.grad += out.grad / self.data

        out._backward = _backward
        out._local_grads = lambda: (1.0 / self.data,)
        return out

    def tanh(self) -> "Value":
        out = Value(math.tanh(self.data), _prev=(self,), _op="tanh")

        def _backward():  # d tanh(a)/da = 1 - tanh(a)^2
            self.grad += (1.0 - out.data**2) * out.grad

        out._backward = _backward
        out._local_grads = lambda: (1.0 - out.data**2,)
        return out

    def relu(self) -> "Value":
        out = Value(self.data if self.data > 0.0 else 0.0, _prev=(self,), _op="relu")

        def _backward():  # d relu(a)/da = 1 if a > 0 else 0 (0 at a = 0, as in PyTorch)
            self.grad += (1.0 if self.data > 0.0 else 0.0) * out.grad

        out._backward = _backward
        out._local_grads = lambda: (1.0 if self.data > 0.0 else 0.0,)
        return out

    def sigmoid(self) -> "Value":
        x = self.data  # the two branches avoid exp overflow for large |x|
        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        out = Value(s, _prev=(self,), _op="sigmoid")

        def _backward():  # d sigmoid(a)/da = s (1 - s)
            self.grad += out.data * (1.0 - out.data) * out.grad

        out._backward = _backward
        out._local_grads = lambda: (out.data * (1.0 - out.data),)
        return out

    # ------------------------------------------------------------------ backward pass
    def backward(self) -> None:
        """Fill ``.grad`` of every node of the graph with d self / d node.

        Like PyTorch, leaf gradients *accumulate* across calls (reset them with
        :meth:`zero_grad`); interior gradients are recomputed from zero on each call.
        """
        order = topological_order(self)
        for node in order:
            if node._prev:          # interior node: its gradient is rebuilt by this pass
                node.grad = 0.0
        self.grad += 1.0            # d self / d self = 1
        for node in reversed(order):  # output first: each node is complete before it is used
            node._backward()

    def zero_grad(self) -> None:
        """Set ``.grad = 0.0`` on every node of the graph that ends at this value."""
        for node in topological_order(self):
            node.grad = 0.0

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"


def topological_order(root: Value) -> list[Value]:
    """All nodes of the graph ending at ``root``, each after all its parents (inputs first, root last).

    Iterative depth-first search (no recursion), so a 10,000-node chain is fine.
    """
    if not isinstance(root, Value):
        raise TypeError(f"topological_order needs a Value, got {_type_name(root)}")
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
        for parent in reversed(node._prev):  # reversed: parents are emitted in operand order
            if id(parent) not in seen:
                stack.append((parent, False))
    return order
