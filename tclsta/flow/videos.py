"""The videos a ``tclsta flow`` run covers: video files, folders of them, and text lists of either."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tclsta.data.manifest import VIDEO_SUFFIXES
from tclsta.errors import DatasetError


def _expand(item: Path, origin: str) -> list[Path]:
    """The video files one input names (a folder: every video under it, sorted)."""
    if item.is_dir():
        found = sorted(p for p in item.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
        if not found:
            raise DatasetError(f"{origin}: no video files ({', '.join(VIDEO_SUFFIXES)}) under {item}")
        return found
    if item.suffix.lower() == ".txt":
        videos: list[Path] = []
        for number, line in enumerate(item.read_text().splitlines(), start=1):
            entry = line.strip()
            if entry and not entry.startswith("#"):
                path = Path(entry) if Path(entry).is_absolute() else item.parent / entry
                videos += _expand(path, f"{item}:{number}")
        return videos
    # a missing or unreadable file is kept: extraction reports it as a bad video, naming it
    return [item]


def list_videos(inputs: list[str], class_folder: bool = False) -> pd.DataFrame:
    """``video_id`` (output sub-folder: the file's stem, or ``<parent>/<stem>`` with
    ``class_folder``) and absolute ``path`` of every video the inputs name, in order, once each.
    Two different videos that would share an output folder are an error naming both."""
    rows: dict[str, Path] = {}
    for name in inputs:
        for path in _expand(Path(name), name):
            path = path.resolve()
            video_id = f"{path.parent.name}/{path.stem}" if class_folder else path.stem
            if video_id in rows and rows[video_id] != path:
                raise DatasetError(f"{rows[video_id]} and {path} would both write {video_id}/ (use --class-folder or rename one)")
            rows[video_id] = path
    if not rows:
        raise DatasetError("no videos given")
    return pd.DataFrame({"video_id": list(rows), "path": [str(p) for p in rows.values()]})
