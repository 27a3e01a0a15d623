"""HDF5 feature cache: one file per (split, stream, attention).

Flat arrays indexed by video (DESIGN.md, "Files")::

    video_ids         (V,)      str
    labels            (V,)      int64
    splits            (V,)      str      "train" / "test" membership in this split
    offsets, lengths  (V,)      int64    rows of video v: offsets[v] : offsets[v] + lengths[v]
    frame_indices     (F,)      int32    1-based frame number of each row
    features          (F, D)    float16 (default) or float32: per-frame features α_t
    temporal_weights  (F,)      float32  softmax(γ) over the video's frames (uniform without TA)
    spatial_maps      (F, h, w) float16  normalised spatial attention m̃ (optional)
    scores/<head>     (V, C)    float32  per-head class probabilities (frame, spatial, temporal)
    frame_sizes       (V, 2)    int32    height, width of the extracted frames (optional)
    crop_boxes        (V, 4)    int32    top, left, height, width of the test crop in those frames,
                                         resized to ``config.stream.crop_size`` (optional)

Attributes: ``class_names`` (JSON list), ``config`` (JSON), ``checkpoint`` (hash of the
stream checkpoint), ``stream``, ``attention``, ``split``. Written under a temporary name
and renamed when complete. Caches written before ``frame_sizes``/``crop_boxes`` existed read
back with those fields None.

:func:`open_feature_cache` reads the per-video arrays and leaves the per-frame features and
spatial maps in the file, for the stages that go through every video once (evaluate, the
CLN's inputs) in memory that does not grow with the videos; :func:`read_feature_cache`
reads everything.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from tclsta.atomic import atomic_path
from tclsta.errors import DatasetError

_STR = h5py.string_dtype("utf-8")
BLOCK_ROWS = 8192  # frames read at a time from an open cache: 32 MB at D = 2048, float16


def write_strings(h5: h5py.Group, name: str, values: Sequence[str]) -> None:
    """Store a list of strings as a UTF-8 string dataset."""
    h5.create_dataset(name, data=np.array(list(values), dtype=object), dtype=_STR)


def read_strings(dataset: h5py.Dataset) -> list[str]:
    """Read a string dataset back as ``str`` (h5py returns ``bytes``)."""
    return [s.decode() if isinstance(s, bytes) else s for s in dataset[()]]


@dataclass
class FeatureCache:
    """An in-memory feature cache; see the module docstring for the meaning of each field."""

    video_ids: list[str]
    labels: np.ndarray
    splits: list[str]
    offsets: np.ndarray
    lengths: np.ndarray
    frame_indices: np.ndarray
    features: np.ndarray | h5py.Dataset  # a dataset (read where sliced) in an open_feature_cache
    temporal_weights: np.ndarray
    scores: dict[str, np.ndarray]
    class_names: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    spatial_maps: np.ndarray | h5py.Dataset | None = None
    frame_sizes: np.ndarray | None = None
    crop_boxes: np.ndarray | None = None

    @classmethod
    def from_videos(
        cls,
        video_ids: Sequence[str],
        labels: Sequence[int],
        splits: Sequence[str],
        features: Sequence[np.ndarray],
        frame_indices: Sequence[np.ndarray],
        temporal_weights: Sequence[np.ndarray],
        scores: dict[str, np.ndarray],
        class_names: Sequence[str],
        attrs: dict[str, Any] | None = None,
        spatial_maps: Sequence[np.ndarray] | None = None,
        frame_sizes: Sequence[Sequence[int]] | None = None,
        crop_boxes: Sequence[Sequence[int]] | None = None,
    ) -> FeatureCache:
        """Build the flat layout from per-video arrays."""
        lengths = np.array([len(f) for f in features], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        return cls(
            video_ids=list(video_ids),
            labels=np.asarray(labels, dtype=np.int64),
            splits=list(splits),
            offsets=offsets,
            lengths=lengths,
            frame_indices=np.concatenate(frame_indices).astype(np.int32),
            features=np.concatenate(features),
            temporal_weights=np.concatenate(temporal_weights).astype(np.float32),
            scores={k: np.asarray(v, dtype=np.float32) for k, v in scores.items()},
            class_names=list(class_names),
            attrs=dict(attrs or {}),
            spatial_maps=None if spatial_maps is None else np.concatenate(spatial_maps),
            frame_sizes=None if frame_sizes is None else np.asarray(frame_sizes, dtype=np.int32).reshape(-1, 2),
            crop_boxes=None if crop_boxes is None else np.asarray(crop_boxes, dtype=np.int32).reshape(-1, 4),
        )

    def __len__(self) -> int:
        return len(self.video_ids)

    def rows(self, video: int) -> slice:
        """Row slice of video number ``video`` in the flat per-frame arrays."""
        start = int(self.offsets[video])
        return slice(start, start + int(self.lengths[video]))

    def video_features(self, video: int) -> np.ndarray:
        """Per-frame features of one video, shape (frames, D)."""
        return self.features[self.rows(video)]

    def iter_videos(self, block_rows: int = BLOCK_ROWS) -> Iterator[tuple[int, np.ndarray]]:
        """``(video, its per-frame features)`` for every video in order, the features read
        ``block_rows`` rows (whole videos, at least one) at a time: one read per block of an
        open cache's file, whose chunks span many videos."""
        video = 0
        while video < len(self):
            start, stop = int(self.offsets[video]), video + 1
            while stop < len(self) and self.offsets[stop] + self.lengths[stop] - start <= block_rows:
                stop += 1
            block = self.features[start:int(self.offsets[stop - 1] + self.lengths[stop - 1])]
            for v in range(video, stop):
                first = int(self.offsets[v]) - start
                yield v, block[first:first + int(self.lengths[v])]
            video = stop

    def config(self) -> Any:
        """The configuration the cache was dumped with (its ``config`` attribute, stored as JSON); None if absent."""
        value = self.attrs.get("config")
        return json.loads(value) if isinstance(value, str) else value

    def subset(self, split: str) -> np.ndarray:
        """Indices of the videos whose split membership is ``split`` ("train" / "test")."""
        return np.array([i for i, s in enumerate(self.splits) if s == split], dtype=np.int64)


def write_feature_cache(path: str | Path, cache: FeatureCache, dtype: str = "float16") -> None:
    """Write ``cache`` to ``path`` atomically (temporary name, renamed when complete)."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        write_strings(h5, "video_ids", cache.video_ids)
        write_strings(h5, "splits", cache.splits)
        h5["labels"] = cache.labels
        h5["offsets"] = cache.offsets
        h5["lengths"] = cache.lengths
        h5["frame_indices"] = cache.frame_indices
        h5.create_dataset("features", data=cache.features.astype(dtype), chunks=True, compression="lzf")
        h5["temporal_weights"] = cache.temporal_weights
        for name in ("frame_sizes", "crop_boxes"):
            if getattr(cache, name) is not None:
                h5[name] = getattr(cache, name)
        if cache.spatial_maps is not None:
            h5["spatial_maps"] = cache.spatial_maps.astype(np.float16)
        group = h5.create_group("scores")
        for head, values in cache.scores.items():
            group[head] = values
        h5.attrs["class_names"] = json.dumps(cache.class_names)
        for key, value in cache.attrs.items():
            h5.attrs[key] = value if isinstance(value, (str, int, float)) else json.dumps(value)


@contextmanager
def open_feature_cache(path: str | Path) -> Iterator[FeatureCache]:
    """The cache at ``path`` with its per-frame ``features`` and ``spatial_maps`` left in the file.

    Those two are h5py datasets, read where sliced (``cache.features[rows]``, or a block of
    videos at a time with :meth:`FeatureCache.iter_videos`); everything else is read into
    memory. Valid inside the ``with`` only (the file is closed on leaving it).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: feature cache not found (run dump-features first)")
    try:
        h5 = h5py.File(path, "r")
    except OSError as err:
        raise DatasetError(f"{path}: not a complete tclsta feature cache ({err})") from err
    with h5:
        try:
            cache = FeatureCache(
                video_ids=read_strings(h5["video_ids"]),
                labels=h5["labels"][()],
                splits=read_strings(h5["splits"]),
                offsets=h5["offsets"][()],
                lengths=h5["lengths"][()],
                frame_indices=h5["frame_indices"][()],
                features=h5["features"],
                temporal_weights=h5["temporal_weights"][()],
                scores={k: v[()] for k, v in h5["scores"].items()},
                class_names=json.loads(h5.attrs["class_names"]),
                attrs={k: v for k, v in h5.attrs.items() if k != "class_names"},
                spatial_maps=h5["spatial_maps"] if "spatial_maps" in h5 else None,
                frame_sizes=h5["frame_sizes"][()] if "frame_sizes" in h5 else None,
                crop_boxes=h5["crop_boxes"][()] if "crop_boxes" in h5 else None,
            )
        except (OSError, KeyError) as err:
            raise DatasetError(f"{path}: not a complete tclsta feature cache ({err})") from err
        if not np.array_equal(cache.offsets, np.cumsum(cache.lengths) - cache.lengths):
            raise DatasetError(f"{path}: offsets are not the running sum of lengths (videos' rows must be "
                               "consecutive, in video order)")
        yield cache


def read_feature_cache(path: str | Path) -> FeatureCache:
    """Read a whole feature cache written by :func:`write_feature_cache` into memory (features as stored)."""
    with open_feature_cache(path) as cache:
        try:
            cache.features = cache.features[()]
            if cache.spatial_maps is not None:
                cache.spatial_maps = cache.spatial_maps[()]
        except OSError as err:
            raise DatasetError(f"{path}: not a complete tclsta feature cache ({err})") from err
    return cache
