"""Verification of extracted videos: the decoded length, the file counts and every JPEG.

A video folder is complete when ``frames.json`` is there (it is renamed into place last),
but files can be lost or damaged afterwards (a disk error, a careless ``rm``). This check
is cheap, two small reads per file, no decode: every RGB and flow JPEG the meta announces
exists, starts with the JPEG SOI marker (FF D8), ends with the EOI marker (FF D9) and has
the size recorded in ``frames.json`` when it was written. It catches missing, truncated and
overwritten files; it does not catch damage inside the entropy-coded data of a JPEG whose
size is unchanged (a full decode would, at ~100x the cost).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from tclsta.data import layout
from tclsta.errors import DamagedFramesError, ShortVideoError, TruncatedVideoError

JPEG_SOI = b"\xff\xd8"
JPEG_EOI = b"\xff\xd9"
MIN_JPEG_BYTES = 128  # less cannot hold a JPEG's headers (OpenCV's 1x1 grey JPEG: 332 bytes)
# A video counts as truncated when fewer than this fraction of its declared frames decode
# (containers' declared counts are often off by a frame or two).
TRUNCATED_BELOW = 0.9
SIZES_KEY = "jpeg_bytes"


def check_decoded_count(path: str | Path, decoded: int, declared: int, max_frames: int | None) -> None:
    """Raise :class:`TruncatedVideoError` if clearly fewer frames decoded than the container declares."""
    expected = declared if max_frames is None else min(declared, max_frames)
    if expected > 0 and decoded < TRUNCATED_BELOW * expected:
        raise TruncatedVideoError(f"{path}: truncated or damaged stream: decoded {decoded} of {declared} "
                                  "declared frames")


def check_flow_length(path: str | Path, n_frames: int, flow_enabled: bool) -> None:
    """Raise :class:`ShortVideoError` if flow is asked for and the video has fewer than 2 frames."""
    if flow_enabled and n_frames < 2:
        raise ShortVideoError(f"{path}: only {n_frames} frame: too short for optical flow (needs 2)")


def expected_names(meta: dict[str, Any]) -> list[str]:
    """Every JPEG a folder with this ``frames.json`` holds (its frames, then its flow pairs), in a fixed order."""
    names = [layout.rgb_name(i) for i in layout.rgb_frames(meta)]
    for i in layout.flow_fields(meta):
        names.extend(layout.flow_names(i))
    return names


def jpeg_problem(path: Path, expected_size: int | None = None) -> str | None:
    """What is wrong with the JPEG at ``path`` (missing, size, markers), or None."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if expected_size is not None and size != expected_size:
                return f"{path.name}: {size} bytes, {expected_size} when written"
            if size < MIN_JPEG_BYTES:
                return f"{path.name}: only {size} bytes"
            head = handle.read(2)
            handle.seek(size - 2)
            tail = handle.read(2)
    except FileNotFoundError:
        return f"{path.name}: missing"
    except OSError as err:
        return f"{path.name}: unreadable ({err.strerror})"
    if head != JPEG_SOI:
        return f"{path.name}: not a JPEG (no start-of-image marker)"
    if tail != JPEG_EOI:
        return f"{path.name}: truncated JPEG (no end-of-image marker)"
    return None


def record_sizes(folder: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` plus the byte size of every JPEG in ``folder`` (written into ``frames.json``)."""
    names = expected_names(meta)
    return {**meta, SIZES_KEY: [(folder / name).stat().st_size for name in names]}


def folder_problems(folder: str | Path, meta: dict[str, Any] | None = None, limit: int = 3) -> list[str]:
    """Up to ``limit`` problems of an extracted video folder (empty when it is intact)."""
    folder = Path(folder)
    meta = layout.read_meta(folder) if meta is None else meta
    if meta is None:
        return [f"{folder}: no readable {layout.META_NAME} (not extracted, or extracted incompletely)"]
    names = expected_names(meta)
    sizes = meta.get(SIZES_KEY)
    if sizes is not None and len(sizes) != len(names):
        return [f"{folder}: {layout.META_NAME} records {len(sizes)} file sizes for {len(names)} files"]
    problems = []
    for k, name in enumerate(names):
        problem = jpeg_problem(folder / name, None if sizes is None else sizes[k])
        if problem:
            problems.append(f"{folder}/{problem}")
            if len(problems) >= limit:
                break
    return problems


def verify_index(index: pd.DataFrame, frames_root: str | Path) -> pd.DataFrame:
    """A copy of a frame index table whose ``ok`` videos with a damaged folder get status ``damaged``.

    The ``error`` column then names the damaged files (at most 3 per video).
    """
    index = index.copy()
    ok = index.index[index["status"] == "ok"]
    for row in tqdm(ok, desc="verify", unit="video", disable=len(ok) < 100):
        video_id = index.at[row, "video_id"]
        problems = folder_problems(layout.video_dir(frames_root, video_id))
        if problems:
            index.loc[row, ["status", "error"]] = [DamagedFramesError.status, "; ".join(problems)]
    return index


def damaged_summary(index: pd.DataFrame) -> str:
    """One line per damaged video of a verified index (empty when none)."""
    damaged = index[index["status"] == DamagedFramesError.status]
    return "\n".join(f"  {v}: {e}" for v, e in zip(damaged["video_id"], damaged["error"]))
