"""tclsta features: the values of a test video of the tiny run equal its feature cache's, and on a long
video, where only the flow its stacks read is computed, they equal the pipeline's extract + dump."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from tclsta import paths
from tclsta.data.video import decode_video
from tclsta.extraction import extract_shard
from tclsta.features.cache import read_feature_cache
from tclsta.features.dump import stream_cache
from tclsta.inference.bundle import STREAM_FILES, bundle_dir, load_bundle
from tclsta.inference.predict import stream_reads
from tclsta.training.checkpoint import load_final
from test_predict import split_test_videos, tclsta
from test_predict_windows import write_lossless


def test_features_equal_the_cache(tiny_workflow: Path, tmp_path: Path) -> None:
    out = tiny_workflow / "out"
    manifest = pd.read_csv(paths.manifest(out))
    video = manifest[manifest["split1"] == "test"].iloc[0]
    output = tmp_path / "features.h5"
    done = tclsta("features", str(out / "dataset" / video["path"]), "--model", str(bundle_dir(out, 1)),
                  "-o", str(output), "--stream", "flow")
    assert done.returncode == 0, done.stderr
    ours, run = read_feature_cache(output), read_feature_cache(paths.feature_cache(out, 1, "flow", "both"))
    i = run.video_ids.index(video["video_id"])
    assert ours.video_ids == [video["video_id"]]
    np.testing.assert_array_equal(ours.features[ours.rows(0)], run.features[run.rows(i)])
    np.testing.assert_array_equal(ours.frame_indices, run.frame_indices[run.rows(i)])
    np.testing.assert_allclose(ours.temporal_weights, run.temporal_weights[run.rows(i)], atol=1e-6)
    np.testing.assert_allclose(ours.spatial_maps, run.spatial_maps[run.rows(i)], atol=1e-3)
    for head, scores in run.scores.items():
        np.testing.assert_allclose(ours.scores[head][0], scores[i], atol=1e-6)
    with h5py.File(output) as h5:
        pooled = h5["video_features"][0]
    weights = ours.temporal_weights.astype(np.float64)
    np.testing.assert_allclose(pooled, weights @ ours.features.astype(np.float64) / weights.sum(), rtol=1e-6)


def test_flow_features_of_a_long_video_equal_the_pipelines(tiny_workflow: Path, tmp_path: Path) -> None:
    """A test video looped three times: predict computes the flow of fewer pairs than the video has, and its flow
    features equal those of the pipeline's full extraction and dump of the same file."""
    out = tiny_workflow / "out"
    frames = decode_video(split_test_videos(out).iloc[0]["file"])
    video = tmp_path / "long.avi"
    write_lossless(video, np.concatenate([frames] * 3))
    bundle = load_bundle(bundle_dir(out, 1))
    n_frames = 3 * len(frames)
    reads = stream_reads(bundle.settings, ["flow"])("long", n_frames)
    assert 0 < len(reads.fields) < n_frames - 1 and len(reads.frames) == 0  # the flow is sampled, no RGB kept
    output = tmp_path / "features.h5"
    done = tclsta("features", str(video), "--model", str(bundle.folder), "-o", str(output), "--stream", "flow")
    assert done.returncode == 0, done.stderr

    rows = pd.DataFrame({"video_id": ["long"], "path": [str(video)]})
    table = extract_shard(rows, "/", tmp_path / "frames", bundle.settings["extract"], bundle.settings["flow"],
                          tmp_path / "index.tsv")
    assert table["n_flow"].tolist() == [n_frames - 1]
    model, meta = load_final(bundle.path(STREAM_FILES["flow"]))
    run = stream_cache(model, meta, table.assign(label=-1, subset="test"), tmp_path / "frames",
                       bundle.settings["features"], "cpu", bundle.class_names, {})
    ours = read_feature_cache(output)
    np.testing.assert_array_equal(ours.frame_indices, run.frame_indices)
    np.testing.assert_array_equal(ours.features, run.features.astype(ours.features.dtype))
