"""The reference backend: OpenCV's own ``cv2.optflow.DualTVL1OpticalFlow``, one pair at a time on CPU."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from tclsta.flow.tvl1 import resolve_nscales


def create(height: int, width: int, **params: Any) -> cv2.optflow.DualTVL1OpticalFlow:
    """An OpenCV TV-L1 object with our parameter names (``nscales="auto"`` resolved for this size)."""
    p = dict(params)
    p["nscales"] = resolve_nscales(p.get("nscales", 5), height, width, p.get("scale_step", 0.8))
    return cv2.optflow.DualTVL1OpticalFlow_create(
        tau=p.get("tau", 0.25), lambda_=p.get("lambda_", 0.15), theta=p.get("theta", 0.3),
        nscales=p["nscales"], warps=p.get("warps", 5), epsilon=p.get("epsilon", 0.01),
        innnerIterations=p.get("inner_iterations", 30), outerIterations=p.get("outer_iterations", 10),
        scaleStep=p.get("scale_step", 0.8), gamma=p.get("gamma", 0.0),
        medianFiltering=p.get("median_filtering", 5),
    )


def tvl1_opencv(prev: np.ndarray, nxt: np.ndarray, **params: Any) -> np.ndarray:
    """Flow ``[H, W, 2]`` float32 (x, y) from grayscale uint8 ``prev`` to ``nxt`` with OpenCV."""
    return create(*prev.shape, **params).calc(prev, nxt, None)
