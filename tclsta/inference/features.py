"""TCLSTA features of any videos: one stream's feature cache, as the dump stage writes it, plus pooled features.

The videos are extracted and run through the stream exactly as :mod:`tclsta.inference.predict`
does (the pipeline's extract and dump code); the file has the layout of
:mod:`tclsta.features.cache` plus ``video_features`` ``(V, D)`` float32: each video's frames
pooled with its temporal weights (:func:`tclsta.fusion.scores.video_features`, what early fusion reads).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import h5py

from tclsta.atomic import atomic_path
from tclsta.errors import DatasetError
from tclsta.features.cache import open_feature_cache
from tclsta.fusion.scores import video_features
from tclsta.inference.bundle import Bundle
from tclsta.inference.predict import extract_videos, stream_caches, stream_reads, video_ids


def write_video_features(bundle: Bundle, paths: Sequence[Path], stream: str, output: str | Path,
                         device: str | None = None) -> dict[str, str]:
    """Write ``output`` for the videos that can be read; returns the others (video id -> reason)."""
    with tempfile.TemporaryDirectory(prefix="tclsta-features-") as tmp:
        folder = Path(tmp)
        extracted = extract_videos(paths, video_ids(paths), bundle.settings, folder, device,
                                   stream_reads(bundle.settings, [stream]), stream == "flow")
        if not len(extracted.videos):
            raise DatasetError(f"{', '.join(map(str, paths))}: no readable video")
        cache_path = stream_caches(bundle, extracted, [stream], device, folder)[stream]
        with open_feature_cache(cache_path) as cache:
            pooled = video_features(cache)
        with atomic_path(output) as out:
            out.write_bytes(cache_path.read_bytes())
            with h5py.File(out, "a") as h5:
                h5["video_features"] = pooled.astype("float32")
    return extracted.bad
