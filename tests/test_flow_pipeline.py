"""Flow quantisation, flow JPEGs, and flow for whole videos (both backends, batching across videos)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from tclsta.config import validate
from tclsta.data import layout
from tclsta.device import resolve_device
from tclsta.errors import ConfigError, DatasetError
from tclsta.flow import dequantise, quantise, read_flow
from tclsta.flow.pipeline import flow_images

# fewer iterations than the defaults: these tests check plumbing, not convergence
QUICK = {"nscales": 3, "warps": 2, "outer_iterations": 2, "inner_iterations": 15}


def flow_settings(**flow: object) -> dict:
    return validate({"flow": {"tvl1": QUICK, **flow}})["flow"]


def test_quantise_round_trip_within_half_a_step() -> None:
    bound = 20.0
    flow = torch.empty(2, 64, 64).uniform_(-25, 25, generator=torch.Generator().manual_seed(0))
    q = quantise(flow, bound)
    assert q.dtype == torch.uint8
    back = dequantise(q, bound)
    assert (back - flow.clamp(-bound, bound)).abs().max() <= bound / 255 + 1e-5  # half of the 2·bound/255 step
    assert quantise(torch.tensor([-bound, 0.0, bound, -99.0, 99.0]), bound).tolist() == [0, 128, 255, 0, 255]


def test_flow_jpegs_read_back(tmp_path: Path) -> None:
    h, w, bound = 48, 64, 20.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    flow = np.stack([6 * np.sin(xx / 9) + 3 * np.cos(yy / 7), 4 * np.cos(xx / 11 + yy / 13)], -1)
    q = quantise(torch.from_numpy(flow), bound).numpy()
    for index in (1, 2):
        for plane, name in zip(np.moveaxis(q, -1, 0), layout.flow_names(index)):
            assert cv2.imwrite(str(tmp_path / name), plane, [cv2.IMWRITE_JPEG_QUALITY, 95])
    back = read_flow(tmp_path, 2, bound)
    assert back.shape == (h, w, 2) and back.dtype == np.float32
    error = np.abs(back - flow)
    # floor: half a quantisation step (bound/255 = 0.078 px) plus JPEG (≤ 1 level = 0.157 px on smooth flow)
    assert error.max() <= bound / 255 + 2 * bound / 255 + 1e-4
    assert error.mean() < 0.08
    with pytest.raises(DatasetError, match="flow_x_00003.jpg"):
        read_flow(tmp_path, 3, bound)


def moving_video(frames: int, h: int, w: int, seed: int) -> np.ndarray:
    """RGB frames of a smooth colour texture; its content moves by (−1.5, +0.5) px per frame."""
    rng = np.random.default_rng(seed)
    big = cv2.GaussianBlur(rng.uniform(0, 255, (h + 40, w + 40, 3)).astype(np.float32), (0, 0), 2.5)
    big = (big - big.min()) / (big.max() - big.min()) * 255
    out = []
    for i in range(frames):
        m = np.float32([[1, 0, 20 + 1.5 * i], [0, 1, 20 - 0.5 * i]])  # frame_i(x, y) = big(x + m13, y + m23)
        out.append(cv2.warpAffine(big, m, (w, h), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP).round().astype(np.uint8))
    return np.stack(out)


@pytest.fixture(scope="module")
def videos() -> list[np.ndarray]:
    return [moving_video(4, 32, 40, 0), moving_video(1, 32, 40, 1), moving_video(3, 24, 36, 2), moving_video(3, 32, 40, 3)]


def test_flow_images_shapes_batching_and_one_frame_video(videos: list[np.ndarray]) -> None:
    small = flow_images(videos, flow_settings(device="cpu", batch_pairs=2, compile=False))
    assert [f.shape for f in small] == [(3, 32, 40, 2), (0, 32, 40, 2), (2, 24, 36, 2), (2, 32, 40, 2)]
    assert all(f.dtype == np.uint8 for f in small)
    # pairs of several videos share a call: the result must not depend on the grouping
    large = flow_images(videos, flow_settings(device="cpu", batch_pairs=64, compile=False))
    alone = flow_images(videos[3:], flow_settings(device="cpu", batch_pairs=1, compile=False))
    for a, b in zip(small, large):
        assert np.array_equal(a, b)
    assert np.array_equal(alone[0], large[3])
    # the motion is recovered: (−1.5, +0.5) px per frame, away from the borders
    pixels = dequantise(small[0][:, 6:-6, 6:-6]).numpy()
    assert np.abs(np.median(pixels[..., 0]) + 1.5) < 0.1 and np.abs(np.median(pixels[..., 1]) - 0.5) < 0.1


def test_backends_give_the_same_images(videos: list[np.ndarray]) -> None:
    ours = flow_images(videos, flow_settings(device="cpu", compile=False))
    ref = flow_images(videos, flow_settings(backend="opencv"))
    for a, b in zip(ours, ref):
        assert a.shape == b.shape and a.dtype == b.dtype
        diff = np.abs(a.astype(int) - b.astype(int))
        assert diff.size == 0 or (diff.max() <= 1 and diff.mean() < 0.01)


def test_bad_settings_and_frames() -> None:
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device"):
            resolve_device("cuda")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="video 0"):
        flow_images([np.zeros((2, 8, 8), np.uint8)], flow_settings())
