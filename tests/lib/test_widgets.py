"""nblib.widgets: the Stepper's frame contract and BackpropStepper's frames, checked against PyTorch."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import nblib.widgets as widgets
from nblib.autograd import Value, derivative_texts, topological_order
from nblib.widgets import BackpropStepper, Stepper, backprop_frames, jsonable, validate_frames
from paths import ROOT



# ---------------------------------------------------------------- Stepper: frames contract

def test_stepper_accepts_plain_frames_and_starts_at_step_0():
    s = Stepper([{"values": [1, 2], "caption": "a"}, {"values": [2, 1]}], renderer="bars")
    assert s.n_steps == 2 and s.step == 0 and s.renderer == "bars"
    s.step = 1
    assert s.step == 1


def test_repr_is_deterministic():
    frames = [{"caption": str(i)} for i in range(3)]
    assert repr(Stepper(frames, renderer="matrix")) == "Stepper(steps=3, renderer='matrix')"
    assert repr(Stepper(frames, title="T")) == repr(Stepper(frames, title="T"))
    assert repr(Stepper(frames, title="T")) == "Stepper(steps=3, renderer='graph', title='T')"


@pytest.mark.parametrize("frames, error, message", [
    ([], ValueError, "must not be empty"),
    ("abc", TypeError, "frames must be a list of dicts, got str"),
    ([{"a": 1}, 5], TypeError, "frame 1 must be a dict, got int"),
    ([{1: 1}], TypeError, "frame 0: keys must be str"),
    ([{"ok": 1}, {"v": [1.0, float("nan")]}], ValueError, "frame 1, key 'v[1]'"),
    ([{"m": {"x": float("inf")}}], ValueError, "frame 0, key 'm.x'"),
    ([{"t": torch.ones(2)}], TypeError, "frame 0, key 't': torch.Tensor is not JSON-serialisable"),
    ([{"a": [{"b": np.zeros(2)}]}], TypeError, "frame 0, key 'a[0].b': numpy.ndarray"),
    ([{"x": np.float32(1.5)}], TypeError, "numpy.float32"),
])
def test_invalid_frames_are_rejected_with_the_frame_and_key(frames, error, message):
    with pytest.raises(error, match=message.replace("[", r"\[").replace("(", r"\(")):
        Stepper(frames)


def test_frames_over_the_size_budget_are_rejected_with_both_sizes():
    big = [{"values": [0.123456789] * 1000} for _ in range(200)]  # about 2.4 MB of JSON
    with pytest.raises(ValueError, match=r"bytes of JSON, over the budget of 2,000,000 bytes"):
        Stepper(big)
    with pytest.raises(ValueError, match=r"over the budget of 100 bytes"):
        validate_frames([{"a": "x" * 200}], max_bytes=100)


def test_assigning_frames_later_is_validated_too():
    s = Stepper([{"a": 1}])
    with pytest.raises(TypeError, match="frame 0, key 'a'"):
        s.frames = [{"a": object()}]


def test_renderer_and_step_are_checked():
    with pytest.raises(Exception, match="renderer must be one of"):
        Stepper([{"a": 1}], renderer="pie")
    s = Stepper([{"a": 1}, {"a": 2}])
    with pytest.raises(Exception, match=r"step must be in 0\.\.1"):
        s.step = 2


def test_jsonable_converts_tensors_and_numpy():
    data = {"t": torch.tensor([[1.0, 2.0]]), "n": np.array([1, 2]), "s": np.float64(0.5),
            "r": torch.tensor(1.23456), "nested": (np.int64(3), [torch.zeros(1)])}
    out = jsonable(data, ndigits=2)
    assert out == {"t": [[1.0, 2.0]], "n": [1, 2], "s": 0.5, "r": 1.23, "nested": [3, [[0.0]]]}
    json.dumps(out, allow_nan=False)
    Stepper([out])  # accepted as a frame


def test_frames_are_copied():
    frame = {"values": [1, 2]}
    s = Stepper([frame])
    frame["values"].append(3)
    assert s.frames[0]["values"] == [1, 2]


def test_js_and_css_are_package_files_and_embedded_in_the_widget():
    s = Stepper([{"a": 1}])
    here = Path(widgets.__file__).parent
    assert (here / "stepper.js").read_text() == s._esm
    assert (here / "stepper.css").read_text() == s._css
    assert "export default" in s._esm
    # the front end must never reach the network: everything it needs is in the frames
    assert "http" not in s._esm.replace("http://www.w3.org/2000/svg", "")


# ---------------------------------------------------------------- BackpropStepper

def _neuron():
    """o = tanh(x1*w1 + x2*w2 + b): the classic micrograd example, with names."""
    x1, w1 = Value(2.0, label="x1"), Value(-3.0, label="w1")
    x2, w2 = Value(0.0, label="x2"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return o, {"x1": x1, "w1": w1, "x2": x2, "w2": w2, "b": b}


def _diamond():
    """A value used twice and a reused intermediate: gradients must accumulate."""
    a = Value(1.5, label="a")
    c = a * a
    c.label = "c"
    d = c * a + c.tanh()
    d.label = "L"
    return d, {"a": a}


@pytest.mark.parametrize("build", [_neuron, _diamond])
def test_backprop_frames_count_and_final_gradients_match_torch(build):
    root, leaves = build()
    order = topological_order(root)
    n_edges = sum(len(node._prev) for node in order)
    frames = backprop_frames(root)
    # one frame per node forward, one for dL/dL = 1, one per edge backward, one summary
    assert len(frames) == len(order) + 1 + n_edges + 1
    assert [f["phase"] for f in frames].count("forward") == len(order)

    # the same graph in PyTorch
    torch_leaves = {k: torch.tensor(v.data, dtype=torch.float64, requires_grad=True)
                    for k, v in leaves.items()}
    if build is _neuron:
        t = torch.tanh(torch_leaves["x1"] * torch_leaves["w1"] + torch_leaves["x2"] * torch_leaves["w2"]
                       + torch_leaves["b"])
    else:
        a = torch_leaves["a"]
        t = (a * a) * a + torch.tanh(a * a)
    t.backward()

    final = {node["name"]: node for node in frames[-1]["nodes"]}
    assert final[root.label]["value"] == pytest.approx(t.item())
    for name, tensor in torch_leaves.items():
        assert final[name]["grad"] == pytest.approx(tensor.grad.item(), rel=1e-9, abs=1e-12)


def test_backprop_forward_frames_reveal_values_in_topological_order():
    root, _ = _neuron()
    frames = backprop_frames(root)
    order = topological_order(root)
    for k, node in enumerate(order):
        shown = [n["value"] is not None for n in frames[k]["nodes"]]
        assert shown == [i <= k for i in range(len(order))]
        assert frames[k]["active_nodes"] == [f"n{k}"]
        assert all(n["grad"] is None for n in frames[k]["nodes"])


def test_backprop_edge_frames_state_the_chain_rule_with_numbers():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b
    c.label = "c"
    L = c * 0.5
    L.label = "L"
    captions = [f["caption"] for f in backprop_frames(L)]
    assert "Chain rule along a → c: dL/da += dL/dc * b = 0.5 * -3 = -1.5; dL/da is now -1.5." in captions
    assert any("dL/dL = 1" in c for c in captions)


def test_backprop_captions_show_the_derived_local_derivative_of_each_op():
    root, _ = _neuron()
    frames = {f["label"]: f for f in backprop_frames(root)}
    tanh_edge = frames["backward, edge n → o"]
    assert tanh_edge["caption"] == ("Chain rule along n → o: do/dn += do/do * (1 - o ** 2) = "
                                    "1 * 0.5 = 0.5; do/dn is now 0.5.")
    assert tanh_edge["rule"] == "o = tanh(n):   d tanh(a)/da = 1 - tanh(a) ** 2"
    assert "do/dx1 += do/dv2 * w1 = " in frames["backward, edge x1 → v2"]["caption"]
    assert "do/dw1 += do/dv2 * x1 = " in frames["backward, edge w1 → v2"]["caption"]


def _every_op():
    """A graph with every kind of op and a value used many times."""
    a, b, c = Value(0.7, label="a"), Value(-1.3, label="b"), Value(1.9, label="c")
    h = (a * b + c.tanh()) / (b**2 + 1) - a.sigmoid() * 3
    L = h.exp() + c.log() + (a - b).relu() + c**a + (-h) ** 0.5
    L.label = "L"
    return L


def test_backprop_captions_of_every_op_evaluate_to_the_local_gradient():
    """Each edge caption writes d child/d parent in the graph's names; evaluated with the
    graph's values, that text is the local gradient (which test_autograd checks against torch)."""
    root = _every_op()
    order = topological_order(root)
    edges = [(child, slot) for child in reversed(order) for slot in range(len(child._prev))]
    frames = backprop_frames(root)
    edge_frames = [f for f in frames if f["label"].startswith("backward, edge")]
    assert len(edge_frames) == len(edges)
    names = {n["id"]: n["name"] for n in frames[-1]["nodes"]}
    env = {n["name"]: n["value"] for n in frames[-1]["nodes"]} | {"log": math.log}
    ops = set()
    for (child, slot), frame in zip(edges, edge_frames):
        child_id, parent_id = frame["active_nodes"]
        c, p = names[child_id], names[parent_id]
        # 'Chain rule along p → c: dL/dp += dL/dc * <local> = <g> * <number> = ...'
        local = frame["caption"].split(f" += dL/d{c} * ", 1)[1].rsplit(" = ", 2)[0]
        assert local == derivative_texts(child._op, [names[f"n{order.index(q)}"]
                                                     for q in child._prev], c, factor=True)[slot]
        assert eval(local, env) == pytest.approx(child.local_grads()[slot], rel=1e-12), local
        ops.add(child._op)
    assert ops == {"+", "-", "*", "/", "**", "**2", "**0.5", "neg", "exp", "log", "tanh", "relu",
                   "sigmoid"}


def test_backprop_layout_goes_left_to_right_by_depth():
    root, _ = _neuron()
    nodes = {n["name"]: n for n in backprop_frames(root)[0]["nodes"]}
    assert nodes["x1"]["x"] < nodes["n"]["x"] < nodes["o"]["x"]
    positions = [(n["x"], n["y"]) for n in nodes.values()]
    assert len(set(positions)) == len(positions), "two nodes drawn on top of each other"


def test_backprop_stepper_leaves_the_graph_grads_alone():
    root, leaves = _neuron()
    leaves["x1"].grad = 42.0  # whatever the reader had: the stepper must not change it
    s = BackpropStepper(root)
    assert leaves["x1"].grad == 42.0 and root.grad == 0.0
    assert repr(s) == f"BackpropStepper(steps={s.n_steps}, renderer='graph', title='Backpropagation through o')"
    assert repr(BackpropStepper(root, title="Neuron")).endswith("title='Neuron')")


def test_backprop_stepper_refuses_a_non_value():
    with pytest.raises(TypeError, match="needs an nblib.autograd.Value"):
        BackpropStepper(torch.tensor(1.0))


def test_backprop_frames_are_small():
    root, _ = _neuron()
    size = len(json.dumps(backprop_frames(root)))
    assert size < 100_000, size


# ---------------------------------------------------------------- the book's npm assets

def test_anywidget_js_is_pinned_to_the_python_version():
    """The static book serves anywidget's JS from npm: it must be the version Python uses."""
    import anywidget

    manifest = json.loads((ROOT / "package.json").read_text())
    assert manifest["dependencies"]["anywidget"] == anywidget.__version__, (
        "package.json pins anywidget to a different version than the Python package: "
        "run `npm install --save-exact anywidget@<python version>` and commit package-lock.json")
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/anywidget"]["version"] == anywidget.__version__
    for name, version in manifest["dependencies"].items():  # exact pins, locked
        assert version[0].isdigit(), f"{name}: pin an exact version, not {version!r}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
