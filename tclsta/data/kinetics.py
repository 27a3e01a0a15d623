"""``dataset.format: kinetics``: Kinetics-400/600/700 as the common download scripts leave it.

``annotations/{train,val}.csv`` (``label,youtube_id,time_start,time_end,split[,is_cc]``) and the
videos ``{train,val}/{youtube_id}_{start:06d}_{end:06d}.mp4``, flat or in ``<label>/`` folders
(found by file name anywhere below ``train/`` and ``val/``). Train on train, test on val; the
test split has no labels and is not read. A listed video missing from disk is returned in the
missing list (``video_id``, reason), not raised: some percent of Kinetics is always gone.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import NamedTuple

from tclsta.errors import DatasetError

SUBSETS = {"train": "train", "val": "test"}  # annotation file -> manifest subset
COLUMNS = ["label", "youtube_id", "time_start", "time_end", "split"]


class Clip(NamedTuple):
    """One annotated Kinetics clip."""

    video_id: str
    label: str
    subset: str  # train / test
    where: str  # "file:line"


def clip_id(youtube_id: str, start: str, end: str) -> str:
    """The file stem the download scripts give a clip: ``{id}_{start:06d}_{end:06d}``."""
    return f"{youtube_id}_{int(float(start)):06d}_{int(float(end)):06d}"


def read_annotations(path: Path, subset: str) -> list[Clip]:
    """The clips of one Kinetics annotation CSV (BOM and CRLF accepted)."""
    if not path.is_file():
        raise DatasetError(f"{path}: Kinetics annotation file not found")
    reader = csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig", errors="replace")))
    header = [h.strip() for h in next(reader, [])]
    if header[:5] != COLUMNS:
        raise DatasetError(f"{path}:1: expected the header {','.join(COLUMNS)}[,is_cc], got {','.join(header)!r}")
    clips = []
    for row in reader:
        if not any(field.strip() for field in row):
            continue
        where = f"{path}:{reader.line_num}"
        if len(row) < 5:
            raise DatasetError(f"{where}: expected {len(header)} fields, got {row!r}")
        label, youtube_id, start, end = (value.strip() for value in row[:4])
        try:
            clips.append(Clip(clip_id(youtube_id, start, end), label, subset, where))
        except ValueError:
            raise DatasetError(f"{where}: time_start/time_end must be numbers, got {start!r}, {end!r}") from None
        if not label:
            raise DatasetError(f"{where}: empty label")
    return clips


def video_files(folder: Path) -> dict[str, str]:
    """File stem → path relative to the folder's parent, for every ``.mp4`` below ``folder``."""
    found: dict[str, str] = {}
    if not folder.is_dir():
        return found
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel = Path(dirpath).relative_to(folder.parent).as_posix()
        for name in filenames:
            stem, dot, suffix = name.rpartition(".")
            if dot and suffix.lower() == "mp4" and not name.startswith("."):
                found.setdefault(stem, f"{rel}/{name}")
    return found


def kinetics_clips(root: Path) -> tuple[list[tuple[Clip, str]], list[tuple[str, str]], list[str]]:
    """(clips found with their root-relative path, missing ``(video_id, reason)``, sorted class names)."""
    clips = [clip for name, subset in SUBSETS.items()
             for clip in read_annotations(root / "annotations" / f"{name}.csv", subset)]
    found, missing = [], []
    seen: dict[str, str] = {}
    for name, subset in SUBSETS.items():
        files = video_files(root / name)
        for clip in (c for c in clips if c.subset == subset):
            if clip.video_id in seen:
                raise DatasetError(f"{clip.where}: clip {clip.video_id} is also listed at {seen[clip.video_id]}")
            seen[clip.video_id] = clip.where
            if clip.video_id in files:
                found.append((clip, files[clip.video_id]))
            else:
                missing.append((clip.video_id, f"missing: {name}/{clip.video_id}.mp4 not found (listed at {clip.where})"))
    return found, missing, sorted({clip.label for clip in clips})
