"""Attention drawn over frames, shared by the report's Fig. 7 and ``tclsta predict --explain``.

A frame is the extracted RGB JPEG; the spatial map m̃ of a cache row lies over the test crop
of that frame (:func:`map_extent`) and is blended on it as a ``jet`` heatmap.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from matplotlib.axes import Axes
from matplotlib.image import AxesImage

from tclsta.data.layout import rgb_name, video_dir
from tclsta.features.cache import FeatureCache

# Class and video names are text: two '$' in one must not start mathtext (it may not parse).
PLAIN_TEXT = {"text.parse_math": False}
HEATMAP = "jet"
HEATMAP_ALPHA = 0.45


def frame_image(frames_root: str | Path, video_id: str, index: int) -> np.ndarray | None:
    """The extracted RGB frame ``index`` (1-based) of a video as an RGB array, None if it is missing."""
    image = cv2.imread(str(video_dir(Path(frames_root), video_id) / rgb_name(int(index))), cv2.IMREAD_COLOR)
    return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def map_extent(cache: FeatureCache, video: int, height: int, width: int) -> tuple[float, float, float, float]:
    """Where the map lies on the shown frame: the test crop box (the whole frame for caches without one)."""
    if cache.crop_boxes is None or cache.frame_sizes is None:
        return 0, width, height, 0
    top, left, box_h, box_w = cache.crop_boxes[video]
    sy, sx = height / cache.frame_sizes[video][0], width / cache.frame_sizes[video][1]
    return left * sx, (left + box_w) * sx, (top + box_h) * sy, top * sy


def draw_attention(ax: Axes, image: np.ndarray, spatial_map: np.ndarray | None,
                   extent: tuple[float, float, float, float],
                   limits: tuple[float, float] | None = None) -> AxesImage | None:
    """``image`` on ``ax`` with ``spatial_map`` blended over ``extent`` as a heatmap, coloured over ``limits``
    (default the map's own range); returns the heatmap (for a colour bar), None without a map."""
    height, width = image.shape[:2]
    ax.imshow(image, extent=(0, width, height, 0))
    heat = None
    if spatial_map is not None:
        heat = ax.imshow(np.asarray(spatial_map, dtype=np.float32), cmap=HEATMAP, alpha=HEATMAP_ALPHA, extent=extent,
                         interpolation="bilinear", **({} if limits is None else {"vmin": limits[0], "vmax": limits[1]}))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")
    return heat
