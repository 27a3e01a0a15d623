"""Torch datasets over extracted frames: one item = one video's T sampled frames or flow stacks.

Frames follow :mod:`tclsta.data.layout`. Videos come from the manifest joined with the
frame index (only status ``ok``), restricted to one split's train/test membership.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, Sampler

from tclsta.data.frame_index import usable_videos
from tclsta.data.layout import flow_names, rgb_name, video_dir
from tclsta.data.manifest import read_manifest
from tclsta.data.sampling import evenly_spaced_positions, segment_positions, stack_indices
from tclsta.data.transforms import eval_transform, train_transform
from tclsta.errors import DatasetError


@dataclass(frozen=True)
class VideoRecord:
    """One usable video: id, class label, number of RGB frames and of flow fields."""

    video_id: str
    label: int
    n_frames: int
    n_flow: int


def class_names(manifest_csv: str | Path) -> list[str]:
    """Class names ordered by label, from the manifest."""
    table = read_manifest(manifest_csv).drop_duplicates("label").sort_values("label")
    if list(table["label"]) != list(range(len(table))):
        raise DatasetError(f"{manifest_csv}: labels are not 0..{len(table) - 1}")
    return list(table["class_name"])


def split_videos(manifest_csv: str | Path, frames_index_csv: str | Path, split: int) -> pd.DataFrame:
    """:func:`tclsta.data.frame_index.usable_videos`, refusing a split with no extracted video."""
    rows = usable_videos(manifest_csv, frames_index_csv, split)
    if rows.empty:
        raise DatasetError(f"{manifest_csv}: no extracted videos in split {split} (frame index {frames_index_csv})")
    return rows


def records(table: pd.DataFrame) -> list[VideoRecord]:
    """VideoRecords of a :func:`split_videos` table."""
    return [VideoRecord(str(r.video_id), int(r.label), int(r.n_frames), int(r.n_flow)) for r in table.itertuples()]


class FramesDataset(Dataset):
    """Sampled frames (RGB) or L-stacks of flow fields of each video, transformed to a tensor.

    Training items are addressed by ``(video, seed)`` pairs (see :class:`TrainBatches`):
    TSN segment sampling, multi-scale crop and flip (unless ``flip=False``) all draw from ``seed``, so a run is
    reproducible whatever the number of workers. Test items are addressed by the video
    number: ``segments`` evenly spaced positions and a centre crop. An item is
    ``(clip (T, C, S, S) uint8, label, positions (T,))`` (normalised on the device by
    :func:`tclsta.training.runtime.model_input`); positions are 1-based frame numbers
    (the first field of each flow stack).
    """

    def __init__(
        self,
        frames_root: str | Path,
        videos: Sequence[VideoRecord],
        *,
        stream: str,
        segments: int,
        crop_size: int,
        flow_stack: int = 10,
        scales: Sequence[float] = (1.0,),
        flip: bool = True,
        train: bool = False,
    ) -> None:
        self.root = Path(frames_root)
        self.videos = list(videos)
        self.flow = stream == "flow"
        self.length = flow_stack if self.flow else 1
        self.segments = segments
        self.crop_size = crop_size
        self.scales = tuple(scales)
        self.flip = flip
        self.train = train

    def __len__(self) -> int:
        return len(self.videos)

    def _count(self, video: VideoRecord) -> int:
        n = video.n_flow if self.flow else video.n_frames
        if n < 1:
            kind = "flow fields" if self.flow else "frames"
            raise DatasetError(f"{video_dir(self.root, video.video_id)}: no {kind} (frame index says {n})")
        return n

    def _read(self, path: Path, flags: int) -> np.ndarray:
        image = cv2.imread(str(path), flags)
        if image is None:
            raise DatasetError(f"{path}: missing or unreadable image")
        return image

    def load(self, video: VideoRecord, positions: np.ndarray) -> np.ndarray:
        """The raw uint8 clip (T, H, W, C) at ``positions``; flow channels are x1, y1, x2, y2 …"""
        folder = video_dir(self.root, video.video_id)
        if not self.flow:
            return np.stack([
                cv2.cvtColor(self._read(folder / rgb_name(int(p)), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
                for p in positions
            ])
        clips = []
        for p in positions:
            planes = []
            for i in stack_indices(int(p), self.length, video.n_flow):
                x_name, y_name = flow_names(int(i))
                planes += [self._read(folder / x_name, cv2.IMREAD_GRAYSCALE),
                           self._read(folder / y_name, cv2.IMREAD_GRAYSCALE)]
            clips.append(np.stack(planes, axis=-1))
        return np.stack(clips)

    def __getitem__(self, item: int | tuple[int, int]) -> tuple[torch.Tensor, int, np.ndarray]:
        if self.train:
            index, seed = item
            rng = np.random.default_rng(int(seed))
            video = self.videos[int(index)]
            positions = segment_positions(self._count(video), self.segments, rng, self.length)
            clip = train_transform(self.load(video, positions), flow=self.flow, size=self.crop_size,
                                   scales=self.scales, rng=rng, mirror=self.flip)
        else:
            video = self.videos[int(item)]
            positions = evenly_spaced_positions(self._count(video), self.segments, self.length)
            clip = eval_transform(self.load(video, positions), size=self.crop_size)
        return clip, video.label, positions


class TrainBatches(Sampler):
    """Batches of ``(video, seed)`` pairs for iterations ``start … stop − 1``.

    Iteration i's batch depends only on ``(seed, i)``, so a resumed run sees exactly the
    batches the uninterrupted run would have seen. With ``ranks`` > 1 (data-parallel
    training) rank r takes the r-th equal slice of that global batch: the ranks together
    see the batches of one process, whatever their number.
    """

    def __init__(self, n_videos: int, batch_size: int, seed: int, start: int, stop: int,
                 rank: int = 0, ranks: int = 1) -> None:
        self.n_videos, self.batch_size, self.seed = n_videos, batch_size, seed
        self.start, self.stop = start, stop
        share = batch_size // ranks
        self.slice = slice(rank * share, (rank + 1) * share)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for iteration in range(self.start, self.stop):
            rng = np.random.default_rng([self.seed, iteration])
            videos = rng.choice(self.n_videos, size=self.batch_size, replace=self.n_videos < self.batch_size)
            seeds = rng.integers(0, 2**63 - 1, size=self.batch_size)
            yield [(int(v), int(s)) for v, s in zip(videos, seeds)][self.slice]
