"""On-disk layout of extracted frames (denseflow / mmaction2 "rawframes" convention).

``<frames_root>/<video_id>/img_00001.jpg`` … RGB frames (1-based), and for N frames the
N−1 flow pairs ``flow_x_00001.jpg`` / ``flow_y_00001.jpg`` (flow from frame i to i+1).
A video folder exists only when complete: it is written under a temporary name and
renamed (see :func:`tclsta.atomic.atomic_directory`); ``frames.json`` inside records the
frame count and the settings it was made with.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

META_NAME = "frames.json"


def rgb_name(index: int) -> str:
    """File name of RGB frame ``index`` (1-based)."""
    return f"img_{index:05d}.jpg"


def flow_names(index: int) -> tuple[str, str]:
    """File names of the x and y flow images from frame ``index`` to ``index + 1`` (1-based)."""
    return f"flow_x_{index:05d}.jpg", f"flow_y_{index:05d}.jpg"


def video_dir(frames_root: str | Path, video_id: str) -> Path:
    """Folder holding one video's frames."""
    return Path(frames_root) / video_id


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
