"""The extraction stage: decode a shard of videos to RGB JPEGs and compute their TV-L1 flow.

One job handles ``extract.shard_size`` consecutive manifest rows. Each video's folder is
written under a temporary name and renamed when complete, with ``frames.json`` recording
the settings it was made with, so a killed job resumes at video granularity: complete
folders made with the same settings are skipped, partial ones are never mistaken for
complete. Frame pairs of many videos are batched into each flow call. Videos are decoded
and written in chunks (``extract.chunk_frames`` frames, flow pairs spanning chunks included),
so a long untrimmed video needs no more memory than a short one.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from tclsta.atomic import atomic_path
from tclsta.config import digest
from tclsta.data import layout, verify
from tclsta.data.frame_index import INDEX_COLUMNS
from tclsta.data.frame_writer import FrameFolderWriter
from tclsta.data.video import iter_chunks
from tclsta.errors import VideoDecodeError

log = logging.getLogger(__name__)


@dataclass
class _Chunk:
    """Consecutive decoded frames of one video waiting for their flow.

    ``previous`` is the frame before them (None for a video's first chunk): its pair with
    ``frames[0]`` belongs to this chunk's flow. A video found bad (unreadable, truncated, too
    short for flow) ends with a chunk without frames carrying the ``error``.
    """

    video_id: str
    frames: np.ndarray
    previous: np.ndarray | None
    last: bool
    error: VideoDecodeError | None = None

    @classmethod
    def failed(cls, video_id: str, error: VideoDecodeError) -> _Chunk:
        """The closing item of a video found bad."""
        return cls(video_id, np.empty((0, 0, 0, 3), np.uint8), None, last=True, error=error)

    def flow_input(self) -> np.ndarray:
        """The frames whose consecutive pairs are this chunk's flow fields."""
        return self.frames if self.previous is None else np.concatenate([self.previous[None], self.frames])

    def pairs(self) -> int:
        """How many flow fields this chunk needs."""
        return 0 if self.error is not None else len(self.frames) - (self.previous is None)


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


def _chunks(video_id: str, chunks: Iterator[np.ndarray]) -> Iterator[_Chunk]:
    """A video's decoded chunks, each knowing the frame before it and whether it is the last."""
    previous, current = None, next(chunks)
    for following in chunks:
        yield _Chunk(video_id, current, previous, last=False)
        previous, current = current[-1], following
    yield _Chunk(video_id, current, previous, last=True)


def _batches(decoded: Iterator[_Chunk], pair_budget: int) -> Iterator[list[_Chunk]]:
    """Group decoded chunks so that each flow call sees about ``pair_budget`` frame pairs."""
    batch: list[_Chunk] = []
    pairs = 0
    for item in decoded:
        batch.append(item)
        pairs += item.pairs()
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

    An unreadable, truncated or (with flow) one-frame video raises :class:`VideoDecodeError`
    naming it, unless ``extract.skip_bad`` is set: then it is logged and recorded with status
    ``bad``, ``truncated`` or ``too_short`` (videos already written stay).
    """
    settings = extraction_settings(extract, flow)
    settings_digest = digest(settings)
    records: dict[str, dict[str, Any]] = {}
    failures: list[VideoDecodeError] = []
    writers: dict[str, FrameFolderWriter] = {}

    def pending() -> Iterator[_Chunk]:
        for row in tqdm(rows.itertuples(index=False), total=len(rows), desc="extract", unit="video"):
            folder = layout.video_dir(frames_root, row.video_id)
            meta = is_complete(folder, settings_digest)
            if meta is not None:
                records[row.video_id] = _record(row.video_id, meta["n_frames"], meta["n_flow"])
                continue
            path = Path(dataset_root) / row.path
            chunks = iter_chunks(path, extract["resize"], extract["max_frames"], extract["chunk_frames"])
            try:
                first = next(chunks)
                following = list(itertools.islice(chunks, 1))  # does the video go on after its first chunk?
                if not following:
                    verify.check_flow_length(path, len(first), flow["enabled"])
                yield from _chunks(row.video_id, itertools.chain([first], following, chunks))
            except VideoDecodeError as err:  # a truncated stream shows only at its end
                yield _Chunk.failed(row.video_id, err)
                if not extract["skip_bad"]:
                    return  # stop here, but first finish the videos already decoded

    def give_up(item: _Chunk) -> None:
        writer = writers.pop(item.video_id, None)
        if writer is not None:
            writer.abort(item.error)
        if not extract["skip_bad"]:
            failures.append(item.error)
            return
        log.warning("skipping bad video: %s", item.error)
        records[item.video_id] = _record(item.video_id, 0, 0, item.error.status, str(item.error))

    budget = 4 * int(flow["batch_pairs"])
    try:
        for batch in _batches(pending(), budget):
            readable = [item for item in batch if item.error is None]
            flows = iter(_compute_flow([item.flow_input() for item in readable], flow) if readable else [])
            for item in batch:
                if item.error is not None:
                    give_up(item)
                    continue
                item_flow = next(flows)
                if item.video_id not in writers:
                    writers[item.video_id] = FrameFolderWriter(layout.video_dir(frames_root, item.video_id),
                                                               extract["jpeg_quality"], settings_digest)
                writers[item.video_id].add(item.frames, item_flow)
                if item.last:
                    meta = writers.pop(item.video_id).finish()
                    records[item.video_id] = _record(item.video_id, meta["n_frames"], meta["n_flow"])
    except BaseException as err:
        for writer in writers.values():
            writer.abort(err)
        raise
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
