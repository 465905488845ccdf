"""nblib.widgets.bptt: the BPTT stepper's frames, checked against autograd (no browser here;
tests/book/test_stepper_renderers.py draws them in Chromium)."""
import json

import pytest
import torch

from nblib.nn import rnn
from nblib.widgets import stepper
from nblib.widgets.bptt import BPTTStepper, bptt_frames

F64 = torch.float64


def _autograd_norms(ex):
    """|dL/dh_t| for t = 0..T and |h_t| by autograd, for L = u . h_T."""
    h = ex["h0"].clone() if "h0" in ex else torch.zeros(len(ex["b"]), dtype=F64)
    h.requires_grad_(True)
    states = [h]
    for x_t in ex["x"]:
        h = torch.tanh(ex["W_xh"][:, 0] * x_t + ex["W_hh"] @ h + ex["b"])
        h.retain_grad()
        states.append(h)
    (ex["u"] @ h).backward()
    return [float(s.grad.norm()) for s in states], [float(s.detach().norm()) for s in states]


@pytest.mark.parametrize("rho", [0.6, 1.5])
def test_frames_forward_left_to_right_then_backward_right_to_left(rho):
    ex = BPTTStepper.example(rho, steps=6, hidden=10, seed=3)
    frames = bptt_frames(**ex)
    T = 6
    assert len(frames) == 2 * T + 4                    # start, h0..hT, loss, T steps back, done
    phases = [f["phase"] for f in frames]
    assert phases == ["start"] + ["forward"] * (T + 1) + ["backward"] * (T + 1) + ["done"]
    grads, hnorms = _autograd_norms(ex)
    for k, f in enumerate(frames[1:T + 2]):            # forward: h_0 .. h_k known, no bars yet
        values = [c["value"] for c in f["cells"]]
        assert values[:k + 1] == pytest.approx(hnorms[:k + 1], rel=1e-5, abs=1e-6)
        assert values[k + 1:] == [None] * (T - k)
        assert f["active"] == [k] and all(v is None for v in f["bars"]["values"])
    for k, f in enumerate(frames[T + 2:]):             # backward: bars from h_{T-k} to h_T
        bars = f["bars"]["values"]
        first = max(T - k, 0)
        assert bars[:first] == [None] * first
        assert bars[first:] == pytest.approx(grads[first:], rel=1e-5, abs=1e-9)
        assert f["bars"]["max"] == pytest.approx(max(grads), rel=1e-5)
        assert f["loss"]["value"] == pytest.approx(float(ex["u"] @ rnn.rnn_forward(
            ex["x"][:, None, None], torch.zeros(1, 10, dtype=F64), ex["W_xh"], ex["W_hh"],
            ex["b"])[-1, 0]), abs=1e-6)
    assert frames[T + 2]["bars"]["values"][T] == pytest.approx(1.0)   # |u| = 1


@pytest.mark.parametrize("rho", [0.6, 1.5])
def test_each_backward_frame_names_its_factor_and_its_jacobian(rho):
    ex = BPTTStepper.example(rho, steps=5, hidden=8)
    frames = bptt_frames(**ex)
    grads, _ = _autograd_norms(ex)
    hs = rnn.rnn_forward(ex["x"][:, None, None], torch.zeros(1, 8, dtype=F64), ex["W_xh"],
                         ex["W_hh"], ex["b"])[:, 0]
    back = [f for f in frames if f["phase"] == "backward"][1:]
    for f, t in zip(back, range(5, 0, -1)):
        assert f["active_edges"] == [f"rec:{t}"] and f["active"] == [t - 1, t]
        assert f["edge_labels"] == {f"rec:{t}": f"×{grads[t - 1] / grads[t]:.3g}"}
        stretch = torch.linalg.matrix_norm(rnn.tanh_jacobian_t(ex["W_hh"], hs[t - 1]), ord=2)
        assert f"W_hhᵀ diag(1 − h{'₀₁₂₃₄₅'[t]}²), whose largest stretch is {float(stretch):.3g}" \
            in f["caption"]
        assert f["rule"] == f"dL/dh_{t - 1} = W_hh^T diag(1 - h_{t}^2) dL/dh_{t}"
        assert grads[t - 1] <= float(stretch) * grads[t] + 1e-12   # a norm never beats |J|


def test_spectral_radius_below_one_vanishes_above_one_explodes():
    s = BPTTStepper.with_spectral_radii((0.6, 1.5))
    assert s.renderer == "chain" and s.renderer in stepper.RENDERERS
    starts = s.frames[0]["selector"]["steps"]
    assert starts == [0, len(s.frames) // 2]
    done = [f for f in s.frames if f["phase"] == "done"]
    ratio = [f["bars"]["values"][0] / f["bars"]["values"][-1] for f in done]
    assert ratio[0] < 0.6 ** 8 * 1.5 and ratio[1] > 5, ratio
    assert "vanished" in done[0]["caption"] and "exploded" in done[1]["caption"]
    for k, f in enumerate(s.frames):
        sel = f["selector"]
        assert sel["current"] == (k >= starts[1]) and sel["labels"][0].startswith("ρ = 0.6")
    assert len(json.dumps(s.frames)) < 200_000


def test_the_tensors_are_left_unchanged():
    ex = BPTTStepper.example(1.2, steps=4, hidden=6)
    before = {k: v.clone() for k, v in ex.items()}
    BPTTStepper({"one": ex})
    for k in ex:
        assert torch.equal(ex[k], before[k]), k


def test_bad_inputs_get_clear_errors():
    ex = BPTTStepper.example(0.9, steps=3, hidden=4)
    with pytest.raises(ValueError, match=r"W_xh must have shape \(4, 1\), got \(4, 2\)"):
        bptt_frames(**{**ex, "W_xh": torch.zeros(4, 2, dtype=F64)})
    with pytest.raises(ValueError, match="x must have 1 dimensions, got shape"):
        bptt_frames(**{**ex, "x": torch.zeros(3, 1, dtype=F64)})
    with pytest.raises(TypeError, match="examples must be a non-empty dict"):
        BPTTStepper([ex])
    with pytest.raises(TypeError, match="example 'a' must be a dict with keys x, W_xh, W_hh, b, u"):
        BPTTStepper({"a": {"x": ex["x"]}})
