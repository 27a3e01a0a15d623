"""Sliding windows over an extracted video, each laid out as a video of its own for the pipeline's code.

A window of ``seconds`` every ``stride`` seconds covers the frames ``[start, stop)`` (0-based);
the last window is moved back to end at the video's last frame, so the tail is always scored,
and a video shorter than one window is one window. Each window becomes a folder of symbolic
links to the video's frames and the flow pairs inside it (renumbered from 1), so the feature
dump samples and crops a window exactly as it would a video made of those frames.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tclsta.data.layout import META_NAME, flow_fields, flow_names, read_meta, rgb_frames, rgb_name, video_dir
from tclsta.errors import ConfigError


@dataclass(frozen=True)
class Span:
    """One window of one video: its frames ``[start, stop)`` and their times in seconds."""

    video_id: str
    index: int
    start: int
    stop: int
    fps: float

    @property
    def window_id(self) -> str:
        return f"{self.video_id}@{self.index:04d}"

    @property
    def seconds(self) -> tuple[float, float]:
        return self.start / self.fps, self.stop / self.fps


def window_bounds(n_frames: int, fps: float, seconds: float, stride: float | None = None) -> list[tuple[int, int]]:
    """Frame ranges ``[start, stop)`` of ``seconds``-long windows every ``stride`` seconds (default: ``seconds``)."""
    stride = seconds if stride is None else stride
    if not seconds > 0 or not stride > 0:
        raise ConfigError(f"--windows {seconds} --stride {stride}: both must be positive")
    length = min(n_frames, max(2, round(seconds * fps)))
    step = max(1, round(stride * fps))
    starts = list(range(0, n_frames - length + 1, step))
    if starts[-1] + length < n_frames:
        starts.append(n_frames - length)
    return [(start, start + length) for start in starts]


def window_flow(n_flow: int, start: int, stop: int) -> int:
    """How many of a video's ``n_flow`` flow fields lie inside its frames ``[start, stop)`` (the window's pairs)."""
    return max(0, min(n_flow, stop - 1) - start)


def link_windows(frames_root: Path, videos: pd.DataFrame, fps: dict[str, float], seconds: float,
                 stride: float | None, out_root: Path) -> tuple[pd.DataFrame, list[Span]]:
    """Every window of ``videos`` (dump's columns) as a folder of links below ``out_root``: its rows
    (dump's columns, one per window) and its spans."""
    rows, spans = [], []
    for video in videos.itertuples(index=False):
        source = video_dir(frames_root, video.video_id).resolve()
        meta = read_meta(source) or {}
        held = (set(rgb_frames(meta)), set(flow_fields(meta))) if meta else (set(), set())
        for index, (start, stop) in enumerate(window_bounds(int(video.n_frames), fps[video.video_id], seconds, stride)):
            span = Span(video.video_id, index, start, stop, fps[video.video_id])
            n_flow = window_flow(int(video.n_flow), start, stop)
            _link(source, video_dir(out_root, span.window_id), start, stop - start, n_flow, held, meta)
            rows.append({"video_id": span.window_id, "label": -1, "n_frames": stop - start, "n_flow": n_flow,
                         "subset": "test"})
            spans.append(span)
    return pd.DataFrame(rows, columns=list(videos.columns)), spans


def _link(source: Path, folder: Path, start: int, n_frames: int, n_flow: int, held: tuple[set[int], set[int]],
          meta: dict) -> None:
    """``folder`` holding links to the frames among ``start+1 … start+n_frames`` and the flow pairs among its
    ``n_flow`` that ``source`` holds (``held``: its frames, its pairs), renumbered from 1."""
    folder.mkdir(parents=True)
    frames, fields = held
    for i in (i for i in range(1, n_frames + 1) if start + i in frames):
        os.symlink(source / rgb_name(start + i), folder / rgb_name(i))
    for i in (i for i in range(1, n_flow + 1) if start + i in fields):
        for name, target in zip(flow_names(i), flow_names(start + i)):
            os.symlink(source / target, folder / name)
    window = {key: meta[key] for key in ("height", "width") if key in meta}
    (folder / META_NAME).write_text(json.dumps({**window, "n_frames": n_frames, "n_flow": n_flow,
                                                "window_of": source.name, "first_frame": start + 1}))
