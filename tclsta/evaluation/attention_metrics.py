"""Does attention attend? Spatial pointing and temporal mass of a feature cache against ground truth.

* **Spatial pointing** (streams with spatial attention): over the annotated sampled frames, the
  fraction in which the arg-max cell of m̃, its centre mapped back to source-video pixels
  through the test crop (centre square of the extracted frame, resized to the crop size) and
  the extraction resize, falls inside the ground-truth box grown by half a cell on each side.
  Its chance level is the mean area fraction of that grown box within the cropped region (what
  a uniformly random cell would score). Frames whose box lies outside the crop are skipped.
  Diagnostics of the misses: ``spatial_within_one_cell``, the fraction of frames whose peak lies
  at most one cell outside the grown box (a hit counts), and ``spatial_miss_cells``, the mean
  gap of the misses in cells (:func:`miss_cells`).
* **Temporal mass** (streams with temporal attention): per video, the sum of softmax(γ) over
  the sampled frames inside the annotated action; uniform baseline: the fraction of sampled
  frames inside. Both are averaged over the test videos with ground truth.

A sampled position's *reference frame* is the frame itself for RGB and the centre field of the
stack for flow (start + (L − 1) // 2; field k is the motion from frame k to k + 1): it is
inside the action when that frame is, and its box is that frame's box.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tclsta import paths
from tclsta.data.annotations import Box, VideoTruth, ground_truth_files, load_ground_truth, video_size
from tclsta.data.manifest import read_manifest
from tclsta.errors import DatasetError
from tclsta.features.cache import FeatureCache

SPATIAL_MODES = ("spatial", "both")
TEMPORAL_MODES = ("temporal", "both")


@dataclass(frozen=True)
class CropGeometry:
    """How the model's input was cut from a source frame: source size → extracted size → crop box → crop."""

    source: tuple[int, int]  # height, width of the decoded source video
    frame: tuple[int, int]  # height, width of the extracted frames
    box: tuple[int, int, int, int]  # top, left, height, width of the crop in the extracted frame (resized to the model's input)

    def scale(self) -> tuple[float, float]:
        """Source pixels per extracted-frame pixel (y, x)."""
        return self.source[0] / self.frame[0], self.source[1] / self.frame[1]

    def region(self) -> Box:
        """The cropped region in source pixels (x0, y0, x1, y1)."""
        sy, sx = self.scale()
        top, left, height, width = self.box
        return left * sx, top * sy, (left + width) * sx, (top + height) * sy

    def cell_centres(self, grid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Source-pixel centres (ys, xs) of the rows and columns of a ``grid`` (h, w) over the crop.

        Cell (i, j) covers crop pixels [i·S/h, (i+1)·S/h) × [j·S/w, (j+1)·S/w); the crop maps
        linearly onto the crop box (bilinear resize, align_corners=False).
        """
        x0, y0, x1, y1 = self.region()
        rows, cols = grid
        return y0 + (np.arange(rows) + 0.5) * (y1 - y0) / rows, x0 + (np.arange(cols) + 0.5) * (x1 - x0) / cols

    def cell_size(self, grid: tuple[int, int]) -> tuple[float, float]:
        """Height and width of one grid cell in source pixels."""
        x0, y0, x1, y1 = self.region()
        return (y1 - y0) / grid[0], (x1 - x0) / grid[1]


def _area(box: Box) -> float:
    return max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)


def _intersect(a: Box, b: Box) -> Box:
    return max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])


def _grown(box: Box, geometry: CropGeometry, grid: tuple[int, int]) -> Box:
    """``box`` grown by half a cell on each side."""
    cell_h, cell_w = geometry.cell_size(grid)
    return box[0] - cell_w / 2, box[1] - cell_h / 2, box[2] + cell_w / 2, box[3] + cell_h / 2


def peak_centre(spatial_map: np.ndarray, geometry: CropGeometry) -> tuple[float, float]:
    """Source-pixel centre (y, x) of the arg-max cell of m̃."""
    ys, xs = geometry.cell_centres(spatial_map.shape)
    i, j = np.unravel_index(int(np.argmax(spatial_map)), spatial_map.shape)
    return float(ys[i]), float(xs[j])


def pointing(spatial_map: np.ndarray, box: Box, geometry: CropGeometry) -> tuple[bool, float] | None:
    """(hit, chance) of one map m̃ (h, w) against one source-pixel box; None if the box is outside the crop."""
    region = geometry.region()
    if _area(_intersect(box, region)) == 0:
        return None
    grown = _grown(box, geometry, spatial_map.shape)
    y, x = peak_centre(spatial_map, geometry)
    hit = grown[0] <= x < grown[2] and grown[1] <= y < grown[3]
    return bool(hit), _area(_intersect(grown, region)) / _area(region)


def miss_cells(spatial_map: np.ndarray, box: Box, geometry: CropGeometry) -> float:
    """How far, in cells, the arg-max cell's centre lies outside the half-cell-grown box (0 for a hit).

    The larger of the horizontal and vertical gaps, each in cells of its axis: a miss by 0.5
    would have been a hit with the box grown by one cell on each side.
    """
    grown = _grown(box, geometry, spatial_map.shape)
    cell_h, cell_w = geometry.cell_size(spatial_map.shape)
    y, x = peak_centre(spatial_map, geometry)
    gap_x = max(grown[0] - x, x - grown[2], 0.0) / cell_w
    gap_y = max(grown[1] - y, y - grown[3], 0.0) / cell_h
    return max(gap_x, gap_y)


def reference_frames(positions: np.ndarray, stream: str, flow_stack: int) -> np.ndarray:
    """The frame each sampled position stands for (RGB: itself; flow: the stack's centre field)."""
    return positions + ((flow_stack - 1) // 2 if stream == "flow" else 0)


@dataclass
class AttentionScore:
    """Accumulated pointing hits/chances (per frame) and temporal masses/uniform shares (per video)."""

    hits: list[bool] = field(default_factory=list)
    chances: list[float] = field(default_factory=list)
    misses: list[float] = field(default_factory=list)  # miss_cells per frame (0 for a hit)
    masses: list[float] = field(default_factory=list)
    uniforms: list[float] = field(default_factory=list)
    videos: int = 0

    def summary(self, spatial: bool, temporal: bool) -> dict[str, Any]:
        """The metrics.json entry: means, None where the stream lacks the component or no frame counted."""
        def mean(values: list) -> float | None:
            return float(np.mean(values)) if values else None

        return {
            "spatial_pointing": mean(self.hits) if spatial else None,
            "spatial_pointing_chance": mean(self.chances) if spatial else None,
            "spatial_frames": len(self.hits) if spatial else 0,
            # diagnostics: how near the peak lands when it misses
            "spatial_within_one_cell": mean([m <= 1.0 for m in self.misses]) if spatial else None,
            "spatial_miss_cells": mean([m for m in self.misses if m > 0]) if spatial else None,
            "temporal_mass": mean(self.masses) if temporal else None,
            "temporal_mass_uniform": mean(self.uniforms) if temporal else None,
            "videos": self.videos,
        }


def score_cache(cache: FeatureCache, truth: dict[str, VideoTruth], source_size: Callable[[str], tuple[int, int]],
                score: AttentionScore | None = None, path: str | Path = "") -> AttentionScore:
    """Add the test videos of ``cache`` (read from ``path``) that have ground truth to ``score`` (a new one by default).

    ``source_size(video_id)`` gives the decoded source video's (height, width); it is only
    asked for videos with boxes.
    """
    score = score or AttentionScore()
    config = cache.config()
    stream = cache.attrs["stream"]
    flow_stack = int(config["model"]["flow_stack"])
    spatial = cache.attrs["attention"] in SPATIAL_MODES and cache.spatial_maps is not None
    if spatial and cache.crop_boxes is None:
        raise DatasetError(f"{path}: the feature cache has no crop_boxes (written before they were stored): "
                           "rerun dump-features")
    for v in cache.subset("test"):
        video_truth = truth.get(cache.video_ids[v])
        if video_truth is None:
            continue
        score.videos += 1
        rows = cache.rows(int(v))
        frames = reference_frames(cache.frame_indices[rows].astype(np.int64), stream, flow_stack)
        inside = np.array([int(f) in video_truth.frames for f in frames])
        weights = cache.temporal_weights[rows].astype(np.float64)
        score.masses.append(float(weights[inside].sum()))
        score.uniforms.append(float(inside.mean()))
        if spatial and video_truth.boxes:
            geometry = CropGeometry(source=source_size(cache.video_ids[v]),
                                    frame=tuple(int(x) for x in cache.frame_sizes[v]),
                                    box=tuple(int(x) for x in cache.crop_boxes[v]))
            maps = cache.spatial_maps[rows].astype(np.float32)
            for frame, spatial_map in zip(frames, maps):
                box = video_truth.boxes.get(int(frame))
                result = None if box is None else pointing(spatial_map, box, geometry)
                if result is not None:
                    score.hits.append(result[0])
                    score.chances.append(result[1])
                    score.misses.append(miss_cells(spatial_map, box, geometry))
    return score


def dataset_root(out: str | Path, config: dict[str, Any]) -> Path:
    """The dataset folder (the synthetic dataset lives in ``<output_dir>/dataset``)."""
    root = config["dataset"]["root"]
    return Path(out) / "dataset" if root is None else Path(root)


class AttentionMetrics:
    """``metrics.json``'s ``attention`` section, accumulated from the feature caches as ``evaluate``
    reads them (:meth:`add`; each cache is read once): one entry ``<stream>_<attention>`` per
    stream × mode that has a spatial or temporal component, over the test videos of every split
    run; ``{}`` when the dataset has no ground truth.
    """

    def __init__(self, out: str | Path, config: dict[str, Any]) -> None:
        root = dataset_root(out, config)
        self.keys = [(stream, attention) for stream in config["stream"]["streams"]
                     for attention in config["stream"]["attentions"] if attention in SPATIAL_MODES + TEMPORAL_MODES]
        self.scores = {key: AttentionScore() for key in self.keys}
        self.truth: dict[str, VideoTruth] | None = None
        if not ground_truth_files(root):
            return
        manifest = read_manifest(paths.manifest(out))
        self.truth = load_ground_truth(root, manifest)
        path_of = dict(zip(manifest["video_id"], manifest["path"]))
        sizes: dict[str, tuple[int, int]] = {}

        def source_size(video_id: str) -> tuple[int, int]:
            if video_id not in sizes:
                sizes[video_id] = video_size(root / path_of[video_id])
            return sizes[video_id]

        self.source_size = source_size

    def add(self, stream: str, attention: str, cache: FeatureCache, path: str | Path) -> None:
        """Score one split's cache of ``stream`` × ``attention`` (nothing without ground truth or component)."""
        if self.truth is not None and (stream, attention) in self.scores:
            score_cache(cache, self.truth, self.source_size, self.scores[stream, attention], path)

    def section(self) -> dict[str, dict[str, Any]]:
        """The section, ``{}`` without ground truth."""
        if self.truth is None:
            return {}
        return {f"{stream}_{attention}": self.scores[stream, attention].summary(
            attention in SPATIAL_MODES, attention in TEMPORAL_MODES) for stream, attention in self.keys}
