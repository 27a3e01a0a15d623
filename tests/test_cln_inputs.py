"""CLN inputs: streaming moments and scratch-file batches against every frame held in memory (the brute force)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_cache import uneven_cache

from tclsta.errors import DatasetError
from tclsta.features.cache import FeatureCache, open_feature_cache, read_feature_cache, write_feature_cache
from tclsta.fusion.cln_inputs import RunningMoments, input_scale, pair_frames
from tclsta.fusion.scores import paired_order


def in_memory_frames(static: FeatureCache, motion: FeatureCache, order: np.ndarray
                     ) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Every video's frames at once, weighted and aligned: padded float32 [V, N, D] per stream; the mask."""
    counts = [min(int(static.lengths[v]), int(motion.lengths[m])) for v, m in enumerate(order)]
    mask = torch.zeros(len(order), max(counts), dtype=torch.bool)
    inputs = []
    for cache, videos in ((static, range(len(order))), (motion, order)):
        frames = torch.zeros(len(order), max(counts), cache.features.shape[1])
        for v, (video, n) in enumerate(zip(videos, counts)):
            rows = cache.rows(int(video))
            weights = cache.temporal_weights[rows].astype(np.float32)
            scaled = cache.features[rows].astype(np.float32) * (weights * (len(weights) / weights.sum()))[:, None]
            pick = np.round(np.linspace(0, len(scaled) - 1, n)).astype(int)
            frames[v, :n] = torch.from_numpy(scaled[pick])
            mask[v, :n] = True
        inputs.append(frames)
    return inputs, mask


def in_memory_scale(frames: torch.Tensor, mask: torch.Tensor, standardise: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift and scale from the valid frames held in memory, in float32."""
    valid = frames[mask]
    if standardise:
        return valid.mean(dim=0), valid.std(dim=0).clamp_min(1e-6)
    return torch.zeros(()), valid.pow(2).mean().sqrt().clamp_min(1e-8)


def test_running_moments_match_all_rows_at_once() -> None:
    rng = np.random.default_rng(0)
    rows = (rng.normal(size=(103, 6)) * [1, 2, 3, 0.1, 10, 1] + [5, -1, 0, 100, 3, 0]).astype(np.float32)
    moments = RunningMoments(6)
    for chunk in np.split(rows, [1, 2, 10, 40, 41, 90]):
        moments.add(chunk)
    x = rows.astype(np.float64)
    assert moments.count == 103
    np.testing.assert_allclose(moments.mean, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(moments.std(), x.std(axis=0, ddof=1), rtol=1e-10)
    np.testing.assert_allclose(moments.rms(), np.sqrt((x**2).mean()), rtol=1e-12)
    shift, scale = input_scale(moments, standardise=True)
    torch.testing.assert_close(shift, torch.from_numpy(rows).mean(dim=0), rtol=1e-6, atol=1e-5)
    torch.testing.assert_close(scale, torch.from_numpy(rows).std(dim=0), rtol=1e-6, atol=0)
    shift, scale = input_scale(moments, standardise=False)
    assert shift.item() == 0 and scale.dtype == torch.float32
    torch.testing.assert_close(scale, torch.from_numpy(rows).pow(2).mean().sqrt(), rtol=1e-6, atol=0)


@pytest.mark.parametrize("standardise", [False, True])
def test_batches_equal_the_inputs_held_in_memory(tmp_path, standardise: bool) -> None:
    """Motion cache in another video order, with other frame counts (subsampled to the shorter), float16."""
    uneven_cache(tmp_path / "static.h5")
    written = uneven_cache(tmp_path / "motion0.h5", seed=1)
    perm = [3, 0, 6, 2, 5, 1, 4]
    lengths = [4, 2, 3, 6, 1, 5, 2]  # motion video perm[i] gets lengths[i] frames
    rng = np.random.default_rng(2)
    motion_videos = {perm[i]: rng.normal(size=(lengths[i], 7)).astype(np.float32) for i in range(7)}
    weights = {v: rng.random(len(f)).astype(np.float32) + 0.1 for v, f in motion_videos.items()}
    write_feature_cache(tmp_path / "motion.h5", FeatureCache.from_videos(
        video_ids=[written.video_ids[v] for v in perm], labels=written.labels[perm],
        splits=[written.splits[v] for v in perm], features=[motion_videos[v] for v in perm],
        frame_indices=[np.arange(len(motion_videos[v])) for v in perm],
        temporal_weights=[weights[v] / weights[v].sum() for v in perm],
        scores={"frame": written.scores["frame"][perm]}, class_names=written.class_names))
    static, motion = read_feature_cache(tmp_path / "static.h5"), read_feature_cache(tmp_path / "motion.h5")
    order = paired_order(static, motion)
    train = np.array([0, 2, 3, 6])
    frames, mask = in_memory_frames(static, motion, order)
    with open_feature_cache(tmp_path / "static.h5") as s, open_feature_cache(tmp_path / "motion.h5") as m:
        data = pair_frames(s, m, order, train, standardise, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["motion.h5", "motion0.h5", "static.h5"]  # unnamed scratch
    assert data.dim("static") == 5 and data.dim("motion") == 7
    for name, expected in zip(("static", "motion"), frames):
        shift, scale = in_memory_scale(expected[train], mask[train], standardise)
        torch.testing.assert_close(data.sides[name].shift, shift, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(data.sides[name].scale, scale, rtol=1e-6, atol=0)
    for index in (torch.arange(7), torch.tensor([5, 0, 3])):
        batch = data.batch(index)
        for side, inputs, expected in zip(data.sides.values(), batch, frames):
            # the same float32 operations as mapping every frame in memory: equal, not just close
            torch.testing.assert_close(inputs, (expected[index] - side.shift) / side.scale, rtol=0, atol=0)
        torch.testing.assert_close(batch[2], mask[index], rtol=0, atol=0)
        assert batch[3].tolist() == static.labels[index.numpy()].tolist()
    data.close()


def test_a_video_without_frames_is_named(tmp_path) -> None:
    cache = uneven_cache(tmp_path / "c.h5")
    cache.lengths[1] = 0
    with open_feature_cache(tmp_path / "c.h5") as full:
        with pytest.raises(DatasetError, match="video v1: no frames"):
            pair_frames(cache, full, np.arange(7), np.array([0]), False, tmp_path)
