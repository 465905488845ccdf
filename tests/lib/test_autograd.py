"""Specification of nblib.autograd: a scalar Value engine that agrees with torch.autograd."""
import math
import random

import pytest
import torch

from nblib.autograd import Value, derivative_texts, local_rule, topological_order

TOL = 1e-6


def leaf(x: float) -> tuple[Value, torch.Tensor]:
    """The same input as a Value and as a float64 torch leaf."""
    return Value(x), torch.tensor(x, dtype=torch.float64, requires_grad=True)


# Each operation written once, applied to Values and to torch tensors alike.
UNARY = {
    "neg": lambda a: -a,
    "exp": lambda a: a.exp(),
    "log": lambda a: a.log(),
    "tanh": lambda a: a.tanh(),
    "relu": lambda a: a.relu(),
    "sigmoid": lambda a: a.sigmoid(),
    "**2": lambda a: a**2,
    "**3": lambda a: a**3,
    "**-1.5": lambda a: a**-1.5,
    "**0.5": lambda a: a**0.5,
    "2*a": lambda a: 2 * a,
    "a*3": lambda a: a * 3,
    "a+1": lambda a: a + 1,
    "1+a": lambda a: 1 + a,
    "a-1": lambda a: a - 1,
    "1-a": lambda a: 1 - a,
    "a/2": lambda a: a / 2,
    "1/a": lambda a: 1 / a,
    "2**a": lambda a: 2**a,
}
BINARY = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "**": lambda a, b: a**b,
}
POSITIVE_ONLY = {"log", "**-1.5", "**0.5", "1/a"}


# ---------------------------------------------------------------- every op, forward and backward
@pytest.mark.parametrize("name", sorted(UNARY))
def test_each_unary_op_matches_torch_on_random_inputs(name):
    rng = random.Random(name)
    f = UNARY[name]
    for _ in range(20):
        x = rng.uniform(0.1, 3.0) if name in POSITIVE_ONLY else rng.uniform(-3.0, 3.0)
        v, t = leaf(x)
        out_v, out_t = f(v), f(t)
        out_v.backward()
        out_t.backward()
        assert out_v.data == pytest.approx(out_t.item(), abs=TOL, rel=TOL)
        assert v.grad == pytest.approx(t.grad.item(), abs=TOL, rel=TOL)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_each_binary_op_matches_torch_on_random_inputs_including_value_exponents(name):
    rng = random.Random(name)
    f = BINARY[name]
    for _ in range(20):
        x = rng.uniform(0.1, 3.0) if name == "**" else rng.uniform(-3.0, 3.0)
        y = rng.choice([-1, 1]) * rng.uniform(0.2, 3.0)
        (a, ta), (b, tb) = leaf(x), leaf(y)
        out_v, out_t = f(a, b), f(ta, tb)
        out_v.backward()
        out_t.backward()
        assert out_v.data == pytest.approx(out_t.item(), abs=TOL, rel=TOL)
        assert a.grad == pytest.approx(ta.grad.item(), abs=TOL, rel=TOL)
        assert b.grad == pytest.approx(tb.grad.item(), abs=TOL, rel=TOL)


def test_relu_gradient_at_zero_is_zero_like_pytorch():
    v, t = leaf(0.0)
    v.relu().backward()
    t.relu().backward()
    assert v.grad == t.grad.item() == 0.0


def test_sigmoid_is_stable_for_large_inputs():
    assert Value(800.0).sigmoid().data == 1.0
    assert Value(-800.0).sigmoid().data == 0.0


# ---------------------------------------------------------------- random graphs with reuse
def random_graph(seed: int, n_leaves: int = 4, n_ops: int = 30):
    """Build the same random expression as Values and as torch tensors.

    Operands are drawn from everything built so far, so nodes are reused and diamonds appear.
    Domain guards (decided on the Value's data, applied identically to both) keep every
    operation defined and every number moderate.
    """
    rng = random.Random(seed)
    pool = [leaf(rng.uniform(-2.0, 2.0)) for _ in range(n_leaves)]
    leaves = list(pool)
    for _ in range(n_ops):
        if rng.random() < 0.5:
            name = rng.choice(sorted(UNARY))
            a = rng.choice(pool)
            if name in POSITIVE_ONLY and a[0].data <= 0.1:
                a = tuple(x * x + 0.5 for x in a)
            if name in {"exp", "2**a"} and abs(a[0].data) > 3:
                a = tuple(x.tanh() for x in a)
            out = tuple(UNARY[name](x) for x in a)
        else:
            name = rng.choice(sorted(BINARY))
            a, b = rng.choice(pool), rng.choice(pool)  # may be the same node: a*a, a+a
            if name == "/" and abs(b[0].data) < 0.2:
                b = tuple(x * x + 1.0 for x in b)
            if name == "**":
                if not 0.1 < a[0].data < 5:
                    a = tuple(x.sigmoid() + 0.5 for x in a)
                b = tuple(x.tanh() * 2 for x in b)
            out = tuple(BINARY[name](x, y) for x, y in zip(a, b))
        if abs(out[0].data) > 50:
            out = tuple(x.tanh() for x in out)
        pool.append(out)
    # The loss sums the last node and a few random earlier ones: more shared paths.
    picks = [pool[-1]] + rng.sample(pool, 3)
    loss_v, loss_t = picks[0][0], picks[0][1]
    for v, t in picks[1:]:
        loss_v, loss_t = loss_v + v, loss_t + t
    return leaves, pool, loss_v, loss_t


@pytest.mark.parametrize("seed", range(25))
def test_random_graphs_with_reuse_match_torch_autograd(seed):
    leaves, pool, loss_v, loss_t = random_graph(seed)
    for _, t in pool:
        if t.requires_grad and not t.is_leaf:
            t.retain_grad()
    loss_v.backward()
    loss_t.backward()
    assert loss_v.data == pytest.approx(loss_t.item(), abs=TOL, rel=TOL)
    for v, t in leaves:  # a leaf that does not reach the loss: torch says None, we say 0.0
        expected = 0.0 if t.grad is None else t.grad.item()
        assert v.grad == pytest.approx(expected, abs=TOL, rel=TOL)
    assert sum(t.grad is not None for _, t in leaves) >= 2
    for v, t in pool:  # interior nodes too, wherever torch has a gradient for them
        if t.grad is not None:
            assert v.grad == pytest.approx(t.grad.item(), abs=TOL, rel=TOL)


def test_reused_node_and_diamond_accumulate_gradients():
    a = Value(3.0)
    (a * a + a).backward()                        # d/da (a^2 + a) = 2a + 1
    assert a.grad == 7.0
    a = Value(3.0)
    b = a * 2
    c = b + b * a                                 # c = 2a + 2a^2
    c.backward()
    assert a.grad == 2 + 4 * 3.0
    assert b.grad == 1 + 3.0                      # dc/db = 1 + a


def test_backward_twice_accumulates_leaves_like_torch_and_zero_grad_resets():
    a, ta = leaf(1.5)
    out_v = (a * 2).tanh() + a
    out_t = (ta * 2).tanh() + ta
    out_v.backward()
    out_v.backward()
    out_t.backward(retain_graph=True)
    out_t.backward()
    assert a.grad == pytest.approx(ta.grad.item(), abs=TOL)
    out_v.zero_grad()
    assert all(node.grad == 0.0 for node in topological_order(out_v))


def test_a_deep_chain_does_not_hit_the_recursion_limit():
    x = Value(0.5)
    y = x
    for _ in range(3_000):
        y = y * 1.0001 + 0.0                      # 6,000 operations deep
    y.backward()
    assert x.grad == pytest.approx(1.0001**3_000, rel=1e-9)
    assert len(topological_order(y)) == 1 + 3_000 * 4  # x, then (const, *, const, +) per step


# ---------------------------------------------------------------- graph structure, for the stepper
def test_prev_keeps_operand_order_and_op_names_show_exponents():
    a, b = Value(2.0, "a"), Value(3.0, "b")
    assert (a - b)._prev == (a, b) and (a - b)._op == "-"
    c = 1 - a
    assert c._prev[1] is a and c._prev[0].data == 1.0 and c._prev[0]._op == ""
    assert (a**2)._op == "**2"
    assert (a**2.0)._op == "**2"
    assert (a**-1.5)._op == "**-1.5"
    assert (a**b)._op == "**" and (a**b)._prev == (a, b)
    assert (-a)._op == "neg" and a._op == ""
    for op in ["exp", "log", "tanh", "relu", "sigmoid"]:
        assert getattr(a, op)()._op == op


@pytest.mark.parametrize("seed", range(5))
def test_topological_order_puts_every_node_after_its_parents_and_root_last(seed):
    _, pool, loss_v, _ = random_graph(seed)
    order = topological_order(loss_v)
    position = {id(n): i for i, n in enumerate(order)}
    assert len(position) == len(order)           # no duplicates
    assert order[-1] is loss_v
    for node in order:
        for parent in node._prev:
            assert position[id(parent)] < position[id(node)]


TORCH_OP = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: a / b, "**": lambda a, b: a**b, "neg": lambda a: -a,
    "exp": torch.exp, "log": torch.log, "tanh": torch.tanh, "relu": torch.relu,
    "sigmoid": torch.sigmoid,
}


@pytest.mark.parametrize("seed", range(10))
def test_local_grads_are_the_torch_partial_derivatives(seed):
    _, _, loss_v, _ = random_graph(seed)
    for node in topological_order(loss_v):
        if not node._prev:
            assert node.local_grads() == ()
            continue
        parents = [torch.tensor(p.data, dtype=torch.float64, requires_grad=True) for p in node._prev]
        if node._op.startswith("**") and node._op != "**":
            out = parents[0] ** float(node._op[2:])
        else:
            out = TORCH_OP[node._op](*parents)
        partials = torch.autograd.grad(out, parents)
        assert out.item() == pytest.approx(node.data, abs=TOL, rel=TOL)
        assert len(node.local_grads()) == len(node._prev)
        for mine, theirs in zip(node.local_grads(), partials):
            assert mine == pytest.approx(theirs.item(), abs=TOL, rel=TOL)


# Each op's rule as a reader should see it. local_rule derives it from the op's code.
EXPECTED_RULES = {
    "": "leaf (an input or a constant): no parents, nothing to propagate",
    "+": "d(a+b)/da = 1, d(a+b)/db = 1",
    "-": "d(a-b)/da = 1, d(a-b)/db = -1",
    "*": "d(a*b)/da = b, d(a*b)/db = a",
    "/": "d(a/b)/da = 1 / b, d(a/b)/db = -a / b ** 2",
    "**": "d(a**b)/da = b * a ** (b - 1), d(a**b)/db = a ** b * log(a)",
    "**k": "d(a**k)/da = k * a ** (k - 1) if k else 0",
    "**2": "d(a**2)/da = 2 * a ** (2 - 1)",
    "**-1.5": "d(a**-1.5)/da = -1.5 * a ** (-1.5 - 1)",
    "**0": "d(a**0)/da = 0",
    "neg": "d(-a)/da = -1",
    "exp": "d exp(a)/da = exp(a)",
    "log": "d log(a)/da = 1 / a",
    "tanh": "d tanh(a)/da = 1 - tanh(a) ** 2",
    "relu": "d relu(a)/da = 1 if a > 0 else 0",
    "sigmoid": "d sigmoid(a)/da = sigmoid(a) * (1 - sigmoid(a))",
}


@pytest.mark.parametrize("op", sorted(EXPECTED_RULES))
def test_every_op_has_a_rule_derived_from_its_code(op):
    assert local_rule(op) == EXPECTED_RULES[op]


def test_rules_of_unknown_ops_are_a_clear_error():
    with pytest.raises(KeyError, match="no local rule for op 'sin'"):
        local_rule("sin")
    with pytest.raises(ValueError, match="op '\\*' has 2 parents"):
        derivative_texts("*", ["x"])


def test_derivative_texts_put_the_graph_names_in():
    assert derivative_texts("*", ["x", "w"], "y") == ["w", "x"]
    assert derivative_texts("tanh", ["n"], "o") == ["1 - o ** 2"]
    assert derivative_texts("tanh", ["n"], "o", factor=True) == ["(1 - o ** 2)"]
    assert derivative_texts("**3", ["h"], "y") == ["3 * h ** (3 - 1)"]
    assert derivative_texts("**", ["x", "p"], "y") == ["p * x ** (p - 1)", "y * log(x)"]
    assert derivative_texts("relu", ["my input"], "y", factor=True) == ["(1 if my input > 0 else 0)"]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# What the rule texts call: they are evaluated as Python below.
TEXT_FUNCTIONS = {"log": math.log, "exp": math.exp, "tanh": math.tanh, "sigmoid": _sigmoid,
                  "relu": lambda x: max(x, 0.0)}
RULE_OPS = ["+", "-", "*", "/", "**", "**k", "**2", "**3", "**-1.5", "**0.5", "**0", "neg",
            "exp", "log", "tanh", "relu", "sigmoid"]


@pytest.mark.parametrize("op", RULE_OPS)
def test_rule_texts_evaluate_to_the_torch_partial_derivatives(op):
    """The text shown to a reader is the derivative: evaluated, it gives torch's partials."""
    rng = random.Random(op)
    for _ in range(10):
        a = rng.uniform(0.2, 3.0) if op in {"**", "log", "**-1.5", "**0.5"} else rng.uniform(-3, 3)
        b = rng.choice([-1, 1]) * rng.uniform(0.2, 3.0)
        k = rng.uniform(-2.0, 3.0) if op == "**k" else None
        texts = derivative_texts(op)     # parents a, b; the result written as 'tanh(a)', ...
        parents = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in (a, b)]
        parents = parents[:len(texts)]
        if op.startswith("**") and op != "**":
            exponent = k if op == "**k" else float(op[2:])
            if op == "**k":
                parents[0] = torch.tensor(abs(a) + 0.1, dtype=torch.float64, requires_grad=True)
            out = parents[0] ** exponent
        else:
            out = TORCH_OP[op](*parents)
        partials = torch.autograd.grad(out, parents)
        env = {"a": parents[0].item(), "b": b, "k": k, **TEXT_FUNCTIONS}
        for text, partial in zip(texts, partials, strict=True):
            assert eval(text, env) == pytest.approx(partial.item(), rel=1e-9, abs=1e-12), text


# ---------------------------------------------------------------- repr and errors
def test_repr_is_deterministic():
    assert repr(Value(0.5)) == "Value(data=0.5, grad=0.0)"
    assert repr(Value(2, label="w")) == "Value(data=2.0, grad=0.0, label='w')"
    a = Value(0.5, "a")
    (a * a).backward()
    assert repr(a) == "Value(data=0.5, grad=1.0, label='a')"
    # 0.1 + 0.2 in float64 is 0.30000000000000004 (as torch computes it too)
    assert (torch.tensor(0.1, dtype=torch.float64) + 0.2).item() == 0.30000000000000004
    assert repr(Value(0.1) + Value(0.2)) == "Value(data=0.30000000000000004, grad=0.0)"


@pytest.mark.parametrize(
    "bad, name",
    [("a", "str"), (torch.tensor(1.0), "torch.Tensor"), ([1.0], "list"), (None, "NoneType")],
)
def test_unsupported_operands_raise_a_type_error_naming_them(bad, name):
    for op in [lambda v: v + bad, lambda v: v - bad, lambda v: v * bad, lambda v: v / bad,
               lambda v: v**bad]:
        with pytest.raises(TypeError, match=name):
            op(Value(1.0))
    with pytest.raises(TypeError, match=name):
        Value(bad)


def test_domain_errors_are_clear():
    with pytest.raises(ValueError, match=r"log\(\) needs a positive value, got Value\(data=-1.0"):
        Value(-1.0).log()
    with pytest.raises(ValueError, match="label='z'"):
        Value(0.0, "z").log()
    with pytest.raises(ValueError, match="needs a > 0"):
        Value(-2.0) ** Value(0.5)
    with pytest.raises(ValueError, match="not a real number"):
        Value(-8.0) ** (1 / 3)
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        Value(1.0) / 0
    with pytest.raises(TypeError, match="label must be a str"):
        Value(1.0, label=3)


def test_math_sanity():
    assert Value(1.0).exp().data == pytest.approx(math.e)


def test_power_rule_at_zero_matches_torch():
    import torch

    for k in (0.5, 2.0, 1.0, 0.0):
        a = Value(0.0)
        (a ** k).backward()
        t = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
        (t ** k).backward()
        assert a.grad == t.grad.item(), (k, a.grad, t.grad.item())


def test_zero_to_a_negative_power_is_a_clear_error():
    with pytest.raises(ZeroDivisionError, match="zero cannot be raised to a negative power"):
        Value(0.0) ** -1


def test_exp_overflow_is_a_clear_error():
    with pytest.raises(OverflowError, match=r"exp\(1000\.0\) is too large for a float"):
        Value(1000.0).exp()
