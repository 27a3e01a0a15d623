"""Flow ↔ 8-bit images, as denseflow / mmaction2 store TV-L1 flow.

Each component is clipped to ±``bound`` pixels and mapped linearly to 0..255
(``q = round((f + bound) · 255 / (2·bound))``). The step is ``2·bound/255`` px
(0.157 px for the default bound 20), so rounding alone costs at most half a step
(0.078 px); JPEG coding adds its own error on top (see the README / tests).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor

from tclsta.data import layout
from tclsta.errors import DatasetError

DEFAULT_BOUND = 20.0


def quantise(flow: Tensor, bound: float = DEFAULT_BOUND) -> Tensor:
    """Flow in pixels (any shape, any device) → uint8 of the same shape."""
    scaled = (flow.float().clamp(-bound, bound) + bound) * (255.0 / (2.0 * bound))
    return torch.round(scaled).clamp(0, 255).to(torch.uint8)


def dequantise(q: Tensor | np.ndarray, bound: float = DEFAULT_BOUND) -> Tensor:
    """uint8 flow images → flow in pixels (float32), the inverse of :func:`quantise` up to rounding."""
    q = torch.as_tensor(q)
    return q.float() * (2.0 * bound / 255.0) - bound


def read_flow(folder: str | Path, index: int, bound: float = DEFAULT_BOUND) -> np.ndarray:
    """Flow from frame ``index`` to ``index + 1`` (1-based) of a video folder: ``[H, W, 2]`` float32
    pixels (x, y), read from its ``flow_x``/``flow_y`` JPEGs; ``bound`` must be the one they were made with."""
    planes = []
    for name in layout.flow_names(index):
        path = Path(folder) / name
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise DatasetError(f"{path}: missing or unreadable flow image")
        planes.append(image)
    if planes[0].shape != planes[1].shape:
        raise DatasetError(f"{folder}: {layout.flow_names(index)} differ in size")
    return dequantise(np.stack(planes, -1), bound).numpy()
