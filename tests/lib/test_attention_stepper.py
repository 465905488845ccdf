"""nblib.widgets.attention: the frames of the attention stepper hold the numbers of
F.scaled_dot_product_attention, step by step, and its selectors point at the right frames."""
import math

import pytest
import torch
import torch.nn.functional as F

from nblib.widgets import AttentionStepper, attention_frames
from nblib.widgets.attention import NEG_INF, OPERATIONS

TOKENS = ["the", "cat", "sat", "on", "the", "mat"]


def _qkv(H=2, L=6, S=6, d=4, dv=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(H, L, d, generator=g), torch.randn(H, S, d, generator=g),
            torch.randn(H, S, dv, generator=g))


def _col(frame, name):
    return next(c["values"] for c in frame["columns"] if c["name"] == name)


@pytest.mark.parametrize("mask", ["none", "causal", "padding", "float"])
def test_frames_hold_the_steps_of_pytorch_attention(mask):
    q, k, v = _qkv()
    kw, ref_mask, causal = {}, None, False
    if mask == "causal":
        kw, causal = {"is_causal": True}, True
    elif mask == "padding":  # the last two keys are padding
        ref_mask = torch.tensor([True] * 4 + [False] * 2)
        kw = {"attn_mask": ref_mask}
    elif mask == "float":
        ref_mask = torch.randn(6, 6, generator=torch.Generator().manual_seed(1))
        kw = {"attn_mask": ref_mask}
    frames = attention_frames(TOKENS, q, k, v, dims=5, ndigits=6, **kw)
    assert len(frames) == 2 * 6 * len(OPERATIONS)
    ref = F.scaled_dot_product_attention(q.double(), k.double(), v.double(), attn_mask=(
        ref_mask.double() if mask == "float" else ref_mask), is_causal=causal)
    for h in range(2):
        for i in range(6):
            first = (h * 6 + i) * 5
            scores, last = frames[first], frames[first + 4]
            assert scores["label"] == f"Head {h + 1}, query '{TOKENS[i]}': scores"
            expect = (q[h, i] @ k[h].T).tolist()
            assert _col(scores, "q·k") == pytest.approx(expect, abs=1e-5)
            assert _col(scores, "softmax") == [None] * 6  # not computed yet
            scaled = _col(frames[first + 1], "÷√d")
            assert scaled == pytest.approx([s / 2 for s in expect], abs=1e-5)  # sqrt(4)
            masked = _col(frames[first + 2], "masked")
            dead = [j for j, x in enumerate(masked) if x == NEG_INF]
            if mask == "causal":
                assert dead == list(range(i + 1, 6))
            elif mask == "padding":
                assert dead == [4, 5]
            else:
                assert dead == []
            w = _col(frames[first + 3], "softmax")
            assert sum(w) == pytest.approx(1, abs=1e-5) and all(w[j] == 0 for j in dead)
            assert last["output"]["values"] == pytest.approx(ref[h, i].tolist(), abs=1e-5)
            torch.testing.assert_close(torch.tensor(last["values"]["rows"]), v[h], atol=1e-5,
                                       rtol=0)
            assert [f["active_column"] for f in frames[first:first + 5]] == [0, 1, 2, 3, None]


def test_selectors_point_at_the_same_step_of_another_head_and_at_a_query_start():
    frames = attention_frames(TOKENS, *_qkv(H=3), queries=[1, 5], heads=[0, 2])
    assert len(frames) == 2 * 2 * 5
    for n, f in enumerate(frames):
        for hi, step in enumerate(f["heads"]["steps"]):
            other = frames[step]
            assert other["heads"]["current"] == hi
            assert other["queries"]["current"] == f["queries"]["current"]
            assert step % 5 == n % 5  # the same operation
        for qi, step in enumerate(f["queries"]["steps"]):
            assert frames[step]["queries"]["current"] == qi and step % 5 == 0
            assert frames[step]["heads"]["current"] == f["heads"]["current"]
    assert frames[0]["heads"]["labels"] == ["head 1", "head 3"]
    assert frames[0]["queries"]["labels"] == ["cat", "mat"]


def test_vectors_are_cut_to_dims_and_named_so():
    q, k, v = _qkv(d=8, dv=3)
    f = attention_frames(TOKENS, q, k, v, dims=2)[4]
    assert f["key_name"] == "k (first 2 of 8)" and f["values"]["name"] == "v (first 2 of 3)"
    assert len(f["query"]["vector"]) == 2 and all(len(r) == 2 for r in f["key_vectors"])
    scaled = _col(f, "÷√d")
    assert scaled == pytest.approx((q[0, 0] @ k[0].T / math.sqrt(8)).tolist(), abs=1e-3)


def test_single_head_and_cross_attention():
    g = torch.Generator().manual_seed(3)
    q, k, v = torch.randn(2, 4, generator=g), torch.randn(3, 4, generator=g), torch.randn(3, 2)
    frames = attention_frames(["le", "chat", "dort"], q, k, v, query_tokens=["the", "cat"])
    assert len(frames) == 2 * 5 and frames[0]["keys"] == ["le", "chat", "dort"]
    assert frames[5]["query"]["label"] == "cat" and frames[0]["heads"]["labels"] == ["head 1"]


def test_stepper_opens_at_the_chosen_query_and_stays_small():
    s = AttentionStepper(TOKENS, *_qkv(), query=2, is_causal=True, title="t")
    assert s.renderer == "attention" and s.step == 10 and s.n_steps == 60
    assert repr(s) == "AttentionStepper(steps=60, renderer='attention', title='t')"
    assert AttentionStepper(TOKENS, *_qkv()).step == 25  # default: the last query
    big = AttentionStepper([f"t{i}" for i in range(12)], *_qkv(H=12, L=12, S=12, d=32, dv=32))
    assert big.n_steps == 720  # MiniLM-sized: 12 heads x 12 tokens x 5 steps, within budget


@pytest.mark.parametrize("call, match", [
    (lambda q, k, v: attention_frames(TOKENS[:5], q, k, v), "tokens has 5 labels, but k has 6"),
    (lambda q, k, v: attention_frames(TOKENS, q, k[:1], v), "k has 1 heads, query has 2"),
    (lambda q, k, v: attention_frames(TOKENS, q[0, 0], k, v), r"\(T, d\) or \(heads, T, d\)"),
    (lambda q, k, v: attention_frames(TOKENS, q, k, v, queries=[6]), r"indices in \[0, 6\)"),
    (lambda q, k, v: attention_frames(TOKENS, q[:, :2], k, v), "give query_tokens"),
    (lambda q, k, v: attention_frames(TOKENS, q, k, v, head_names=["a"]), "1 head_names"),
    (lambda q, k, v: AttentionStepper(TOKENS, q, k, v, query=9), "index the 6 queries"),
    (lambda q, k, v: attention_frames(TOKENS, q.long(), k, v), "floating-point"),
])
def test_bad_inputs_get_clear_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(*_qkv())


# ---------------------------------------------------------------- image patches (a ViT)

def _image(H=8, W=12):
    g = torch.Generator().manual_seed(4)
    return torch.rand(H, W, generator=g) * 3 - 1        # any range: drawn from min to max


def test_patch_tokens_label_cls_then_patches_row_by_row():
    from nblib.widgets.attention import patch_tokens
    assert patch_tokens((2, 3)) == ["[CLS]", "p(0,0)", "p(0,1)", "p(0,2)", "p(1,0)", "p(1,1)",
                                    "p(1,2)"]
    assert patch_tokens(2, prefix=()) == ["p(0,0)", "p(0,1)", "p(1,0)", "p(1,1)"]


def test_image_frames_place_every_key_on_its_patch_and_shade_by_the_current_step():
    from nblib.widgets.attention import patch_tokens
    tokens = patch_tokens((2, 3))                       # [CLS] + 6 patches of 4 x 4 pixels
    q, k, v = _qkv(H=2, L=7, S=7)
    img = _image()
    frames = attention_frames(tokens, q, k, v, image=img, patch_size=4)
    assert len(frames) == 2 * 7 * 5
    for n, f in enumerate(frames):
        view, i, op = f["image"], (n // 5) % 7, n % 5
        assert (view["height"], view["width"], view["patch"]) == (8, 12, 4)
        assert view["key_patches"] == [None] + [[r, c] for r in range(2) for c in range(3)]
        assert view["query_patch"] == (None if i == 0 else view["key_patches"][i])
        assert view["query_key"] == i
        assert view["shade"] == min(op, 3) and f["columns"][view["shade"]]["values"][0] is not None
    pixels = bytes.fromhex(frames[0]["image"]["pixels"])  # 2 hex digits a pixel, row by row
    assert len(pixels) == 8 * 12 and min(pixels) == 0 and max(pixels) == 255
    grey = (img - img.min()) / (img.max() - img.min()) * 255
    assert torch.equal(torch.tensor(list(pixels)).reshape(8, 12), grey.round().to(torch.uint8).long())
    # without an image the frames are exactly those of before
    plain = attention_frames(tokens, q, k, v)
    assert [{k: x for k, x in f.items() if k != "image"} for f in frames] == plain


def test_image_stepper_cross_attention_has_no_query_patch_and_stays_small():
    from nblib.widgets.attention import patch_tokens
    tokens = patch_tokens((4, 4))
    q, k, v = _qkv(H=4, L=2, S=17, d=8, dv=8)
    frames = attention_frames(tokens, q, k, v, image=torch.rand(1, 28, 28), patch_size=7,
                              query_tokens=["a", "b"])
    assert all(f["image"]["query_patch"] is None and f["image"]["query_key"] is None
               for f in frames)
    s = AttentionStepper(tokens, *_qkv(H=4, L=17, S=17, d=12, dv=12), image=torch.rand(28, 28),
                         patch_size=7, queries=[0, 5, 10], query=1)
    assert s.n_steps == 4 * 3 * 5 and s.step == 5 and s.frames[5]["image"]["query_patch"] == [1, 0]


@pytest.mark.parametrize("kw, match", [
    ({"image": torch.rand(8, 12)}, "needs its patch_size"),
    ({"image": torch.rand(8, 12), "patch_size": 5}, "patch_size = 5 must divide the image size 8 x 12"),
    ({"image": torch.rand(16, 12), "patch_size": 4}, "has 12 patches, but there are only 7 keys"),
    ({"image": torch.rand(3, 8, 12), "patch_size": 4}, r"grayscale image \(H, W\)"),
    ({"image": torch.ones(8, 12, dtype=torch.long), "patch_size": 4}, "floating-point"),
])
def test_bad_images_get_clear_errors(kw, match):
    from nblib.widgets.attention import patch_tokens
    with pytest.raises((ValueError, TypeError), match=match):
        attention_frames(patch_tokens((2, 3)), *_qkv(H=1, L=7, S=7), **kw)
