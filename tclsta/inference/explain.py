"""``tclsta predict --explain``: the paper's own attention drawn over each video's sampled frames.

For every predicted video, from one stream's feature cache (the spatial map m̃ and softmax(γ)
of each sampled frame) and the extracted frames of its batch, while they exist:

* ``<video_id>.mp4`` (and ``.gif`` with ``gif``): one frame per sampled frame, ``FRAME_SIZE``
  pixels, ``FPS`` frames a second: the RGB frame with m̃ blended over the test crop as a heatmap
  with a colour bar (one scale per video: its maps' range, at least
  ``MIN_SPAN`` wide), under it softmax(γ) of every sampled frame as bars (this frame's in red),
  and the top-3 classes of the fusion served in the title;
* ``<video_id>.png``: a contact sheet, all sampled frames in a grid of ``SHEET_COLUMNS`` columns,
  each ``SHEET_CELL`` pixels, with its map and softmax(γ), under a title of ``SHEET_TITLE`` pixels.

The drawing is the report's (:mod:`tclsta.evaluation.overlays`). A stream whose attention has no
spatial maps (``none``, ``temporal``) gets the frames with the temporal bars only.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from tqdm import tqdm

from tclsta.atomic import atomic_path
from tclsta.errors import TclstaError
from tclsta.evaluation.overlays import PLAIN_TEXT, draw_attention, frame_image, map_extent
from tclsta.features.cache import FeatureCache, open_feature_cache

log = logging.getLogger(__name__)

FRAME_SIZE = (640, 480)  # width, height of each MP4/GIF frame (pixels)
FPS = 2
SHEET_COLUMNS = 5
SHEET_CELL = (240, 240)  # width, height of one contact-sheet cell (pixels)
SHEET_TITLE = 60  # height of the contact sheet's title band (pixels)
DPI = 100
MIN_SPAN = 0.1  # narrowest colour scale of m̃
TOP = 3
_GREY = (64, 64)


@dataclass
class VideoAttention:
    """One video's sampled frames (RGB arrays), their maps (or None) and softmax(γ), and where the maps lie."""

    video_id: str
    indices: np.ndarray
    frames: list[np.ndarray]
    maps: np.ndarray | None
    weights: np.ndarray
    extents: list[tuple[float, float, float, float]]


def video_attention(cache: FeatureCache, video: int, frames_root: Path) -> VideoAttention:
    """What the explain drawings of video number ``video`` of ``cache`` need (a grey frame where one is missing)."""
    rows = cache.rows(video)
    video_id = cache.video_ids[video]
    indices = np.asarray(cache.frame_indices[rows])
    frames, extents = [], []
    for index in indices:
        image = frame_image(frames_root, video_id, int(index))
        if image is None:
            log.warning("%s: RGB frame %d missing, drawn grey", video_id, index)
            image = np.full((*_GREY, 3), 128, dtype=np.uint8)
        frames.append(image)
        extents.append(map_extent(cache, video, *image.shape[:2]))
    maps = None if cache.spatial_maps is None else np.asarray(cache.spatial_maps[rows], dtype=np.float32)
    return VideoAttention(video_id, indices, frames, maps, np.asarray(cache.temporal_weights[rows]), extents)


def top_title(scores: np.ndarray, class_names: Sequence[str], method: str) -> str:
    """``1. name 0.83 · 2. … · 3. …`` of the fusion's scores, and the fusion's row."""
    best = np.argsort(-scores, kind="stable")[:TOP]
    return " · ".join(f"{k + 1}. {class_names[j]} {scores[j]:.2f}" for k, j in enumerate(best)) + f"\n{method}"


def _canvas(size: tuple[int, int]) -> tuple[Figure, FigureCanvasAgg]:
    fig = Figure(figsize=(size[0] / DPI, size[1] / DPI), dpi=DPI)
    return fig, FigureCanvasAgg(fig)


def _limits(att: VideoAttention) -> tuple[float, float] | None:
    """One colour scale for all frames of a video: its maps' range, at least ``MIN_SPAN`` wide (so that a
    uniform map, m̃ = 1 everywhere, shows as one mid colour, not as noise stretched over the scale)."""
    if att.maps is None:
        return None
    low, high = float(att.maps.min()), float(att.maps.max())
    pad = max(MIN_SPAN - (high - low), 0) / 2
    return low - pad, high + pad


def explain_frame(att: VideoAttention, t: int, title: str) -> np.ndarray:
    """Sampled frame ``t`` as one ``FRAME_SIZE`` RGB image: map + colour bar, softmax(γ) bars, the title."""
    with matplotlib.rc_context(PLAIN_TEXT):
        fig, canvas = _canvas(FRAME_SIZE)
        grid = fig.add_gridspec(2, 2, height_ratios=[4, 1], width_ratios=[30, 1], left=0.06, right=0.9,
                                top=0.86, bottom=0.1, hspace=0.3, wspace=0.05)
        ax = fig.add_subplot(grid[0, 0])
        spatial = None if att.maps is None else att.maps[t]
        heat = draw_attention(ax, att.frames[t], spatial, att.extents[t], limits=_limits(att))
        if heat is not None:
            bar = fig.colorbar(heat, cax=fig.add_subplot(grid[0, 1]))
            bar.formatter.set_useOffset(False)
            bar.set_label("m̃ (1 = uniform)", fontsize=8)
        ax.set_title(f"{att.video_id}, frame {att.indices[t]}"
                     + ("" if heat is not None else " (no spatial map in this attention mode)"), fontsize=8)
        bars = fig.add_subplot(grid[1, :])
        colours = ["tab:red" if k == t else "lightgrey" for k in range(len(att.weights))]
        bars.bar(np.arange(len(att.weights)), att.weights, color=colours)
        bars.set_ylim(0, max(float(att.weights.max()) * 1.2, 1e-6))
        bars.set_xticks([])
        bars.set_ylabel("softmax(γ)", fontsize=7)
        bars.tick_params(labelsize=6)
        bars.set_title(f"softmax(γ) of this frame: {att.weights[t]:.3f}", fontsize=8)
        fig.suptitle(title, fontsize=9)
        canvas.draw()
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def contact_sheet(path: Path, att: VideoAttention, title: str) -> None:
    """All sampled frames with their maps and softmax(γ) in one PNG (sizes in the module docstring)."""
    columns = min(SHEET_COLUMNS, len(att.frames))
    rows = math.ceil(len(att.frames) / columns)
    size = (columns * SHEET_CELL[0], rows * SHEET_CELL[1] + SHEET_TITLE)
    with matplotlib.rc_context(PLAIN_TEXT):
        fig, _ = _canvas(size)
        grid = fig.add_gridspec(rows, columns, top=1 - SHEET_TITLE / size[1], bottom=0.02, left=0.01, right=0.99,
                                hspace=0.3, wspace=0.05)
        for t in range(len(att.frames)):
            ax = fig.add_subplot(grid[t // columns, t % columns])
            draw_attention(ax, att.frames[t], None if att.maps is None else att.maps[t], att.extents[t],
                           limits=_limits(att))
            ax.set_title(f"frame {att.indices[t]} · softmax(γ) {att.weights[t]:.3f}", fontsize=7)
        fig.suptitle(f"{att.video_id}: {title}", fontsize=8)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=DPI, format="png")


def write_mp4(path: Path, frames: Sequence[np.ndarray]) -> None:
    """RGB frames as an ``mp4v`` MP4 at ``FPS`` (OpenCV)."""
    with atomic_path(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), FPS, FRAME_SIZE)
        if not writer.isOpened():
            raise TclstaError(f"{path}: OpenCV cannot write an mp4v MP4 here")
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()


def write_gif(path: Path, frames: Sequence[np.ndarray]) -> None:
    """RGB frames as a looping GIF at ``FPS`` (Pillow)."""
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=1000 // FPS, loop=0)


@dataclass
class Explainer:
    """Writes the explain files of each batch of ``predict_videos`` (its ``on_batch`` hook)."""

    folder: Path
    stream: str
    fusion: str
    method: str
    class_names: list[str]
    gif: bool = False
    written: list[Path] = field(default_factory=list)

    def __call__(self, frames_root: Path, caches: dict[str, Path], scored: dict[str, dict[str, np.ndarray]]) -> None:
        """Draw every video of the batch's ``stream`` cache whose ``fusion`` scores are in ``scored``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open_feature_cache(caches[self.stream]) as cache:
            if cache.spatial_maps is None:
                log.info("the %s stream's attention (%s) has no spatial maps: --explain draws softmax(γ) only",
                         self.stream, cache.attrs.get("attention", "?"))
            for video in tqdm(range(len(cache)), desc="explain", unit="video"):
                video_id = cache.video_ids[video]
                if self.fusion not in scored.get(video_id, {}):
                    continue
                att = video_attention(cache, video, frames_root)
                title = top_title(scored[video_id][self.fusion], self.class_names, self.method)
                frames = [explain_frame(att, t, title) for t in range(len(att.frames))]
                outputs = [self.folder / f"{video_id}.mp4", self.folder / f"{video_id}.png"]
                write_mp4(outputs[0], frames)
                contact_sheet(outputs[1], att, title)
                if self.gif:
                    outputs.append(self.folder / f"{video_id}.gif")
                    write_gif(outputs[-1], frames)
                self.written += outputs
