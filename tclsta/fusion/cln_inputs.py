"""The CLN's inputs: both streams' frames aligned video by video, scaled, read back a minibatch at a time.

A frame's input vector is its feature scaled by its temporal weight, ``v_t = N·softmax(γ)_t·α_t``
(the β of Eq. 6 times N, so without temporal attention ``v_t = α_t``); when the two streams
have different frame counts for a video, the longer one is subsampled at evenly spaced
positions. Each stream is then mapped by ``(v − shift) / scale`` (:func:`input_scale`, from
the valid frames of the training videos).

Memory does not grow with the frames: one pass over each (open) feature cache, a block of
videos at a time, copies the aligned frames as stored (float16 by default) into an unnamed
scratch file, slot ``[N, D]`` per video, keeps the per-frame weights ``[V, N]`` and
accumulates the moments of the training frames; :meth:`PairedFrames.batch` reads a
minibatch's slots back and scales them, the same float32 operations, value for value, as
scaling every frame in memory. Scratch space: ``V × N × (D_s + D_m) × 2`` bytes (2.7 GB for
UCF101's 13,320 videos of 25 frames at D = 2048).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from tclsta.errors import DatasetError
from tclsta.features.cache import FeatureCache
from tclsta.models.cln import SIDES


def frame_weights(cache: FeatureCache, video: int) -> np.ndarray:
    """``N·softmax(γ)_t`` of one video's frames (ones without temporal attention), float32."""
    weights = cache.temporal_weights[cache.rows(video)].astype(np.float32)
    return weights * (len(weights) / weights.sum())


def evenly(length: int, n: int) -> np.ndarray:
    """Positions of ``n`` evenly spaced rows out of ``length`` (all of them when ``n == length``)."""
    if length == n:
        return np.arange(n)
    return np.round(np.linspace(0, length - 1, n)).astype(int)


class RunningMoments:
    """Per-dimension count, mean and sum of squared deviations of rows added in chunks (Chan et al.'s
    pairwise merge, float64), for the mean/std or root-mean-square of more rows than memory holds."""

    def __init__(self, dim: int) -> None:
        self.count = 0
        self.mean = np.zeros(dim)
        self.m2 = np.zeros(dim)

    def add(self, rows: np.ndarray) -> None:
        """Add ``rows`` ``[n, D]``."""
        x = rows.astype(np.float64)
        mean = x.mean(axis=0)
        m2 = ((x - mean) ** 2).sum(axis=0)
        total = self.count + len(x)
        delta = mean - self.mean
        self.mean += delta * (len(x) / total)
        self.m2 += m2 + delta**2 * (self.count * len(x) / total)
        self.count = total

    def std(self) -> np.ndarray:
        """Per-dimension standard deviation, unbiased (``n − 1``)."""
        return np.sqrt(self.m2 / (self.count - 1))

    def rms(self) -> float:
        """Root-mean-square over every row and dimension."""
        return float(np.sqrt((self.m2 + self.count * self.mean**2).sum() / (self.count * len(self.mean))))


def input_scale(moments: RunningMoments, standardise: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``(shift, scale)`` a stream's frames are mapped by, ``(v − shift) / scale``, from the training frames' moments.

    The paper's CLN: no shift, one scale, the root-mean-square of the features. ``standardise``
    (the held-out CLN's ``cln.heldout.standardise``): per feature dimension, mean and standard
    deviation, as the early-fusion SVM standardises its inputs.
    """
    if standardise:
        return (torch.as_tensor(moments.mean, dtype=torch.float32),
                torch.as_tensor(moments.std(), dtype=torch.float32).clamp_min(1e-6))
    return torch.zeros(()), torch.tensor(moments.rms(), dtype=torch.float32).clamp_min(1e-8)


class FrameStore:
    """One stream's aligned frames, a zero-padded ``[N, D]`` slot per video, in a scratch file (unnamed:
    nothing is left on disk when it is closed, collected or the process dies)."""

    def __init__(self, videos: int, frames: int, dim: int, dtype: np.dtype, folder: Path | None) -> None:
        self.shape, self.dtype = (frames, dim), np.dtype(dtype)
        self.slot = frames * dim * self.dtype.itemsize
        self.file: BinaryIO = tempfile.TemporaryFile(dir=folder)
        self.file.truncate(videos * self.slot)  # reads back as zeros where nothing is written

    def write(self, video: int, frames: np.ndarray) -> None:
        """Store ``frames`` ``[n ≤ N, D]`` at the start of ``video``'s slot."""
        self.file.seek(video * self.slot)
        self.file.write(np.ascontiguousarray(frames, dtype=self.dtype).tobytes())

    def read(self, videos: np.ndarray) -> np.ndarray:
        """The slots of ``videos``, ``[len(videos), N, D]``."""
        out = np.empty((len(videos), *self.shape), dtype=self.dtype)
        for i, video in enumerate(videos):
            self.file.seek(int(video) * self.slot)
            if self.file.readinto(memoryview(out[i]).cast("B")) != self.slot:
                raise OSError(f"short read from the CLN's scratch file (video {video})")
        return out

    def close(self) -> None:
        """Close (and so delete) the scratch file."""
        self.file.close()


@dataclass
class Side:
    """One stream's frames (in a scratch file), their weights ``[V, N]`` and the input mapping."""

    frames: FrameStore
    weights: np.ndarray
    shift: torch.Tensor
    scale: torch.Tensor


@dataclass
class PairedFrames:
    """The aligned, padded inputs of the two streams for every video of a split; close when done."""

    sides: dict[str, Side]
    mask: torch.Tensor  # [V, N] bool
    labels: torch.Tensor  # [V]

    def dim(self, side: str) -> int:
        """The feature dimension of ``side``."""
        return self.sides[side].frames.shape[1]

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Static and motion inputs ``[B, N, D]`` (mapped by each side's shift and scale), mask and labels of ``index``."""
        videos = index.numpy()
        inputs = []
        for name in SIDES:  # in numpy, in place: the same floats as torch's ops, without its threads' start-up per batch
            side = self.sides[name]
            frames = side.frames.read(videos).astype(np.float32)
            frames *= side.weights[videos][:, :, None]
            frames -= side.shift.numpy()
            frames /= side.scale.numpy()
            inputs.append(torch.from_numpy(frames))
        return inputs[0], inputs[1], self.mask[index], self.labels[index]

    def close(self) -> None:
        """Delete the scratch files."""
        for side in self.sides.values():
            side.frames.close()


def _fill(cache: FeatureCache, slot_of: np.ndarray, counts: np.ndarray, training: np.ndarray, standardise: bool,
          folder: Path | None, scale: tuple[torch.Tensor, torch.Tensor] | None = None) -> Side:
    """One pass over ``cache``: video ``i``'s first ``counts[slot_of[i]]`` evenly spaced frames into slot
    ``slot_of[i]``; mapped by ``scale`` (shift, scale) if given, else by the :func:`input_scale` of the ``training`` slots."""
    frames = FrameStore(len(counts), int(counts.max()), cache.features.shape[1], cache.features.dtype, folder)
    weights = np.zeros((len(counts), int(counts.max())), dtype=np.float32)
    moments = RunningMoments(cache.features.shape[1])
    for video, features in cache.iter_videos():
        slot = int(slot_of[video])
        pick = evenly(len(features), int(counts[slot]))
        picked = features[pick]
        frames.write(slot, picked)
        weights[slot, :len(pick)] = frame_weights(cache, video)[pick]
        if training[slot]:
            moments.add(picked.astype(np.float32) * weights[slot, :len(pick), None])
    return Side(frames, weights, *(scale if scale is not None else input_scale(moments, standardise)))


def pair_frames(static: FeatureCache, motion: FeatureCache, order: np.ndarray, train_index: np.ndarray,
                standardise: bool, folder: Path | None = None,
                scales: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None) -> PairedFrames:
    """Align the two caches' frames video by video (``order`` from :func:`paired_order`), in ``static``'s order,
    each side mapped by the :func:`input_scale` of the videos ``train_index``' frames, or by ``scales``
    (side -> (shift, scale), a trained CLN's ``input_scale``) if given; scratch files in ``folder``."""
    counts = np.minimum(static.lengths, motion.lengths[order])
    empty = np.flatnonzero(counts == 0)
    if len(empty):
        raise DatasetError(f"video {static.video_ids[empty[0]]}: no frames in one of the feature caches")
    training = np.zeros(len(order), dtype=bool)
    training[train_index] = True
    slot_of_motion = np.empty(len(order), dtype=np.int64)
    slot_of_motion[order] = np.arange(len(order))
    given = scales or {}
    sides = {"static": _fill(static, np.arange(len(order)), counts, training, standardise, folder, given.get("static")),
             "motion": _fill(motion, slot_of_motion, counts, training, standardise, folder, given.get("motion"))}
    mask = torch.arange(int(counts.max()))[None, :] < torch.as_tensor(counts)[:, None]
    return PairedFrames(sides, mask, torch.as_tensor(np.asarray(static.labels), dtype=torch.long))
