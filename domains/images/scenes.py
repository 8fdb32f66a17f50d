"""Captioned digit scenes (``data.name: digit_scenes``): text-to-image data made offline.

Each scene is a square canvas split into a left and a right cell with one scikit-learn digit
in each, drawn large (the whole cell) or small (5/8 of it), and a caption stating what is
where and how big: "a large 3 left of a small 7", or the same scene said from the other side,
"a small 7 right of a large 3". Ten (left, right) digit pairs never occur in training
(``HELD_OUT``: 3·left + right ≡ 0 mod 10, so every digit is held out once on each side); the
test split has all 100, so a model can be scored on combinations it never saw.

:func:`compositional_scores` checks generated scenes against their captions: the digit CNN
(``features.DigitCNN``, the one behind ``fd_digitcnn``) reads each cell's digit from the cell's
ink cropped and scaled to the digits' frame, and the cell's ink extent tells large from small.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from multigen.domain import DomainError
from multigen.text import Tokenizer, words

from . import data

SIZES = ("large", "small")
DIGITS = tuple("0123456789")
SMALL = 5 / 8  # a small digit's side as a share of the cell
INK = 0.25  # a pixel is ink above this level (images in [0, 1])


def held_out(left: int, right: int) -> bool:
    """The ten digit pairs kept out of training."""
    return (3 * left + right) % 10 == 0


@dataclass(frozen=True)
class Scene:
    left: int
    right: int
    left_size: str
    right_size: str

    def caption(self, from_right: bool = False) -> str:
        if from_right:
            return f"a {self.right_size} {self.right} right of a {self.left_size} {self.left}"
        return f"a {self.left_size} {self.left} left of a {self.right_size} {self.right}"


def parse(caption: str) -> Scene:
    """The scene a caption of this grammar asks for; anything else is refused in one line."""
    ws = words(caption)
    ok = (
        len(ws) == 8
        and ws[0] == ws[5] == "a"
        and ws[4] == "of"
        and ws[1] in SIZES
        and ws[6] in SIZES
        and ws[3] in ("left", "right")
        and ws[2] in DIGITS
        and ws[7] in DIGITS
    )
    if not ok:
        raise DomainError(
            f"caption {caption!r} is not of the form 'a large|small D left|right of a "
            "large|small D' (D a digit 0-9)"
        )
    first, second = (int(ws[2]), ws[1]), (int(ws[7]), ws[6])
    if ws[3] == "right":
        first, second = second, first
    return Scene(first[0], second[0], first[1], second[1])


def _place(canvas: Tensor, digit: Tensor, left: bool, size: str) -> None:
    """Draw ``digit [8, 8]`` (ink in [0, 1]) into the left or right cell of ``canvas``."""
    side = canvas.shape[-1]
    half = side // 2
    px = half if size == "large" else max(2, round(half * SMALL))
    img = F.interpolate(digit[None, None], size=(px, px), mode="bilinear", align_corners=False)
    top = (side - px) // 2
    x0 = (0 if left else half) + (half - px) // 2
    canvas[top : top + px, x0 : x0 + px] = img[0, 0]


def render(scene: Scene, left_digit: Tensor, right_digit: Tensor, side: int) -> Tensor:
    """A scene as a ``[side, side]`` float image in [0, 1]."""
    canvas = torch.zeros(side, side)
    _place(canvas, left_digit, True, scene.left_size)
    _place(canvas, right_digit, False, scene.right_size)
    return canvas.clamp(0, 1)


class ScenesDataset(data.ImageDataset):
    """Scene images with their captions' token ids as the condition."""

    def __init__(self, images: Tensor, captions: list[str], scenes: list[Scene], name: str):
        super().__init__(images, None, None, name)
        self.captions, self.scenes = captions, scenes
        self.tokenizer = Tokenizer.fit(all_captions(), examples=example_captions())
        self.tokens = self.tokenizer.encode(captions)

    def __getitem__(self, i: int):
        return data.to_float(self.images[i]), self.tokens[i]


def all_captions() -> list[str]:
    """Every caption the grammar makes (the vocabulary is fixed by the grammar, not the split)."""
    out = []
    for left in range(10):
        for right in range(10):
            for ls in SIZES:
                for rs in SIZES:
                    scene = Scene(left, right, ls, rs)
                    out += [scene.caption(False), scene.caption(True)]
    return out


def example_captions() -> list[str]:
    """Captions sampled when none is given: ten seen and ten held-out combinations."""
    seen = [Scene(d, (d + 1) % 10, SIZES[d % 2], SIZES[(d // 2) % 2]) for d in range(10)]
    unseen = [Scene(d, (10 - 3 * d) % 10, SIZES[d % 2], SIZES[(d // 2) % 2]) for d in range(10)]
    return [s.caption(i % 2 == 1) for i, s in enumerate(seen + unseen)]


def make_scenes(split: str, n: int, side: int = 16, seed: int = 0) -> ScenesDataset:
    """``n`` scenes from the digits of ``split``; training leaves out the held-out pairs."""
    data._check_split(split, ("train", "test"), "digit_scenes")
    if side % 2 or side < 8:
        raise DomainError(f"digit_scenes: size must be an even number >= 8, got {side}")
    if n < 1:
        raise DomainError(f"digit_scenes: n must be >= 1, got {n}")
    ds = data.load_digits_dataset(None, split, size=8)
    digits = ds.images[:, 0].float() / 255.0
    by_class = [torch.nonzero(ds.labels == d).reshape(-1).tolist() for d in range(10)]
    pairs = [(a, b) for a in range(10) for b in range(10)]
    if split == "train":
        pairs = [p for p in pairs if not held_out(*p)]
    rng = random.Random(f"digit_scenes:{split}:{seed}")
    images, captions, scenes = [], [], []
    for _ in range(n):
        left, right = rng.choice(pairs)
        scene = Scene(left, right, rng.choice(SIZES), rng.choice(SIZES))
        img = render(
            scene, digits[rng.choice(by_class[left])], digits[rng.choice(by_class[right])], side
        )
        images.append(img)
        captions.append(scene.caption(from_right=rng.random() < 0.5))
        scenes.append(scene)
    x = (torch.stack(images)[:, None] * 255).round().to(torch.uint8)
    return ScenesDataset(x, captions, scenes, f"digit_scenes:{split}")


def scenes_loader(path: Any, split: str = "train", size: int = 16, n: int | None = None,
                  seed: int = 0) -> ScenesDataset:  # fmt: skip
    """``data.name: digit_scenes``; params ``size`` (16), ``n`` (8,000 train / 1,000 test
    scenes), ``seed`` (0)."""
    return make_scenes(split, n or (8000 if split == "train" else 1000), size, seed)


def describe_text(ds: ScenesDataset) -> dict[str, Any]:
    return {"text": ds.tokenizer.to_info()}


# ---- scoring --------------------------------------------------------------------------------
def _cells(images: Tensor) -> tuple[Tensor, Tensor]:
    """The left and right cells (``S/2`` square, centred vertically) of ``[N, 1, S, S]``."""
    side = images.shape[-1]
    half, top = side // 2, side // 4
    rows = images[..., top : top + half, :]
    return rows[..., :half], rows[..., half:]


def ink_extent(cells: Tensor) -> Tensor:
    """The larger side (pixels) of the ink's bounding box in each cell ``[N, 1, H, W]``."""
    ink = cells[:, 0] > INK
    rows, cols = ink.any(2), ink.any(1)

    def span(m: Tensor) -> Tensor:
        idx = torch.arange(m.shape[1]).expand_as(m)
        first = torch.where(m, idx, m.shape[1]).min(1).values
        last = torch.where(m, idx, -1).max(1).values
        return (last - first + 1).clamp(min=0)

    return torch.maximum(span(rows), span(cols))


def normalise_cells(cells: Tensor, large: Tensor, size: int = 16) -> Tensor:
    """Each cell's digit frame scaled to the digits' ``size`` frame (the digit CNN's input):
    the whole cell for a large digit, the centred window a small digit is drawn in otherwise,
    so small and large digits read alike."""
    half = cells.shape[-1]
    px = max(2, round(half * SMALL))
    lo = (half - px) // 2
    small = cells[..., lo : lo + px, lo : lo + px]
    big = F.interpolate(cells, size=(size, size), mode="bilinear", align_corners=False)
    little = F.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)
    return torch.where(large.reshape(-1, 1, 1, 1), big, little)


def digit_reader():
    """The digit CNN behind ``fd_digitcnn`` (trained on the 16x16 training digits; shipped)."""
    from .features import feature_network

    train = data.load_digits_dataset(None, "train", size=16)
    return feature_network("digitcnn", train.images, train.labels, 10).eval()


def compositional_scores(images: Tensor, captions: list[str], classifier=None) -> dict[str, float]:
    """How often generated scenes show what their captions ask for.

    ``images``: ``[N, 1, S, S]`` in [0, 1]; ``classifier``: ``x [M, 1, 16, 16]`` in [-1, 1]
    -> logits (default: :func:`digit_reader`). Returns the share of scenes with both digits
    right (``digits``), both sizes right (``sizes``), everything right (``all``), and the
    per-cell digit accuracy (``digit_cells``). A cell is "large" when its ink spans more than
    13/16 of the cell.
    """
    if images.ndim != 4 or images.shape[0] != len(captions):
        raise DomainError(
            f"compositional_scores: {images.shape[0]} images for {len(captions)} captions"
        )
    want = [parse(c) for c in captions]
    classifier = classifier or digit_reader()
    left, right = _cells(images.float())
    half = left.shape[-1]
    cells = torch.cat([left, right])
    large = ink_extent(cells) > half * 13 / 16
    with torch.no_grad():
        read = classifier(normalise_cells(cells, large) * 2 - 1).argmax(1)
    n = len(want)
    dl = read[:n] == torch.tensor([w.left for w in want])
    dr = read[n:] == torch.tensor([w.right for w in want])
    sl = large[:n] == torch.tensor([w.left_size == "large" for w in want])
    sr = large[n:] == torch.tensor([w.right_size == "large" for w in want])
    digits, sizes = dl & dr, sl & sr
    return {
        "digits": float(digits.float().mean()),
        "sizes": float(sizes.float().mean()),
        "all": float((digits & sizes).float().mean()),
        "digit_cells": float(torch.cat([dl, dr]).float().mean()),
    }


def is_scene_grammar(captions: list[str]) -> bool:
    """Whether every caption is one this data set's grammar makes."""
    try:
        for c in captions:
            parse(c)
    except DomainError:
        return False
    return True


def split_by_pairs(captions: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Indices of captions whose digit pair was seen in training, and of held-out ones."""
    held = np.array([held_out(s.left, s.right) for s in map(parse, captions)])
    return np.nonzero(~held)[0], np.nonzero(held)[0]
