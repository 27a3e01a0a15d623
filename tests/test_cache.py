"""Feature cache reading: the open (lazy) cache against the whole cache read into memory, on real HDF5 files."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from cache_factory import make_pair

from tclsta.errors import DatasetError
from tclsta.features.cache import FeatureCache, open_feature_cache, read_feature_cache, write_feature_cache
from tclsta.fusion.scores import video_features


def uneven_cache(path, dtype: str = "float16", seed: int = 0) -> FeatureCache:
    """Seven videos of 1–6 frames (D = 5, 2 × 3 maps) written to ``path``; returns what was written."""
    rng = np.random.default_rng(seed)
    lengths = [3, 1, 6, 2, 5, 4, 3]
    weights = [rng.random(n).astype(np.float32) + 0.1 for n in lengths]
    cache = FeatureCache.from_videos(
        video_ids=[f"v{i}" for i in range(7)], labels=[i % 2 for i in range(7)], splits=["train", "test"] * 3 + ["train"],
        features=[rng.normal(size=(n, 5)).astype(np.float32) for n in lengths],
        frame_indices=[np.arange(1, n + 1) for n in lengths], temporal_weights=[w / w.sum() for w in weights],
        scores={"frame": rng.dirichlet(np.ones(2), 7)}, class_names=["a", "b"], attrs={"stream": "rgb"},
        spatial_maps=[rng.random((n, 2, 3)).astype(np.float32) for n in lengths],
    )
    write_feature_cache(path, cache, dtype=dtype)
    return cache


def test_open_cache_reads_what_the_whole_cache_holds(tmp_path) -> None:
    static, _ = make_pair(tmp_path)  # float32 features, with spatial maps
    whole = read_feature_cache(static)
    with open_feature_cache(static) as lazy:
        assert isinstance(lazy.features, h5py.Dataset) and isinstance(lazy.spatial_maps, h5py.Dataset)
        for name in ("video_ids", "splits", "class_names", "attrs"):
            assert getattr(lazy, name) == getattr(whole, name)
        for name in ("labels", "offsets", "lengths", "frame_indices", "temporal_weights", "frame_sizes"):
            np.testing.assert_array_equal(getattr(lazy, name), getattr(whole, name))
        assert lazy.scores.keys() == whole.scores.keys()
        for v in range(len(whole)):
            np.testing.assert_array_equal(lazy.video_features(v), whole.video_features(v))
            np.testing.assert_array_equal(lazy.spatial_maps[lazy.rows(v)], whole.spatial_maps[whole.rows(v)])
        np.testing.assert_array_equal(video_features(lazy), video_features(whole))
    assert not lazy.features.id.valid  # the file is closed after the with


@pytest.mark.parametrize("block_rows", [1, 4, 6, 7, 24, 10_000])
def test_iter_videos_reads_blocks_of_whole_videos(tmp_path, block_rows: int) -> None:
    written = uneven_cache(tmp_path / "c.h5")
    with open_feature_cache(tmp_path / "c.h5") as lazy:
        seen = list(lazy.iter_videos(block_rows))
    assert [v for v, _ in seen] == list(range(7))
    for v, frames in seen:
        assert frames.dtype == np.float16
        np.testing.assert_array_equal(frames, written.video_features(v).astype(np.float16))


def test_open_cache_refuses_rows_out_of_video_order(tmp_path) -> None:
    uneven_cache(tmp_path / "c.h5")
    with h5py.File(tmp_path / "c.h5", "r+") as h5:
        offsets = h5["offsets"][()]
        h5["offsets"][...] = offsets[[0, 2, 1, 3, 4, 5, 6]]
    with pytest.raises(DatasetError, match="c.h5: offsets are not the running sum of lengths"):
        with open_feature_cache(tmp_path / "c.h5"):
            pass
