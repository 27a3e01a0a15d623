"""TV-L1 in PyTorch against OpenCV's DualTVL1OpticalFlow, and its building blocks against OpenCV/brute force."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
import torch

from tclsta.flow import tvl1
from tclsta.flow.opencv_backend import tvl1_opencv
from tclsta.flow.tvl1 import (
    _sorting_network, centered_gradient, divergence, forward_gradient, median_blur, median_network,
    pyramid_sizes, resize_linear, resolve_nscales, warp_bicubic,
)

# Mean end-point difference allowed between our flow and OpenCV's on the same small pairs
# (measured: 1e-6 … 5e-4 px; the residue is float summation order plus the per-iteration
# stopping rule, which can end a loop one iteration earlier or later).
AGREEMENT_MEAN_EPE = 0.005
AGREEMENT_MAX_EPE = 0.1


def textured_pair(h: int, w: int, dx: float, dy: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random texture and the same texture translated by (dx, dy) pixels (uint8)."""
    rng = np.random.default_rng(seed)
    big = cv2.GaussianBlur(rng.uniform(0, 255, (h + 40, w + 40)).astype(np.float32), (0, 0), 2.5)
    big = (big - big.min()) / (big.max() - big.min()) * 255
    moved = cv2.warpAffine(big, np.float32([[1, 0, dx], [0, 1, dy]]), (w + 40, h + 40), flags=cv2.INTER_CUBIC)
    crop = (slice(20, 20 + h), slice(20, 20 + w))
    return big[crop].round().astype(np.uint8), moved[crop].round().astype(np.uint8)


def as_batch(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).float()


def epe(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a - b, axis=-1)


@pytest.mark.parametrize("params", [{}, {"nscales": 2, "warps": 3, "median_filtering": 1}, {"epsilon": 0.05, "scale_step": 0.5}])
def test_agrees_with_opencv(params: dict) -> None:
    pairs = [textured_pair(32, 40, dx, dy, seed) for seed, (dx, dy) in enumerate([(1.5, -0.7), (-2.2, 1.1), (0.4, 2.6)])]
    ours = tvl1(as_batch([p[0] for p in pairs]), as_batch([p[1] for p in pairs]), **params).permute(0, 2, 3, 1).numpy()
    for k, (a, b) in enumerate(pairs):
        diff = epe(ours[k], tvl1_opencv(a, b, **params))
        assert diff.mean() < AGREEMENT_MEAN_EPE and diff.max() < AGREEMENT_MAX_EPE, (k, diff.mean(), diff.max())


def test_agrees_with_opencv_with_gamma() -> None:
    a, b = textured_pair(32, 40, 1.2, 0.8, seed=5)
    b = np.clip(b.astype(np.int16) + 6, 0, 255).astype(np.uint8)  # a brightness change for gamma to absorb
    ours = tvl1(as_batch([a]), as_batch([b]), gamma=0.1)[0].permute(1, 2, 0).numpy()
    diff = epe(ours, tvl1_opencv(a, b, gamma=0.1))
    assert diff.mean() < 0.05, diff.mean()


def test_identical_frames_give_exactly_zero_flow() -> None:
    a, _ = textured_pair(32, 40, 0, 0, seed=3)
    flow = tvl1(as_batch([a, a]), as_batch([a, a]))
    assert flow.shape == (2, 2, 32, 40)
    assert torch.count_nonzero(flow) == 0


@pytest.mark.parametrize("dx,dy", [(2.0, -1.0), (1.25, 0.5)])
def test_translation_recovered(dx: float, dy: float) -> None:
    a, b = textured_pair(48, 64, dx, dy, seed=7)
    flow = tvl1(as_batch([a]), as_batch([b]))[0]
    inner = flow[:, 8:-8, 8:-8]
    assert abs(inner[0].median().item() - dx) < 0.05 and abs(inner[1].median().item() - dy) < 0.05
    assert (inner[0] - dx).abs().mean() < 0.1 and (inner[1] - dy).abs().mean() < 0.1


def test_batch_equals_single_pairs() -> None:
    # pairs converge after different numbers of iterations; each must stop on its own
    pairs = [textured_pair(32, 40, dx, dy, seed) for seed, (dx, dy) in enumerate([(0, 0), (1.5, -0.7), (-3, 2), (0.3, 0.1)])]
    prev, nxt = as_batch([p[0] for p in pairs]), as_batch([p[1] for p in pairs])
    batch = tvl1(prev, nxt)
    single = torch.cat([tvl1(prev[i:i + 1], nxt[i:i + 1]) for i in range(len(pairs))])
    torch.testing.assert_close(batch, single, rtol=0, atol=1e-5)


def test_compiled_matches_eager() -> None:
    # one level keeps torch.compile's work (and this test) short: two kernels for one shape
    pairs = [textured_pair(24, 32, dx, dy, seed) for seed, (dx, dy) in enumerate([(0.8, -0.4), (-0.5, 0.9)])]
    prev, nxt = as_batch([p[0] for p in pairs]), as_batch([p[1] for p in pairs])
    params = {"nscales": 1, "warps": 2, "outer_iterations": 2, "inner_iterations": 10}
    eager = tvl1(prev, nxt, **params)
    fused = tvl1(prev, nxt, compiled=True, **params)
    torch.testing.assert_close(fused, eager, rtol=0, atol=1e-3)


def test_auto_nscales() -> None:
    assert resolve_nscales(5, 256, 340, 0.8) == 5
    n = resolve_nscales("auto", 256, 340, 0.8)
    assert n == 11
    coarsest = pyramid_sizes(256, 340, n, 0.8)[-1]
    assert min(coarsest) <= 32 < min(pyramid_sizes(256, 340, n - 1, 0.8)[-1])
    assert resolve_nscales("auto", 30, 400, 0.8) == 1
    for bad in (0, "3", 2.5, True):
        with pytest.raises(ValueError):
            resolve_nscales(bad, 64, 64, 0.8)


def test_pyramid_stops_at_16_pixels_like_opencv() -> None:
    assert pyramid_sizes(32, 40, 5, 0.8) == [(32, 40), (26, 32), (21, 26), (17, 21)]


def test_resize_matches_opencv() -> None:
    img = np.random.default_rng(0).uniform(0, 255, (37, 45)).astype(np.float32)
    down = cv2.resize(img, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_LINEAR)
    ours = resize_linear(torch.from_numpy(img)[None], down.shape, (1 / 0.8, 1 / 0.8))[0].numpy()
    np.testing.assert_allclose(ours, down, atol=1e-3)
    up = cv2.resize(img, (57, 46), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(resize_linear(torch.from_numpy(img)[None], (46, 57))[0].numpy(), up, atol=1e-3)


def test_warp_matches_opencv_remap_cubic() -> None:
    rng = np.random.default_rng(1)
    img = cv2.GaussianBlur(rng.uniform(0, 255, (30, 36)).astype(np.float32), (0, 0), 1.5)
    flow = rng.normal(0, 3, (2, 30, 36)).astype(np.float32)  # reaches past every border
    map_x = np.arange(36, dtype=np.float32)[None] + flow[0]
    map_y = np.arange(30, dtype=np.float32)[:, None] + flow[1]
    expected = cv2.remap(img, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    ours = warp_bicubic(torch.from_numpy(img)[None, None], torch.from_numpy(flow)[None])[0, 0].numpy()
    np.testing.assert_allclose(ours, expected, atol=2e-3)
    # integer positions are exact
    same = warp_bicubic(torch.from_numpy(img)[None, None], torch.zeros(1, 2, 30, 36))[0, 0].numpy()
    assert np.array_equal(same, img)


def test_finite_differences_brute_force() -> None:
    img = torch.randn(1, 5, 6)
    grad = centered_gradient(img)[0]
    for y, x in itertools.product(range(5), range(6)):
        xl, xr, yu, yd = max(x - 1, 0), min(x + 1, 5), max(y - 1, 0), min(y + 1, 4)
        assert torch.isclose(grad[0, y, x], 0.5 * (img[0, y, xr] - img[0, y, xl]))
        assert torch.isclose(grad[1, y, x], 0.5 * (img[0, yd, x] - img[0, yu, x]))
    # divergence is the negative adjoint of the forward gradient: <∇u, p> = −<u, div p>
    u, px, py = torch.randn(3, 1, 1, 5, 6).unbind(0)
    ux, uy = forward_gradient(u)
    px[..., -1] = 0  # the dual variable lives where the gradient does
    py[..., -1, :] = 0
    lhs = (ux * px + uy * py).sum()
    assert torch.isclose(lhs, -(u * divergence(px, py)).sum(), atol=1e-5)


def test_median_filters_match_opencv() -> None:
    x = torch.randn(2, 2, 17, 23)
    for k in (3, 5):
        expected = np.stack([[cv2.medianBlur(x[b, c].numpy(), k) for c in range(2)] for b in range(2)])
        assert np.array_equal(median_network(x, k).numpy(), expected)
        assert np.array_equal(median_blur(x, k).numpy(), expected)


@pytest.mark.parametrize("n", [2, 5, 9, 13])
def test_sorting_network_sorts_every_binary_input(n: int) -> None:
    # 0-1 principle: a comparator network sorts everything iff it sorts all 0/1 sequences
    pairs = _sorting_network(n)
    for bits in itertools.product((0, 1), repeat=n):
        v = list(bits)
        for i, j in pairs:
            if v[i] > v[j]:
                v[i], v[j] = v[j], v[i]
        assert v == sorted(bits)


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="equal shape"):
        tvl1(torch.zeros(1, 8, 8), torch.zeros(1, 8, 9))
    with pytest.raises(ValueError, match="at least 3"):
        tvl1(torch.zeros(1, 2, 8), torch.zeros(1, 2, 8))
