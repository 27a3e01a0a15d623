"""On-disk layout of extracted frames (denseflow / mmaction2 "rawframes" convention).

``<frames_root>/<video_id>/img_00001.jpg`` … RGB frames (1-based), and for N frames the
N−1 flow pairs ``flow_x_00001.jpg`` / ``flow_y_00001.jpg`` (flow from frame i to i+1).
A folder made for inference may hold only the frames and pairs its sampled stacks read: ``frames.json``
then lists them (``rgb_frames``, ``flow_fields``) and ``n_frames``, ``n_flow`` are still the video's N
and N−1 (see :func:`rgb_frames`, :func:`flow_fields`).
A video folder exists only when complete: it is written under a temporary name and
renamed (see :func:`tclsta.atomic.atomic_directory`); ``frames.json`` inside records the
frame count, the settings it was made with and every JPEG's size (see :mod:`tclsta.data.verify`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tclsta.errors import DatasetError

META_NAME = "frames.json"
FRAMES_KEY = "rgb_frames"
FIELDS_KEY = "flow_fields"


def video_id_problem(video_id: str) -> str | None:
    """Why ``video_id`` cannot name a folder of its own under the frames root, or None if it can.

    A video id is used as one path component: ``.``/``..``, separators, NUL and a leading
    dot (hidden; the temporary names of :mod:`tclsta.atomic`) would write elsewhere than
    ``<frames_root>/<video_id>`` or clash with files that are not a video's frames.
    """
    if not video_id or video_id.strip() != video_id:
        return f"video id {video_id!r} is empty or has leading/trailing blanks"
    if video_id.startswith("."):
        return f"video id {video_id!r} starts with '.' (would be '.', '..' or a hidden folder)"
    if any(c in video_id for c in "/\\\0"):
        return f"video id {video_id!r} contains a path separator or NUL"
    return None


def check_video_id(video_id: str, where: str) -> str:
    """Return ``video_id``, or raise :class:`DatasetError` naming ``where`` (file and line) if unusable."""
    problem = video_id_problem(video_id)
    if problem:
        raise DatasetError(f"{where}: {problem}; rename the video file")
    return video_id


def rgb_name(index: int) -> str:
    """File name of RGB frame ``index`` (1-based)."""
    return f"img_{index:05d}.jpg"


def flow_names(index: int) -> tuple[str, str]:
    """File names of the x and y flow images from frame ``index`` to ``index + 1`` (1-based)."""
    return f"flow_x_{index:05d}.jpg", f"flow_y_{index:05d}.jpg"


def video_dir(frames_root: str | Path, video_id: str) -> Path:
    """Folder holding one video's frames (an id that would leave ``frames_root`` is refused)."""
    return Path(frames_root) / check_video_id(video_id, str(frames_root))


def read_meta(folder: str | Path) -> dict[str, Any] | None:
    """The ``frames.json`` of a complete video folder, or None if absent/unreadable."""
    path = Path(folder) / META_NAME
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_meta(folder: str | Path, meta: dict[str, Any]) -> None:
    """Write ``frames.json`` (inside a folder that is itself renamed into place when done)."""
    (Path(folder) / META_NAME).write_text(json.dumps(meta, indent=1, sort_keys=True))


def rgb_frames(meta: dict[str, Any]) -> list[int]:
    """The RGB frames (1-based) a folder with this ``frames.json`` holds: all ``n_frames``, or those it lists."""
    listed = meta.get(FRAMES_KEY)
    return list(range(1, int(meta["n_frames"]) + 1)) if listed is None else [int(i) for i in listed]


def flow_fields(meta: dict[str, Any]) -> list[int]:
    """The flow pairs (1-based) a folder with this ``frames.json`` holds: all ``n_flow``, or those it lists."""
    listed = meta.get(FIELDS_KEY)
    return list(range(1, int(meta["n_flow"]) + 1)) if listed is None else [int(i) for i in listed]
