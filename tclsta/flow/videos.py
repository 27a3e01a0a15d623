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
    """``folder`` (the output sub-folder the video's folder goes in: its parent folder's name
    with ``class_folder``, else ``""``), ``video_id`` (the file's stem: one path component, as in
    the pipeline) and absolute ``path`` of every video the inputs name, in order, once each.
    Two different videos that would share an output folder are an error naming both."""
    rows: dict[tuple[str, str], Path] = {}
    for name in inputs:
        for path in _expand(Path(name), name):
            path = path.resolve()
            key = (path.parent.name if class_folder else "", path.stem)
            if key in rows and rows[key] != path:
                where = "/".join(part for part in key if part)
                raise DatasetError(f"{rows[key]} and {path} would both write {where}/ (use --class-folder or rename one)")
            rows[key] = path
    if not rows:
        raise DatasetError("no videos given")
    return pd.DataFrame({"folder": [k[0] for k in rows], "video_id": [k[1] for k in rows],
                         "path": [str(p) for p in rows.values()]})
