"""Attention ground truth: in which frames the action happens and where (optional everywhere).

Two sources, both read into :class:`VideoTruth` per video id (the manifest's ``video_id``):

* ``<dataset root>/annotations/boxes.csv`` (written by ``tclsta synthesize``; any dataset may
  have one), header ``path,frame,x0,y0,x1,y1``: ``path`` as in the split files, ``frame`` the
  1-based number of the decoded frame (``img_NNNNN.jpg``), the box in source-video pixels with
  x1, y1 exclusive; one row per frame in which the action is visible. Frames without a row
  hold no action. Spatial and temporal ground truth.
* THUMOS14's temporal annotations ``<Class>_val.txt`` / ``<Class>_test.txt`` (lines
  ``video_name start end``, seconds), anywhere below the root in a folder whose path names an
  annotation folder. A segment covers the frames whose time (frame − 1) / fps lies in
  [start, end]; fps is read from the video. ``Ambiguous_*.txt`` is not an action. Temporal only.

A dataset without either has no ground truth: :func:`load_ground_truth` returns ``{}``.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from tclsta.errors import DatasetError, VideoDecodeError

BOXES = Path("annotations") / "boxes.csv"
BOX_HEADER = ["path", "frame", "x0", "y0", "x1", "y1"]
THUMOS_FILE = re.compile(r"(?P<cls>\w+)_(?P<subset>val|test)\.txt")
AMBIGUOUS = "Ambiguous"

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class VideoTruth:
    """The action of one video: its 1-based frames and, where known, a box per frame (source pixels)."""

    frames: frozenset[int]
    boxes: dict[int, Box] = field(default_factory=dict)


def read_boxes(path: str | Path) -> dict[str, VideoTruth]:
    """Parse a ``boxes.csv``; keys are the ``path`` column (as in the split files)."""
    path = Path(path)
    boxes: dict[str, dict[int, Box]] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip() for h in header] != BOX_HEADER:
            raise DatasetError(f"{path}:1: expected the header {','.join(BOX_HEADER)}, got {header!r}")
        for number, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(BOX_HEADER):
                raise DatasetError(f"{path}:{number}: expected {len(BOX_HEADER)} fields, got {len(row)}: {row!r}")
            video, frame_text, *corners = (value.strip() for value in row)
            try:
                frame = int(frame_text)
                x0, y0, x1, y1 = (float(value) for value in corners)
            except ValueError:
                raise DatasetError(f"{path}:{number}: frame must be an integer and x0,y0,x1,y1 numbers, "
                                   f"got {row!r}") from None
            if frame < 1:
                raise DatasetError(f"{path}:{number}: frame {frame} is not 1-based")
            if not (x1 > x0 and y1 > y0 and all(math.isfinite(v) for v in (x0, y0, x1, y1))):
                raise DatasetError(f"{path}:{number}: empty box ({x0:g}, {y0:g}, {x1:g}, {y1:g}): need x1 > x0, y1 > y0")
            frames = boxes.setdefault(video, {})
            if frame in frames:
                raise DatasetError(f"{path}:{number}: {video} frame {frame} has a second row (one box per frame)")
            frames[frame] = (x0, y0, x1, y1)
    return {video: VideoTruth(frozenset(frames), frames) for video, frames in boxes.items()}


def read_thumos_segments(path: str | Path) -> dict[str, list[tuple[float, float]]]:
    """Parse one THUMOS14 temporal annotation file: video name → [(start, end) seconds]."""
    path = Path(path)
    segments: dict[str, list[tuple[float, float]]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            name, start, end = fields[0], float(fields[1]), float(fields[2])
        except (IndexError, ValueError):
            raise DatasetError(f"{path}:{number}: expected '<video> <start s> <end s>', got {line!r}") from None
        if not 0 <= start <= end:
            raise DatasetError(f"{path}:{number}: segment {start:g}–{end:g} s is not 0 <= start <= end")
        segments.setdefault(name, []).append((start, end))
    return segments


def segment_frames(segments: Iterable[tuple[float, float]], fps: float) -> frozenset[int]:
    """1-based frames whose time (frame − 1) / fps lies in one of the [start, end] second ranges."""
    frames: set[int] = set()
    for start, end in segments:
        frames.update(range(math.ceil(start * fps - 1e-9) + 1, math.floor(end * fps + 1e-9) + 2))
    return frozenset(frames)


def thumos_annotation_files(root: str | Path) -> list[Path]:
    """THUMOS14 ``<Class>_val.txt`` / ``<Class>_test.txt`` below ``root`` in an annotation folder."""
    root = Path(root)
    return sorted(p for p in root.rglob("*.txt")
                  if THUMOS_FILE.fullmatch(p.name) and "annotation" in p.relative_to(root).parent.as_posix().lower()
                  and not p.name.startswith(f"{AMBIGUOUS}_"))


def video_fps(path: str | Path) -> float:
    """Frames per second of a video (:func:`tclsta.data.video.video_fps`), as a dataset error."""
    from tclsta.data.video import video_fps as declared_fps  # cv2 only when a video is read

    try:
        return declared_fps(path)
    except VideoDecodeError:
        need = "needed for the THUMOS14 temporal annotations"
        raise DatasetError(f"{path}: cannot read the frame rate ({need})") from None


def video_size(path: str | Path) -> tuple[int, int]:
    """(height, width) of a video's decoded frames: the pixel frame of its boxes."""
    from tclsta.data.video import video_properties  # cv2 only when a video is read

    height, width = video_properties(path, "FRAME_HEIGHT", "FRAME_WIDTH")
    if height <= 0 or width <= 0:
        raise DatasetError(f"{path}: cannot read the frame size (needed to map attention to the boxes)")
    return int(height), int(width)


def ground_truth_files(root: str | Path) -> list[Path]:
    """The files :func:`load_ground_truth` reads at ``root``: ``boxes.csv``, else THUMOS14's; ``[]`` if none."""
    root = Path(root)
    if (root / BOXES).is_file():
        return [root / BOXES]
    return thumos_annotation_files(root) if root.is_dir() else []


def load_ground_truth(root: str | Path, manifest: pd.DataFrame,
                      fps_of: Callable[[Path], float] = video_fps) -> dict[str, VideoTruth]:
    """The attention ground truth of the dataset at ``root``, keyed by the manifest's ``video_id``.

    Reads ``annotations/boxes.csv`` if present, else THUMOS14's temporal annotation files if
    any; ``{}`` when the dataset has neither. A listed video that is not in the manifest is an error.
    """
    root = Path(root)
    by_path = dict(zip(manifest["path"], manifest["video_id"]))
    files = ground_truth_files(root)
    if files == [root / BOXES]:
        boxes = files[0]
        truth = read_boxes(boxes)
        unknown = sorted(set(truth) - set(by_path))
        if unknown:
            raise DatasetError(f"{boxes}: {len(unknown)} path(s) not in the dataset's split files, "
                               f"e.g. {unknown[0]!r}")
        return {by_path[p]: t for p, t in truth.items()}
    by_name = {Path(p).stem: (vid, p) for p, vid in by_path.items()}
    segments: dict[str, list[tuple[float, float]]] = {}
    for path in files:
        for name, spans in read_thumos_segments(path).items():
            if name in by_name:  # background and unused videos are annotated too
                segments.setdefault(name, []).extend(spans)
    return {by_name[name][0]: VideoTruth(segment_frames(spans, fps_of(root / by_name[name][1])))
            for name, spans in segments.items()}
