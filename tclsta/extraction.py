"""The extraction stage: decode a shard of videos to RGB JPEGs and compute their TV-L1 flow.

One job handles ``extract.shard_size`` consecutive manifest rows. Each video's folder is
written under a temporary name and renamed when complete, with ``frames.json`` recording
the settings it was made with, so a killed job resumes at video granularity: complete
folders made with the same settings are skipped, partial ones are never mistaken for
complete. Frame pairs of many videos are batched into each flow call.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from tclsta.atomic import atomic_directory, atomic_path
from tclsta.config import digest
from tclsta.data import layout, verify
from tclsta.data.frame_index import INDEX_COLUMNS
from tclsta.data.video import decode_video
from tclsta.errors import VideoDecodeError

log = logging.getLogger(__name__)


@dataclass
class _Decoded:
    """A decoded video waiting for its flow."""

    video_id: str
    frames: np.ndarray


# Flow settings that change how fast the files are made, not what they contain.
_FLOW_EXECUTION_KEYS = ("device", "batch_pairs", "compile")


def extraction_settings(extract: dict[str, Any], flow: dict[str, Any]) -> dict[str, Any]:
    """The settings that determine a video folder's content (recorded in ``frames.json``)."""
    content = {k: v for k, v in flow.items() if k not in _FLOW_EXECUTION_KEYS}
    return {
        "resize": extract["resize"],
        "jpeg_quality": extract["jpeg_quality"],
        "max_frames": extract["max_frames"],
        "flow": content if flow["enabled"] else None,
    }


def shard_rows(manifest: pd.DataFrame, shard: int, shard_size: int) -> pd.DataFrame:
    """Manifest rows of one shard (consecutive rows, ``shard_size`` per shard)."""
    return manifest.iloc[shard * shard_size:(shard + 1) * shard_size]


def is_complete(folder: Path, settings_digest: str) -> dict[str, Any] | None:
    """The meta of a complete video folder made with these settings, else None."""
    meta = layout.read_meta(folder)
    if meta is None or meta.get("settings") != settings_digest:
        return None
    problems = verify.folder_problems(folder, meta)
    if problems:
        log.warning("%s: damaged (%s); extracting it again", folder, "; ".join(problems))
        return None
    return meta


def write_video(folder: Path, frames: np.ndarray, flow: np.ndarray | None, quality: int, settings_digest: str) -> dict:
    """Write one video's RGB (and flow) JPEGs into ``folder`` atomically; return its meta."""
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    with atomic_directory(folder) as tmp:
        for i, frame in enumerate(frames, start=1):
            _imwrite(tmp / layout.rgb_name(i), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), params)
        n_flow = 0
        if flow is not None:
            for i, pair in enumerate(flow, start=1):
                name_x, name_y = layout.flow_names(i)
                _imwrite(tmp / name_x, pair[..., 0], params)
                _imwrite(tmp / name_y, pair[..., 1], params)
            n_flow = len(flow)
        meta = {
            "n_frames": int(len(frames)),
            "n_flow": n_flow,
            "height": int(frames.shape[1]),
            "width": int(frames.shape[2]),
            "settings": settings_digest,
        }
        meta = verify.record_sizes(tmp, meta)
        layout.write_meta(tmp, meta)
    return meta


def _imwrite(path: Path, image: np.ndarray, params: list[int]) -> None:
    ok, data = cv2.imencode(".jpg", image, params)
    if not ok:
        raise OSError(f"{path}: cannot encode JPEG")
    path.write_bytes(data)  # a full disk raises OSError(ENOSPC), which cv2.imwrite would hide


def _batches(decoded: Iterator[_Decoded], pair_budget: int) -> Iterator[list[_Decoded]]:
    """Group decoded videos so that each flow call sees about ``pair_budget`` frame pairs."""
    batch: list[_Decoded] = []
    pairs = 0
    for item in decoded:
        batch.append(item)
        pairs += max(0, len(item.frames) - 1)
        if pairs >= pair_budget:
            yield batch
            batch, pairs = [], 0
    if batch:
        yield batch


def extract_shard(
    rows: pd.DataFrame,
    dataset_root: str | Path,
    frames_root: str | Path,
    extract: dict[str, Any],
    flow: dict[str, Any],
    table_out: str | Path,
) -> pd.DataFrame:
    """Extract every video of ``rows``; write the shard table (``INDEX_COLUMNS``) to ``table_out``.

    An unreadable video raises :class:`VideoDecodeError` naming it, unless ``extract.skip_bad``
    is set: then it is logged and recorded with status ``bad`` (videos already written stay).
    """
    settings = extraction_settings(extract, flow)
    settings_digest = digest(settings)
    records: dict[str, dict[str, Any]] = {}
    failures: list[VideoDecodeError] = []

    def pending() -> Iterator[_Decoded]:
        for row in tqdm(rows.itertuples(index=False), total=len(rows), desc="extract", unit="video"):
            folder = layout.video_dir(frames_root, row.video_id)
            meta = is_complete(folder, settings_digest)
            if meta is not None:
                records[row.video_id] = _record(row.video_id, meta["n_frames"], meta["n_flow"])
                continue
            try:
                frames = decode_video(Path(dataset_root) / row.path, extract["resize"], extract["max_frames"])
                verify.check_flow_length(Path(dataset_root) / row.path, len(frames), flow["enabled"])
            except VideoDecodeError as err:
                if not extract["skip_bad"]:
                    failures.append(err)  # stop here, but first finish the videos already decoded
                    return
                log.warning("skipping bad video: %s", err)
                records[row.video_id] = _record(row.video_id, 0, 0, err.status, str(err))
                continue
            yield _Decoded(row.video_id, frames)

    budget = 4 * int(flow["batch_pairs"])
    for batch in _batches(pending(), budget):
        flows = _compute_flow([item.frames for item in batch], flow)
        for item, item_flow in zip(batch, flows):
            meta = write_video(layout.video_dir(frames_root, item.video_id), item.frames, item_flow,
                               extract["jpeg_quality"], settings_digest)
            records[item.video_id] = _record(item.video_id, meta["n_frames"], meta["n_flow"])
    if failures:
        raise failures[0]
    table = pd.DataFrame([records[v] for v in rows["video_id"]], columns=INDEX_COLUMNS)
    with atomic_path(table_out) as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    return table


def _compute_flow(videos: list[np.ndarray], flow: dict[str, Any]) -> list[np.ndarray | None]:
    """Quantised flow per video (``[N-1, H, W, 2]`` uint8), or None per video when flow is off."""
    if not flow["enabled"]:
        return [None] * len(videos)
    from tclsta.flow.pipeline import flow_images

    return flow_images(videos, flow)


def _record(video_id: str, n_frames: int, n_flow: int, status: str = "ok", error: str = "") -> dict[str, Any]:
    return {"video_id": video_id, "n_frames": n_frames, "n_flow": n_flow, "status": status,
            "error": error.replace("\t", " ").replace("\n", " ")}
