"""The frame store's size, known before extraction: estimated from a sample, checked against free space.

A few videos spread over the manifest are really extracted (their first ``SAMPLE_FRAMES``
frames, at the configured resize, JPEG quality and flow settings, by
:func:`tclsta.extraction.extract_shard`) into a temporary folder (the system's, so a nearly full
output disk can still be checked), which is removed afterwards. Bytes per frame (RGB + flow JPEGs) × the sample's mean frame count (as the
containers declare it, capped by ``extract.max_frames``) × the videos not yet extracted is the
need. If the file system has less free space, :class:`tclsta.errors.DiskFullError` says so in one line.
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tclsta.data import layout
from tclsta.data.video import video_frame_count
from tclsta.errors import DiskFullError, mount_point

log = logging.getLogger(__name__)

SAMPLE_VIDEOS = 3
SAMPLE_FRAMES = 8


def sample_rows(manifest: pd.DataFrame, count: int = SAMPLE_VIDEOS) -> pd.DataFrame:
    """``count`` rows spread evenly over the manifest (first, last and between)."""
    positions = np.unique(np.linspace(0, len(manifest) - 1, min(count, len(manifest))).round().astype(int))
    return manifest.iloc[positions]


def frames_of(path: Path, max_frames: int | None) -> int:
    """Frames a video will give (the container's count, capped by ``extract.max_frames``)."""
    count = video_frame_count(path)
    return min(count, max_frames) if max_frames else count


def measure_sample(rows: pd.DataFrame, root: Path, extract: dict[str, Any],
                   flow: dict[str, Any]) -> tuple[float, float] | None:
    """(mean frames per video, bytes per frame) from extracting the sample; None if none could be read."""
    from tclsta.extraction import extract_shard

    sample_extract = {**extract, "skip_bad": True,
                      "max_frames": min(extract["max_frames"] or SAMPLE_FRAMES, SAMPLE_FRAMES)}
    with tempfile.TemporaryDirectory(prefix="tclsta-disk-sample-") as scratch:
        table = extract_shard(rows, root, Path(scratch) / "frames", sample_extract, flow, Path(scratch) / "sample.tsv")
        ok = table[table["status"] == "ok"]
        if ok.empty:
            return None
        per_frame = [sum(f.stat().st_size for f in layout.video_dir(Path(scratch) / "frames", vid).iterdir())
                     / n for vid, n in zip(ok["video_id"], ok["n_frames"])]
    lengths = [frames_of(root / path, extract["max_frames"]) for path in rows.set_index("video_id").loc[ok["video_id"], "path"]]
    return float(np.mean(lengths)), float(np.mean(per_frame))


def estimate_need(manifest: pd.DataFrame, root: str | Path, frames_root: str | Path, extract: dict[str, Any],
                  flow: dict[str, Any]) -> dict[str, Any]:
    """The estimate: videos, frames per video, bytes per frame, bytes needed (videos not yet extracted), free bytes."""
    frames_root = Path(frames_root)
    done = {p.name for p in frames_root.iterdir()} if frames_root.is_dir() else set()
    remaining = int((~manifest["video_id"].isin(done)).sum())
    mount = mount_point(frames_root)
    estimate = {"videos": len(manifest), "remaining": remaining, "mount": mount,
                "free_bytes": shutil.disk_usage(mount).free}
    measured = measure_sample(sample_rows(manifest), Path(root), extract, flow) if remaining else None
    if measured is None:
        return {**estimate, "frames_per_video": None, "bytes_per_frame": None, "need_bytes": 0}
    frames, per_frame = measured
    return {**estimate, "frames_per_video": frames, "bytes_per_frame": per_frame,
            "need_bytes": int(math.ceil(remaining * frames * per_frame))}


def size_text(count: float) -> str:
    """Bytes as GiB from 1 GiB up, else MiB."""
    return f"{count / 2**30:.2f} GiB" if count >= 2**30 else f"{count / 2**20:.1f} MiB"


def check(estimate: dict[str, Any], frames_root: str | Path) -> None:
    """Raise :class:`DiskFullError` in one line when the need exceeds the free space."""
    need, free = estimate["need_bytes"], estimate["free_bytes"]
    if need > free:
        raise DiskFullError(
            f"{frames_root}: extracting {estimate['remaining']} videos needs about {size_text(need)} "
            f"({estimate['frames_per_video']:.0f} frames x {estimate['bytes_per_frame'] / 1024:.1f} KiB of JPEGs each), "
            f"the file system mounted at {estimate['mount']} has {size_text(free)} free; free space, set "
            "output_dir to another disk, or set extract.check_disk: false")
