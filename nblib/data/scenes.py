"""Detection scenes: several real MNIST digits pasted on one canvas, with boxes and labels.

:func:`make_scenes` draws ``n`` square canvases (``size`` x ``size`` pixels, black). Each holds
between ``digits[0]`` and ``digits[1]`` real digits of :func:`nblib.data.load_mnist28`, each
resized to a random side (``scale``, in pixels, of the 28 x 28 image) and pasted at a random
position; where digits overlap, the brighter pixel wins (``max``). A scene's targets are

- ``boxes`` (k, 4) float32, ``(x1, y1, x2, y2)`` in pixels, **tight to the ink**: the smallest
  box holding every pixel of that digit brighter than ``ink`` (0.3). Coordinates are pixel
  *edges*: a box from column 3 to column 7 inclusive is ``x1 = 3, x2 = 8``; its width
  ``x2 - x1`` counts pixels. This is COCO's convention (``[x, y, w, h]`` = ``[x1, y1, x2 - x1,
  y2 - y1]``) and torchvision's ``(x1, y1, x2, y2)`` box format.
- ``labels`` (k,) int64, the digit classes 0-9;
- ``instances`` (size, size) int64: for each pixel, the index (0..k-1) of the digit that is
  brightest there if it is ink, else -1 (background). :func:`patch_labels` reads it.

The split decides which digits are used: ``split="train"`` scenes paste only the training
digits of ``mnist28``, ``"val"`` the validation digits and ``"test"`` the test digits, so no
test digit is ever seen in training. Everything follows from ``seed``: the same arguments give
the same scenes, bit for bit. Placement rejects a digit whose box would overlap an earlier one
with IoU above ``max_iou`` (up to 50 tries, then the digit is left out), so scenes may show
partly overlapping digits, the classic hard case of a detector, but never one digit hidden
behind another.

:func:`patch_labels` turns a scene into a coarse label map, one label per ``patch`` x ``patch``
square: the class of the digit that covers most of the square, or ``background`` (10) where no
digit covers enough of it. Chapter 07 (detection) and chapter 14 (segmentation with a Vision
Transformer) use it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from nblib import validate

__all__ = ["Scene", "Scenes", "make_scenes", "patch_labels", "draw_scene", "BACKGROUND", "INK"]

BACKGROUND = 10  # the label of "no digit" in patch_labels (digits are 0-9)
INK = 0.3        # a pixel brighter than this belongs to its digit


@dataclass(frozen=True)
class Scene:
    """One canvas: ``image`` (1, S, S) float32 in [0, 1], ``boxes`` (k, 4) float32
    (x1, y1, x2, y2), ``labels`` (k,) int64, ``instances`` (S, S) int64 (-1: background)."""

    image: torch.Tensor
    boxes: torch.Tensor
    labels: torch.Tensor
    instances: torch.Tensor


@dataclass(frozen=True)
class Scenes:
    """``n`` scenes: ``images`` (n, 1, S, S), per-scene lists ``boxes`` and ``labels``, and
    ``instances`` (n, S, S). ``scenes[i]`` is one :class:`Scene`; ``len(scenes)`` is ``n``."""

    images: torch.Tensor
    boxes: list[torch.Tensor]
    labels: list[torch.Tensor]
    instances: torch.Tensor
    split: str
    num_classes: int = 10

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> Scene:
        return Scene(self.images[i], self.boxes[i], self.labels[i], self.instances[i])

    @property
    def size(self) -> int:
        """The canvas side, in pixels."""
        return self.images.shape[-1]

    def __repr__(self) -> str:
        k = sum(len(b) for b in self.boxes)
        return (f"Scenes({self.split!r}, n={len(self)}, size={self.size}, digits={k}, "
                f"num_classes={self.num_classes})")


def _box_iou_np(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one (4,) box with each of (m, 4) boxes."""
    w = np.clip(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0, None)
    h = np.clip(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0, None)
    inter = w * h
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / (area + areas - inter)


def _mnist28():
    """mnist28 (its file is parsed once per process, in :mod:`nblib.data.mnist28`)."""
    from nblib.data.mnist28 import load_mnist28

    return load_mnist28()


def _digits(split: str) -> tuple[torch.Tensor, np.ndarray]:
    """The ``split`` digits of mnist28: images (N, 28, 28) and labels (N,)."""
    mnist = _mnist28()
    return getattr(mnist, f"x_{split}")[:, 0], getattr(mnist, f"y_{split}").numpy()


def make_scenes(n: int, split: str = "train", *, size: int = 64, digits: tuple[int, int] = (1, 4),
                scale: tuple[int, int] = (14, 36), max_iou: float = 0.3,
                seed: int = 0) -> Scenes:
    """``n`` detection scenes built from the ``split`` digits of ``mnist28`` (see the module).

    ``size``: canvas side in pixels; ``digits``: (min, max) digits per scene, inclusive;
    ``scale``: (min, max) side in pixels of a resized 28 x 28 digit image, inclusive (its ink
    is about 70 % of that); ``max_iou``: the largest IoU allowed between two digits' boxes.
    """
    validate.positive_int("n", n)
    validate.choice("split", split, ("train", "val", "test"))
    validate.positive_int("size", size)
    validate.integer("seed", seed, ge=0)
    validate.number("max_iou", max_iou, ge=0, le=1)
    lo, hi = digits
    if not (1 <= lo <= hi):
        raise ValueError(f"digits must be (min, max) with 1 <= min <= max, got {digits!r}")
    s_lo, s_hi = scale
    if not (4 <= s_lo <= s_hi <= size):
        raise ValueError(f"scale must be (min, max) with 4 <= min <= max <= size = {size}, "
                         f"got {scale!r}")
    pool_x, pool_y = _digits(split)
    rng = np.random.default_rng(seed)
    # first every scene's digits and their sizes, then all resizing in one call per size
    counts = rng.integers(lo, hi + 1, size=n)
    which = rng.integers(len(pool_x), size=int(counts.sum()))
    sides = rng.integers(s_lo, s_hi + 1, size=int(counts.sum()))
    resized = [None] * len(which)
    for side in np.unique(sides):
        at = np.nonzero(sides == side)[0]
        batch = F.interpolate(pool_x[which[at]][:, None], size=(int(side), int(side)),
                              mode="bilinear", align_corners=False, antialias=True)
        for a, digit in zip(at, batch[:, 0].clamp(0.0, 1.0).numpy()):
            resized[a] = digit
    images = np.zeros((n, 1, size, size), dtype=np.float32)
    instances = np.full((n, size, size), -1, dtype=np.int64)
    all_boxes, all_labels, next_digit = [], [], 0
    for i in range(n):
        brightest, owner = images[i, 0], instances[i]
        boxes, labels = [], []
        for a in range(next_digit, next_digit + int(counts[i])):
            digit, side = resized[a], int(sides[a])
            ink = digit > INK
            rows, cols = np.nonzero(ink.any(1))[0], np.nonzero(ink.any(0))[0]
            if len(rows) == 0:
                continue
            r0, r1 = rows[0], rows[-1] + 1  # the ink's extent inside the resized digit
            c0, c1 = cols[0], cols[-1] + 1
            for _try in range(50):
                # top-left corner of the digit image, so that its ink lies inside the canvas
                y = int(rng.integers(-r0, size - r1 + 1))
                x = int(rng.integers(-c0, size - c1 + 1))
                box = np.array([x + c0, y + r0, x + c1, y + r1], dtype=np.float64)
                if not boxes or _box_iou_np(box, np.array(boxes)).max() <= max_iou:
                    break
            else:
                continue
            # paste the part of the digit image that falls on the canvas
            ys, xs = slice(max(y, 0), min(y + side, size)), slice(max(x, 0), min(x + side, size))
            patch = digit[ys.start - y:ys.stop - y, xs.start - x:xs.stop - x]
            region = brightest[ys, xs]
            wins = (patch > region) & (patch > INK)
            owner[ys, xs][wins] = len(boxes)
            np.maximum(region, patch, out=region)
            boxes.append(box)
            labels.append(int(pool_y[which[a]]))
        next_digit += int(counts[i])
        all_boxes.append(torch.tensor(np.array(boxes).reshape(-1, 4), dtype=torch.float32))
        all_labels.append(torch.tensor(labels, dtype=torch.int64))
    images, instances = torch.from_numpy(images), torch.from_numpy(instances)
    return Scenes(images, all_boxes, all_labels, instances, split)


def patch_labels(scene: Scene | Scenes, patch: int, *, min_fraction: float = 0.05,
                 background: int = BACKGROUND) -> torch.Tensor:
    """One label per ``patch`` x ``patch`` square of a scene: a coarse segmentation target.

    For each square, count its pixels that belong to each digit's ink (``scene.instances``);
    the square gets the class of the digit with the most pixels there, provided that digit
    covers at least ``min_fraction`` of the square, else ``background`` (10). Ties go to the
    digit pasted first. ``patch`` must divide the canvas side.

    Returns (S/patch, S/patch) int64 for a :class:`Scene`, (n, S/patch, S/patch) for
    :class:`Scenes`: row ``r``, column ``c`` is the square of pixels
    ``[r*patch, (r+1)*patch) x [c*patch, (c+1)*patch)``, the order of a ViT's patches.
    """
    validate.positive_int("patch", patch)
    validate.number("min_fraction", min_fraction, ge=0, le=1)
    if isinstance(scene, Scene):
        instances, labels = scene.instances[None], [scene.labels]
    elif isinstance(scene, Scenes):
        instances, labels = scene.instances, scene.labels
    else:
        raise TypeError(f"scene must be a Scene or Scenes (from make_scenes), got "
                        f"{type(scene).__name__}")
    n, size = instances.shape[0], instances.shape[-1]
    if size % patch:
        raise ValueError(f"patch = {patch} must divide the canvas side {size}")
    g, k = size // patch, max([len(t) for t in labels] + [1])
    # (n, g, patch, g, patch) -> (n, g, g, patch*patch): the pixels of each square
    squares = instances.reshape(n, g, patch, g, patch).permute(0, 1, 3, 2, 4).reshape(n, g, g, -1)
    counts = torch.stack([(squares == d).sum(-1) for d in range(k)], -1)  # (n, g, g, k)
    padded = torch.full((n, k), background, dtype=torch.int64)
    for i, t in enumerate(labels):
        padded[i, :len(t)] = t
    most, best = counts.max(-1)  # first maximum: the digit pasted first wins ties
    out = padded.gather(1, best.reshape(n, -1)).reshape(n, g, g)
    out[(most == 0) | (most < min_fraction * patch * patch)] = background
    return out[0] if isinstance(scene, Scene) else out


def draw_scene(ax, image: torch.Tensor, boxes: torch.Tensor | None = None,
               labels: torch.Tensor | None = None, scores: torch.Tensor | None = None, *,
               color: str = "lime", linestyle: str = "-", title: str | None = None) -> None:
    """Draw a scene (1, S, S) on ``ax`` with its boxes, each tagged with its label (and score).

    Call it twice on one axis to compare ground truth and detections (say dashed and solid).
    """
    from matplotlib import patches

    if image is not None:
        ax.imshow(image.detach().cpu().reshape(image.shape[-2:]), cmap="gray", vmin=0, vmax=1)
    boxes = torch.zeros(0, 4) if boxes is None else boxes.detach().cpu()
    for k, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        # pixel i covers [i - 0.5, i + 0.5] in imshow's coordinates: box edges sit at -0.5
        ax.add_patch(patches.Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False,
                                       edgecolor=color, linewidth=1.5, linestyle=linestyle))
        text = "" if labels is None else str(int(labels[k]))
        if scores is not None:
            text += f" {float(scores[k]):.2f}"
        if text:
            ax.text(x1 - 0.5, y1 - 1.5, text, color=color, fontsize=8, va="bottom",
                    fontweight="bold")
    ax.set(xticks=[], yticks=[])
    if title:
        ax.set_title(title, fontsize=9)
