"""tclsta features: the values of a test video of the tiny run equal its feature cache's."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from tclsta import paths
from tclsta.features.cache import read_feature_cache
from tclsta.inference.bundle import bundle_dir
from test_predict import tclsta


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
