"""Feature dump: a trained stream's per-frame features, attention and scores round-trip through HDF5."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch

from tclsta.data.frames_dataset import FramesDataset, records, split_videos
from tclsta.features.cache import read_feature_cache
from tclsta.features.dump import dump_features
from tclsta.training.checkpoint import file_hash, load_final
from tclsta.training.trainer import StreamJob, train_stream

from frames_factory import make_dataset
from test_training import small_config


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("features")
    data = make_dataset(root, classes=3, train_per_class=3, test_per_class=2, frames=8, height=32, width=40)
    config = small_config(root, iterations={"rgb": 2, "flow": 2}, holdout_fraction=0.0, crop_size=64)
    config["features"].update(frames=5, batch_size=12, dtype="float16", num_workers=0)
    checkpoints = {}
    for stream, attention in (("flow", "both"), ("rgb", "none")):
        job = StreamJob(split=1, stream=stream, attention=attention, manifest=data["manifest"],
                        frames_index=data["frames_index"], frames_root=data["frames"],
                        output=root / f"{stream}_{attention}.pt")
        checkpoints[stream, attention] = train_stream(config, job)
    return root, data, config, checkpoints


def dump(trained, stream, attention):
    root, data, config, checkpoints = trained
    output = root / f"{stream}_{attention}.h5"
    cache = dump_features(config, split=1, checkpoint=checkpoints[stream, attention], manifest=data["manifest"],
                          frames_index=data["frames_index"], frames_root=data["frames"], output=output)
    return output, cache


def test_dump_round_trip_and_matches_the_model(trained):
    root, data, config, checkpoints = trained
    path, written = dump(trained, "flow", "both")
    cache = read_feature_cache(path)
    videos = split_videos(data["manifest"], data["frames_index"], 1)
    assert cache.video_ids == list(videos["video_id"]) and cache.splits == list(videos["subset"])
    assert cache.labels.tolist() == videos["label"].tolist()
    assert cache.lengths.tolist() == [5] * 15 and cache.offsets.tolist() == list(range(0, 75, 5))
    assert cache.features.dtype == np.float16 and cache.features.shape == (75, 32)
    np.testing.assert_array_equal(cache.features, written.features.astype(np.float16))
    np.testing.assert_array_equal(cache.temporal_weights, written.temporal_weights)
    assert sorted(cache.scores) == ["frame", "spatial", "temporal"]
    for head, scores in cache.scores.items():
        np.testing.assert_array_equal(scores, written.scores[head])
        np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)
    for v in range(len(cache)):
        np.testing.assert_allclose(cache.temporal_weights[cache.rows(v)].sum(), 1.0, rtol=1e-5)
    assert cache.spatial_maps.shape == (75, 2, 2)  # 64-pixel crops → 2 × 2 conv5 grid, g = 4
    np.testing.assert_allclose(cache.spatial_maps.astype(np.float32).sum(axis=(1, 2)), 4.0, rtol=1e-2)
    # Evenly spaced flow-stack starts for 7 flow fields, L = 3: starts 1..5.
    assert cache.frame_indices[:5].tolist() == [1, 2, 3, 4, 5]
    # What maps m̃ back to pixels: the 32 × 40 frames' centre 32 × 32 square, resized to the crop.
    assert cache.frame_sizes.tolist() == [[32, 40]] * 15 and cache.crop_boxes.tolist() == [[0, 4, 32, 32]] * 15
    assert cache.attrs["checkpoint"] == file_hash(checkpoints["flow", "both"])
    assert cache.attrs["stream"] == "flow" and cache.attrs["attention"] == "both" and int(cache.attrs["split"]) == 1
    assert json.loads(cache.attrs["config"])["features"]["frames"] == 5
    # The stored values are what the model computes for the video's evenly spaced, centre-cropped stacks.
    model, meta = load_final(checkpoints["flow", "both"])
    model.eval()
    dataset = FramesDataset(data["frames"], records(videos), stream="flow", segments=5, crop_size=64, flow_stack=3)
    clip, _, _ = dataset[4]
    with torch.no_grad():
        out = model(clip.unsqueeze(0))
    rows = cache.rows(4)
    np.testing.assert_allclose(cache.features[rows], out.features[0].numpy(), rtol=1e-2, atol=1e-3)
    np.testing.assert_allclose(cache.temporal_weights[rows], out.temporal_weights[0].numpy(), rtol=1e-5)
    np.testing.assert_allclose(cache.scores["temporal"][4], out.probabilities()["temporal"][0].numpy(), rtol=1e-5)


def test_dump_without_attention_has_uniform_weights_and_no_maps(trained):
    path, _ = dump(trained, "rgb", "none")
    cache = read_feature_cache(path)
    assert cache.spatial_maps is None and list(cache.scores) == ["frame"]
    np.testing.assert_allclose(cache.temporal_weights, 0.2, rtol=1e-6)
    with h5py.File(path) as h5:
        assert "spatial_maps" not in h5 and h5["features"].dtype == np.float16
    assert not list(path.parent.glob(f".{path.name}.*"))  # no temporary file left behind
