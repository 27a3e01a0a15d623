"""Attention metrics against hand-made maps, boxes and weights, including the pixel mapping through resize and crop."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tclsta.data.annotations import VideoTruth
from tclsta.data.transforms import centre_box
from tclsta.evaluation.attention_metrics import CropGeometry, miss_cells, pointing, reference_frames, score_cache
from tclsta.errors import DatasetError
from tclsta.features.cache import FeatureCache

# A 100 × 200 source video extracted at 50 × 100 (resize ×0.5); the test crop is the centre
# 50 × 50 square (left 25), i.e. source x 50..150, y 0..100; a 4 × 4 grid has 25-px source cells
# centred at x 62.5, 87.5, 112.5, 137.5 and y 12.5, 37.5, 62.5, 87.5.
GEOMETRY = CropGeometry(source=(100, 200), frame=(50, 100), box=centre_box(50, 100))


def one_hot(i: int, j: int, grid: int = 4) -> np.ndarray:
    m = np.full((grid, grid), 0.5, np.float32)
    m[i, j] = 3.0
    return m


def test_geometry_maps_cells_back_through_crop_and_resize():
    assert GEOMETRY.box == (0, 25, 50, 50)
    assert GEOMETRY.region() == (50.0, 0.0, 150.0, 100.0)
    ys, xs = GEOMETRY.cell_centres((4, 4))
    np.testing.assert_allclose(xs, [62.5, 87.5, 112.5, 137.5])
    np.testing.assert_allclose(ys, [12.5, 37.5, 62.5, 87.5])
    assert GEOMETRY.cell_size((4, 4)) == (25.0, 25.0)


def test_pointing_hits_inside_the_box_grown_by_half_a_cell():
    box = (80.0, 30.0, 95.0, 45.0)  # grown by 12.5: x 67.5..107.5, y 17.5..57.5
    assert pointing(one_hot(1, 1), box, GEOMETRY) == (True, pytest.approx(0.16))  # 40 × 40 of 100 × 100
    assert pointing(one_hot(1, 2), box, GEOMETRY)[0] is False  # x 112.5 is past 107.5
    assert pointing(one_hot(2, 1), box, GEOMETRY)[0] is False  # y 62.5 is past 57.5
    taller = (80.0, 30.0, 95.0, 52.0)  # grown y 17.5..64.5
    assert pointing(one_hot(2, 1), taller, GEOMETRY)[0] is True  # y 62.5 > 52 but inside the grown box
    assert pointing(one_hot(3, 1), taller, GEOMETRY)[0] is False
    assert pointing(one_hot(1, 1), (0.0, 0.0, 40.0, 40.0), GEOMETRY) is None  # left of the crop: not seen
    # A box sticking out of the crop: chance counts only the part inside the crop.
    hit, chance = pointing(one_hot(0, 0), (40.0, 0.0, 60.0, 10.0), GEOMETRY)
    assert hit and chance == pytest.approx((72.5 - 50) * 22.5 / 100 ** 2)


def test_miss_cells_is_the_gap_outside_the_grown_box_in_cells():
    box = (80.0, 30.0, 95.0, 45.0)  # grown: x 67.5..107.5, y 17.5..57.5; cells 25 × 25
    assert miss_cells(one_hot(1, 1), box, GEOMETRY) == 0.0  # a hit
    assert miss_cells(one_hot(1, 2), box, GEOMETRY) == pytest.approx(0.2)  # x 112.5: 5 px right
    assert miss_cells(one_hot(0, 0), box, GEOMETRY) == pytest.approx(0.2)  # x 62.5, y 12.5: 5 px left, 5 up
    assert miss_cells(one_hot(3, 1), box, GEOMETRY) == pytest.approx(1.2)  # y 87.5: 30 px below
    assert miss_cells(one_hot(3, 3), box, GEOMETRY) == pytest.approx(1.2)  # the larger of two 1.2 gaps
    # each gap in cells of its own axis: a source stretched 4× in x, 2× in y has cells 50 wide, 25 high
    stretched = CropGeometry(source=(100, 400), frame=(50, 100), box=(0, 25, 50, 50))  # region x 100..300
    other = (150.0, 30.0, 170.0, 45.0)  # grown: x 125..195, y 17.5..57.5
    assert miss_cells(one_hot(1, 3), other, stretched) == pytest.approx((275 - 195) / 50)
    assert miss_cells(one_hot(3, 1), other, stretched) == pytest.approx((87.5 - 57.5) / 25)


def test_pointing_without_resize_on_a_wide_frame():
    geometry = CropGeometry(source=(64, 80), frame=(64, 80), box=centre_box(64, 80))  # crop x 8..72
    ys, xs = geometry.cell_centres((8, 8))
    np.testing.assert_allclose(xs, 8 + 4 + 8 * np.arange(8))
    box = (30.0, 40.0, 38.0, 48.0)  # cells with centres x 28, 36 … grown box x 26..42, y 36..52
    assert pointing(one_hot(5, 3, 8), box, geometry)[0]  # centre (36, 44)
    assert not pointing(one_hot(5, 5, 8), box, geometry)[0]  # centre (52, 44)
    assert pointing(one_hot(5, 3, 8), box, geometry)[1] == pytest.approx(16 * 16 / 64 ** 2)


def test_reference_frames_rgb_and_flow_stack_centres():
    positions = np.array([1, 4, 7])
    assert reference_frames(positions, "rgb", 5).tolist() == [1, 4, 7]
    assert reference_frames(positions, "flow", 5).tolist() == [3, 6, 9]
    assert reference_frames(positions, "flow", 4).tolist() == [2, 5, 8]


def cache(attention: str, stream: str = "rgb") -> FeatureCache:
    """Two test videos and one training video, 4 sampled frames each, 4 × 4 maps on 50 × 100 frames."""
    maps = [np.stack([one_hot(1, 1), one_hot(1, 2), one_hot(1, 1), one_hot(0, 0)]) for _ in range(3)]
    return FeatureCache.from_videos(
        video_ids=["a", "b", "c"], labels=[0, 1, 0], splits=["test", "test", "train"],
        features=[np.zeros((4, 2), np.float32)] * 3,
        frame_indices=[np.array([1, 3, 5, 7])] * 3,
        temporal_weights=[np.array([0.1, 0.6, 0.2, 0.1]), np.array([0.25] * 4), np.array([1.0, 0, 0, 0])],
        scores={"frame": np.full((3, 2), 0.5)}, class_names=["x", "y"],
        attrs={"config": json.dumps({"stream": {"crop_size": 112}, "model": {"flow_stack": 3}}),
               "stream": stream, "attention": attention, "split": 1},
        spatial_maps=maps, frame_sizes=[(50, 100)] * 3, crop_boxes=[centre_box(50, 100)] * 3)


def test_score_cache_over_test_videos_with_ground_truth():
    box = (80.0, 30.0, 95.0, 45.0)
    truth = {"a": VideoTruth(frozenset({3, 4, 5}), {3: box, 4: box, 5: box}),
             "b": VideoTruth(frozenset({7}), {7: (0.0, 0.0, 40.0, 40.0)}),  # outside the crop
             "c": VideoTruth(frozenset({1}), {1: box})}  # a training video: not scored
    asked = []

    def size(video_id: str) -> tuple[int, int]:
        asked.append(video_id)
        return 100, 200

    result = score_cache(cache("both"), truth, size).summary(True, True)
    # a: frames 3 and 5 are annotated; maps there point at (1, 2) → miss and (1, 1) → hit
    assert result["spatial_pointing"] == 0.5 and result["spatial_frames"] == 2
    assert result["spatial_pointing_chance"] == pytest.approx(0.16)
    assert result["spatial_within_one_cell"] == 1.0 and result["spatial_miss_cells"] == pytest.approx(0.2)
    # a: frames 3, 5 inside → mass 0.6 + 0.2, uniform 2/4; b: frame 7 → 0.25, 1/4
    assert result["temporal_mass"] == pytest.approx((0.8 + 0.25) / 2)
    assert result["temporal_mass_uniform"] == pytest.approx((0.5 + 0.25) / 2)
    assert result["videos"] == 2 and sorted(set(asked)) == ["a", "b"]
    # Flow (L = 3): positions 1, 3, 5, 7 stand for frames 2, 4, 6, 8 → a: 4 inside (weight 0.6)
    flow = score_cache(cache("temporal", "flow"), truth, size).summary(False, True)
    assert flow["temporal_mass"] == pytest.approx((0.6 + 0.0) / 2) and flow["spatial_pointing"] is None
    assert score_cache(cache("both"), {}, size).summary(True, True)["spatial_pointing"] is None
    old = cache("both")
    old.crop_boxes = None  # a cache written before the crop geometry was stored
    with pytest.raises(DatasetError, match="old.h5: .*rerun dump-features"):
        score_cache(old, truth, size, path="old.h5")


def test_figure_draws_the_map_over_the_test_crop():
    from tclsta.evaluation.overlays import map_extent

    # (left, right, bottom, top) of the map on the shown frame: the centre 50 × 50 square of 50 × 100
    assert map_extent(cache("both"), 0, 50, 100) == (25, 75, 50, 0)
    assert map_extent(cache("both"), 0, 100, 200) == (50, 150, 100, 0)  # the frame shown at twice the size
