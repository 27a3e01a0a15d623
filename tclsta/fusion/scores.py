"""Class scores of the two streams: choosing a stream's prediction, aligning the two caches, score files.

A *score set* holds, for every video of one split, its label, its role (``train``,
``holdout`` or ``test``) and one softmax score matrix per stream. It is what the CLN
writes (``{OUT}/cln/split{s}/{variant}/scores.h5``) and what AWL, the baselines and the
evaluation read; :func:`stream_score_set` builds the same thing from two feature caches.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from tclsta.atomic import atomic_path
from tclsta.errors import DatasetError
from tclsta.features.cache import FeatureCache, read_strings, write_strings

STREAMS = ("static", "motion")


def stream_probabilities(cache: FeatureCache, path: str | Path = "") -> np.ndarray:
    """Video-level class probabilities ``[V, C]`` of one stream: the mean over the cache's heads.

    This is :meth:`tclsta.models.stream.StreamOutput.prediction`, the stream's own
    prediction: the frame head alone without attention; with spatial attention also the
    CAM head; with temporal attention also the LSTM head.
    """
    if not cache.scores:
        raise DatasetError(f"{path}: feature cache has no scores/<head> arrays")
    return np.mean([np.asarray(p, dtype=np.float64) for p in cache.scores.values()], axis=0)


def video_features(cache: FeatureCache) -> np.ndarray:
    """Video-level features ``[V, D]``: frames pooled with the cache's temporal weights (β summed, Eq. 6).

    Without temporal attention the weights are uniform and this is the mean over frames. The
    frames are read a block of videos at a time (an open cache's file is read once).
    """
    out = np.empty((len(cache), cache.features.shape[1]), dtype=np.float64)
    for v, frames in cache.iter_videos():
        weights = cache.temporal_weights[cache.rows(v)].astype(np.float64)
        out[v] = weights @ frames.astype(np.float64) / weights.sum()
    return out


def paired_order(static: FeatureCache, motion: FeatureCache, static_path: str | Path = "",
                 motion_path: str | Path = "") -> np.ndarray:
    """Index into ``motion`` of each video of ``static``; raises if the two caches hold different videos."""
    where = {vid: i for i, vid in enumerate(motion.video_ids)}
    missing = [vid for vid in static.video_ids if vid not in where]
    if missing or len(static) != len(motion):
        raise DatasetError(f"{static_path} and {motion_path}: the two feature caches hold different videos "
                           f"(e.g. {missing[:3] or 'extra videos in the motion cache'})")
    order = np.array([where[vid] for vid in static.video_ids], dtype=np.int64)
    if np.any(static.labels != motion.labels[order]) or static.class_names != motion.class_names:
        raise DatasetError(f"{static_path} and {motion_path}: labels or class names differ between the caches")
    if [static.splits[i] for i in range(len(static))] != [motion.splits[i] for i in order]:
        raise DatasetError(f"{static_path} and {motion_path}: train/test membership differs between the caches")
    return order


@dataclass
class ScoreSet:
    """Per-stream softmax scores of every video of one split."""

    video_ids: list[str]
    labels: np.ndarray
    roles: list[str]
    scores: dict[str, np.ndarray]  # "static", "motion" (and the CLN's "fused" head, if it has one) -> [V, C]
    class_names: list[str]

    def subset(self, role: str) -> np.ndarray:
        """Indices of the videos with this role (``train`` / ``holdout`` / ``test``)."""
        return np.array([i for i, r in enumerate(self.roles) if r == role], dtype=np.int64)

    def stacked(self, index: np.ndarray | None = None, streams: Sequence[str] = STREAMS) -> np.ndarray:
        """Scores as ``[V, S, C]`` (default: static, motion), the S_i of Eq. 11–14."""
        stack = np.stack([self.scores[s] for s in streams], axis=1)
        return stack if index is None else stack[index]


def stream_score_set(static: FeatureCache, motion: FeatureCache, static_path: str | Path = "",
                     motion_path: str | Path = "", roles: list[str] | None = None) -> ScoreSet:
    """The stream-level (no CLN) score set of two feature caches; ``roles`` default to train/test membership."""
    order = paired_order(static, motion, static_path, motion_path)
    return ScoreSet(
        video_ids=list(static.video_ids),
        labels=np.asarray(static.labels),
        roles=list(static.splits) if roles is None else list(roles),
        scores={"static": stream_probabilities(static, static_path),
                "motion": stream_probabilities(motion, motion_path)[order]},
        class_names=list(static.class_names),
    )


def write_score_set(path: str | Path, scores: ScoreSet) -> None:
    """Write a score set as HDF5, atomically."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        write_strings(h5, "video_ids", scores.video_ids)
        write_strings(h5, "roles", scores.roles)
        h5["labels"] = np.asarray(scores.labels, dtype=np.int64)
        for name, values in scores.scores.items():
            h5[f"scores/{name}"] = np.asarray(values, dtype=np.float32)
        h5.attrs["class_names"] = json.dumps(scores.class_names)


def read_score_set(path: str | Path) -> ScoreSet:
    """Read a score set written by :func:`write_score_set`."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: score file not found (run train-cln first)")
    try:
        with h5py.File(path, "r") as h5:
            if not set(STREAMS) <= set(h5["scores"]):
                raise KeyError(f"scores/{STREAMS}")
            return ScoreSet(
                video_ids=read_strings(h5["video_ids"]),
                labels=h5["labels"][()],
                roles=read_strings(h5["roles"]),
                scores={s: h5[f"scores/{s}"][()].astype(np.float64) for s in h5["scores"]},
                class_names=json.loads(h5.attrs["class_names"]),
            )
    except (OSError, KeyError) as err:
        raise DatasetError(f"{path}: not a complete tclsta score file ({err})") from err
