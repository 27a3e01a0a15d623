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
from collections.abc import Callable, Iterable, Iterator, Sequence
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
from tclsta.data.video import count_frames, iter_chunks
from tclsta.errors import VideoDecodeError

log = logging.getLogger(__name__)


@dataclass
class _Chunk:
    """Decoded frames of one video: RGB ``frames`` to write next (or, for inference, some frames and their
    ``numbers``) and the flow ``runs`` to compute.

    A run ``(first, frames)`` holds consecutive frames whose pairs are flow fields ``first``,
    ``first + 1`` … (1-based, field i from frame i to i + 1). A video found bad (unreadable,
    truncated, too short for flow) ends with a chunk without frames carrying the ``error``.
    """

    video_id: str
    frames: np.ndarray
    runs: list[tuple[int, np.ndarray]]
    last: bool
    error: VideoDecodeError | None = None
    numbers: np.ndarray | None = None  # the frames' numbers (1-based) where only some are written
    n_frames: int | None = None  # on the last chunk of such a video: its frame count

    @classmethod
    def failed(cls, video_id: str, error: VideoDecodeError) -> _Chunk:
        """The closing item of a video found bad."""
        return cls(video_id, _NO_FRAMES, [], last=True, error=error)

    def pairs(self) -> int:
        """How many flow fields this chunk needs."""
        return sum(len(frames) - 1 for _, frames in self.runs)

    def cost(self) -> int:
        """Frames held or flow fields computed, whichever is more (what a batch of chunks is sized by)."""
        return max(len(self.frames), self.pairs())


_NO_FRAMES = np.empty((0, 0, 0, 3), np.uint8)


@dataclass(frozen=True)
class Reads:
    """What inference reads of one video: RGB ``frames`` and flow ``fields`` (1-based numbers)."""

    frames: Sequence[int]
    fields: Sequence[int]

    def decoded_frames(self) -> set[int]:
        """The frames these reads are made of: each RGB frame and both frames of each flow field's pair."""
        return {int(f) for f in self.frames} | {int(f) + step for f in self.fields for step in (0, 1)}


ReadChooser = Callable[[str, int], Reads]
"""What a video needs extracted, from its id and frame count."""


# Flow settings that change how fast the files are made, not what they contain.
_FLOW_EXECUTION_KEYS = ("device", "batch_pairs", "compile")


def extraction_settings(extract: dict[str, Any], flow: dict[str, Any], sampled: bool = False) -> dict[str, Any]:
    """The settings that determine a video folder's content (recorded in ``frames.json``); ``sampled``: the
    chosen frames and flow fields only (inference), never taken for a complete folder by the pipeline."""
    content = {k: v for k, v in flow.items() if k not in _FLOW_EXECUTION_KEYS}
    return {
        "resize": extract["resize"],
        "jpeg_quality": extract["jpeg_quality"],
        "max_frames": extract["max_frames"],
        "flow": content if flow["enabled"] else None,
        **({"reads": "sampled"} if sampled else {}),
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


def _chunks(video_id: str, chunks: Iterator[np.ndarray], with_flow: bool) -> Iterator[_Chunk]:
    """A video's decoded chunks, ``with_flow`` each with the run of all its pairs (the frame before it included)."""
    previous, current, seen = None, next(chunks), 0
    for following in chunks:
        yield _Chunk(video_id, current, _all_pairs(current, previous, seen, with_flow), last=False)
        previous, current, seen = current[-1], following, seen + len(current)
    yield _Chunk(video_id, current, _all_pairs(current, previous, seen, with_flow), last=True)


def _all_pairs(frames: np.ndarray, previous: np.ndarray | None, seen: int,
               with_flow: bool) -> list[tuple[int, np.ndarray]]:
    """The run of every pair of a chunk after ``seen`` frames (``previous`` the last of them, None at the start)."""
    if not with_flow:
        return []
    return [(1, frames) if previous is None else (seen, np.concatenate([previous[None], frames]))]


def chosen_chunks(decoded: Iterable[np.ndarray], reads: Reads, longest: int,
                  source: str | Path) -> Iterator[tuple[np.ndarray, np.ndarray, list[tuple[int, np.ndarray]]]]:
    """For each of video ``source``'s consecutive decoded chunks, until the last one ``reads`` needs: the numbers
    of the chosen RGB frames it holds, those frames, and the flow runs ``(first, frames)`` completed in it,
    each at most ``longest`` fields long (so memory stays bounded whatever the video's length)."""
    numbers = np.unique(np.asarray(reads.frames, dtype=np.int64))
    pieces = _pieces(sorted(set(int(f) for f in reads.fields)), longest)
    needed = max(int(numbers[-1]) if len(numbers) else 0, pieces[-1][1] + 1 if pieces else 0)
    parts: list[np.ndarray] = []
    k = seen = 0
    for chunk in decoded if needed else ():
        end = seen + len(chunk)
        runs = []
        while k < len(pieces):
            first, last = pieces[k]  # needs frames first … last + 1
            if first > end:
                break
            parts.append(chunk[max(first - 1 - seen, 0):last + 1 - seen])
            if last + 1 > end:
                break
            runs.append((first, np.concatenate(parts)))
            parts, k = [], k + 1
        inside = numbers[(numbers > seen) & (numbers <= end)]
        yield inside, chunk[inside - 1 - seen], runs
        seen = end
        if seen >= needed:
            return
    if seen < needed:
        raise VideoDecodeError(f"{source}: decoded {seen} frames, too few for frame {needed} "
                               "(the video decodes differently the second time)")


def _pieces(fields: list[int], longest: int) -> list[tuple[int, int]]:
    """Consecutive ``fields`` as (first, last) ranges of at most ``longest`` fields."""
    pieces: list[tuple[int, int]] = []
    for field in fields:
        if pieces and field == pieces[-1][1] + 1 and field - pieces[-1][0] < longest:
            pieces[-1] = (pieces[-1][0], field)
        else:
            pieces.append((field, field))
    return pieces


def _batches(decoded: Iterator[_Chunk], budget: int) -> Iterator[list[_Chunk]]:
    """Group decoded chunks so that each flow call sees about ``budget`` frame pairs (or holds as many frames)."""
    batch: list[_Chunk] = []
    cost = 0
    for item in decoded:
        batch.append(item)
        cost += item.cost()
        if cost >= budget:
            yield batch
            batch, cost = [], 0
    if batch:
        yield batch


def extract_shard(
    rows: pd.DataFrame,
    dataset_root: str | Path,
    frames_root: str | Path,
    extract: dict[str, Any],
    flow: dict[str, Any],
    table_out: str | Path,
    reads: ReadChooser | None = None,
) -> pd.DataFrame:
    """Extract every video of ``rows``; write the shard table (``INDEX_COLUMNS``) to ``table_out``.

    An unreadable, truncated or (with flow) one-frame video raises :class:`VideoDecodeError`
    naming it, unless ``extract.skip_bad`` is set: then it is logged and recorded with status
    ``bad``, ``truncated`` or ``too_short`` (videos already written stay).

    ``reads`` (inference) writes only the RGB frames and computes only the flow fields it names for
    each video: a video of one chunk takes them from its decoded frames, a longer one is counted first (its
    frames decoded, not converted) and decoded again up to the last frame it needs, converting only those
    the reads are made of.
    """
    settings = extraction_settings(extract, flow, sampled=reads is not None)
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
                if reads is None:
                    yield from _chunks(row.video_id, itertools.chain([first], following, chunks), flow["enabled"])
                else:
                    chunks.close()
                    yield from _chosen(row.video_id, path, first, bool(following), reads, extract)
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
            runs = [frames for item in batch for _, frames in item.runs]  # a failed chunk has none
            flows = iter(_compute_flow(runs, flow) if runs else [])
            for item in batch:
                if item.error is not None:
                    give_up(item)
                    continue
                item_flow = [(first, next(flows)) for first, _ in item.runs]
                if item.video_id not in writers:
                    writers[item.video_id] = FrameFolderWriter(layout.video_dir(frames_root, item.video_id),
                                                               extract["jpeg_quality"], settings_digest)
                writers[item.video_id].add(item.frames, item_flow, item.numbers)
                if item.last:
                    meta = writers.pop(item.video_id).finish(item.n_frames)
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


def _chosen(video_id: str, path: Path, first: np.ndarray, longer: bool, reads: ReadChooser,
            extract: dict[str, Any]) -> Iterator[_Chunk]:
    """The chunks of the frames and flow runs ``reads`` chooses: of a video of one chunk from its decoded frames
    ``first``, of a ``longer`` one, once its frames are counted, from a second decoding that converts only the
    frames they are made of."""
    n_frames = count_frames(path, extract["max_frames"]) if longer else len(first)
    chosen = reads(video_id, n_frames)
    chunks: Iterable[np.ndarray] = [first]
    if longer:
        chunks = iter_chunks(path, extract["resize"], extract["max_frames"], extract["chunk_frames"],
                             chosen.decoded_frames().__contains__)
    for numbers, frames, runs in chosen_chunks(chunks, chosen, extract["chunk_frames"], path):
        yield _Chunk(video_id, frames, runs, last=False, numbers=numbers)
    yield _Chunk(video_id, _NO_FRAMES, [], last=True, n_frames=n_frames)


def _compute_flow(runs: list[np.ndarray], flow: dict[str, Any]) -> list[np.ndarray]:
    """Quantised flow of each run of frames (``[N-1, H, W, 2]`` uint8)."""
    from tclsta.flow.pipeline import flow_images

    return flow_images(runs, flow)


def _record(video_id: str, n_frames: int, n_flow: int, status: str = "ok", error: str = "") -> dict[str, Any]:
    return {"video_id": video_id, "n_frames": n_frames, "n_flow": n_flow, "status": status,
            "error": error.replace("\t", " ").replace("\n", " ")}
