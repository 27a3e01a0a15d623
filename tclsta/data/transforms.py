"""Image transforms for stream inputs: multi-scale crop + flip (training), centre crop (test), normalisation.

Inputs are uint8 arrays (T, H, W, C) holding one video's sampled frames (RGB) or flow
stacks (C = 2L channels ordered x1, y1, x2, y2 …, each quantised 0..255 ↔ ±bound as
written by extraction). The same crop and flip apply to every frame of a video (TSN's
group transforms). A horizontal flip mirrors the image and negates the flow's x
component; on the quantised values that is x' = 255 − x, done before normalisation.

The transforms return uint8 tensors (resized by OpenCV on uint8, as TSN/mmaction2): four
times less shared memory between loader workers and the trainer, and the copy to the GPU moves
bytes. :func:`normalise` then runs on the device. RGB uses the ImageNet mean/std on [0, 1]
values; flow maps q ↦ (q − 127.5)/127.5, so 0 px of motion is 0, ±bound is ±1, and the flip's
255 − q is an exact sign change.
"""

from __future__ import annotations

import functools

from collections.abc import Sequence

import cv2
import numpy as np
import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FLOW_CENTRE = 127.5


def multiscale_box(height: int, width: int, scales: Sequence[float], rng: np.random.Generator,
                   max_distort: int = 1) -> tuple[int, int, int, int]:
    """TSN multi-scale crop box (top, left, h, w): side lengths = scale × short side, aspect jittered by ≤ max_distort scale steps."""
    short = min(height, width)
    sizes = [max(1, int(short * s)) for s in scales]
    pairs = [(h, w) for i, h in enumerate(sizes) for j, w in enumerate(sizes) if abs(i - j) <= max_distort]
    crop_h, crop_w = pairs[rng.integers(len(pairs))]
    top = int(rng.integers(height - crop_h + 1))
    left = int(rng.integers(width - crop_w + 1))
    return top, left, crop_h, crop_w


def centre_box(height: int, width: int) -> tuple[int, int, int, int]:
    """The centred square of the short side (the test-time crop)."""
    side = min(height, width)
    return (height - side) // 2, (width - side) // 2, side, side


def flip(clip: np.ndarray, flow: bool) -> np.ndarray:
    """Mirror (T, H, W, C) left–right; for flow, also negate x (x' = 255 − x on the even channels)."""
    out = clip[:, :, ::-1, :].copy()
    if flow:
        out[..., 0::2] = 255 - out[..., 0::2]
    return out


def crop_resize(clip: np.ndarray, box: tuple[int, int, int, int], size: int) -> torch.Tensor:
    """Cut ``box`` from (T, H, W, C) uint8 and resize to size × size: uint8 tensor (T, C, size, size).

    Bilinear, by OpenCV on uint8 (all 2L flow channels at once), as TSN/mmaction2 resize: 4× faster
    than torch's antialiased float resize. Crops are 0.66–1.3× the output side, so little aliasing.
    """
    top, left, h, w = box
    cut = clip[:, top:top + h, left:left + w, :]
    if (h, w) != (size, size):
        cut = np.stack([cv2.resize(frame, (size, size), interpolation=cv2.INTER_LINEAR).reshape(size, size, -1)
                        for frame in cut])
    return torch.from_numpy(np.ascontiguousarray(cut)).permute(0, 3, 1, 2).contiguous()


def normalise(x: torch.Tensor, flow: bool) -> torch.Tensor:
    """Float32 model input on ``x``'s device. RGB: ImageNet mean/std; flow: (q − 127.5) / 127.5.

    ``x`` is (…, C, H, W) in 0..255 (uint8 from the loader, or float).
    """
    x = x.float()
    if flow:
        return (x - FLOW_CENTRE) / FLOW_CENTRE
    mean, std = _rgb_statistics(x.device)
    return (x - mean) / std


@functools.lru_cache(maxsize=None)
def _rgb_statistics(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """ImageNet mean and std on the 0..255 scale, (3, 1, 1), made once per device: building them per
    batch would copy host lists to the GPU, a blocking copy, on every step."""
    return (torch.tensor(IMAGENET_MEAN, device=device).view(3, 1, 1) * 255.0,
            torch.tensor(IMAGENET_STD, device=device).view(3, 1, 1) * 255.0)


def train_transform(clip: np.ndarray, *, flow: bool, size: int, scales: Sequence[float],
                    rng: np.random.Generator, mirror: bool = True) -> torch.Tensor:
    """Multi-scale crop, random flip (p = 0.5 if ``mirror``), resize: (T, H, W, C) → uint8 (T, C, size, size).

    ``mirror=False`` is for classes that a mirror image changes (e.g. clockwise vs
    counter-clockwise motion): a flipped clockwise spin is a counter-clockwise one.
    """
    if rng.random() < 0.5 and mirror:
        clip = flip(clip, flow)
    box = multiscale_box(clip.shape[1], clip.shape[2], scales, rng)
    return crop_resize(clip, box, size)


def eval_transform(clip: np.ndarray, *, size: int) -> torch.Tensor:
    """Centre square crop, resize: (T, H, W, C) uint8 → uint8 (T, C, size, size)."""
    return crop_resize(clip, centre_box(clip.shape[1], clip.shape[2]), size)
