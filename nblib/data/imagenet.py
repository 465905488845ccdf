"""ImageNet-1k conventions for pretrained networks: class names and input preprocessing.

A network pretrained on ImageNet (Deng et al. 2009; Russakovsky et al. 2015) expects what it
saw in training: RGB images resized so the shorter side is 256, a 224x224 centre crop, pixels
scaled to [0, 1] and then standardised per channel with ImageNet's mean and std. The class
names (1,000, in the index order of the network's outputs) ship with the book as
``imagenet_classes.txt``, one per line.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from nblib import validate

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "imagenet_classes", "classes_file", "preprocess",
           "to_tensor_image", "CAT_CLASSES"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # per RGB channel, of pixels scaled to [0, 1]
IMAGENET_STD = (0.229, 0.224, 0.225)
CAT_CLASSES = (281, 282, 283, 284, 285)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


def classes_file() -> Path:
    """Where the book keeps the 1,000 ImageNet class names (one per line, index order)."""
    return Path(__file__).with_name("imagenet_classes.txt")


@lru_cache(maxsize=1)
def _read_classes() -> tuple[str, ...]:
    path = classes_file()
    if not path.is_file():
        raise FileNotFoundError(
            f"the ImageNet class names are missing: expected {path} (1,000 lines, shipped "
            f"with nblib as package data); reinstall nblib")
    names = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines()
                  if line.strip())
    if len(names) != 1000:
        raise ValueError(f"{path} must hold 1000 class names, one per line; found {len(names)}")
    return names


def imagenet_classes() -> list[str]:
    """The 1,000 ImageNet-1k class names, ``names[i]`` for output ``i`` of the network."""
    return list(_read_classes())


def to_tensor_image(image) -> Tensor:
    """A uint8 RGB image (H, W, 3), NumPy or torch, -> float (3, H, W) in [0, 1].

    Clear errors for the usual mistakes: a float image, a grey image, an RGBA image.
    """
    if isinstance(image, np.ndarray):
        image = torch.from_numpy(np.ascontiguousarray(image))
    validate.tensor("image", image, dtype=torch.uint8,
                    hint=" (pixels 0..255 as loaded from a file); a float image would be "
                         "scaled twice: convert it with (image * 255).round().to(torch.uint8) "
                         "if it is in [0, 1]")
    if image.ndim == 2:
        raise ValueError(f"image must be RGB (H, W, 3), got a grey image of shape "
                         f"{tuple(image.shape)}; repeat it: np.stack([image] * 3, axis=-1)")
    if image.ndim == 3 and image.shape[-1] == 4:
        raise ValueError(f"image must be RGB (H, W, 3), got RGBA {tuple(image.shape)}; drop "
                         f"the alpha channel: image[..., :3]")
    validate.array("image", image, shape=("H", "W", 3))
    return image.permute(2, 0, 1).float() / 255.0  # (3, H, W)


def preprocess(image, size: int = 224, resize: int | None = None, normalize: bool = True,
               device=None) -> Tensor:
    """ImageNet evaluation preprocessing: uint8 (H, W, 3) -> float32 (3, size, size).

    1. resize so that the shorter side is ``resize`` (default ``size * 256 / 224``, i.e.
       256 for 224), bilinear with antialiasing (so shrinking does not alias);
    2. crop the central ``size`` x ``size`` square;
    3. scale to [0, 1] and, when ``normalize``, subtract IMAGENET_MEAN and divide by
       IMAGENET_STD per channel.
    """
    validate.positive_int("size", size)
    resize = round(size * 256 / 224) if resize is None else validate.positive_int("resize", resize)
    if resize < size:
        raise ValueError(f"resize (the shorter side after resizing, {resize}) must be at least "
                         f"the crop size {size}")
    x = to_tensor_image(image).to(device)[None]  # (1, 3, H, W)
    h, w = x.shape[-2:]
    scale = resize / min(h, w)
    new_h, new_w = max(resize, round(h * scale)), max(resize, round(w * scale))
    x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False,
                      antialias=True)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    x = x[..., top:top + size, left:left + size]
    if normalize:
        mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
        x = (x - mean) / std
    return x[0].contiguous()  # (3, size, size)
