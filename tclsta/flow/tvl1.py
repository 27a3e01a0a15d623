"""Batched TV-L1 optical flow in PyTorch, following OpenCV's ``cv2.optflow.DualTVL1OpticalFlow``.

Zach, Pock & Bischof (2007), in the formulation of Sánchez, Meinhardt-Llopis & Facciolo and
OpenCV's ``tvl1flow.cpp``, step for step: an image pyramid made by repeated bilinear resizing
by ``scale_step``; per level ``warps`` warpings of the second image (bicubic, zero outside the
image) and of its centred gradient; then
outer iterations that start with a median filter of the flow, each running up to
``inner_iterations`` steps of thresholding (``v``), primal update (``u = v + θ div p``)
and dual update (``p``), stopped when the mean squared change of ``u`` falls below
``epsilon²``. The flow is upsampled bilinearly between levels and scaled by ``1/scale_step``.

Everything works on ``[B, …]`` tensors, on whatever device the input is on. The stopping
rule is applied per pair (a converged pair is frozen while others continue), so a pair's
result does not depend on the rest of its batch. With ``compiled=True`` on CPU a level runs
in :mod:`tclsta.flow.native` (the same steps in C, one pair per worker thread).
"""

from __future__ import annotations

import contextlib
import logging
import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from tclsta.errors import find_cause
from tclsta.flow import native

log = logging.getLogger(__name__)

_FLOAT_EPS = torch.finfo(torch.float32).eps
# "auto" pyramid: the coarsest level's short side is at most this many pixels.
AUTO_COARSEST = 32
# OpenCV stops adding levels once one would be narrower or lower than this.
_MIN_LEVEL_SIZE = 16


def resolve_nscales(nscales: int | str, height: int, width: int, scale_step: float) -> int:
    """The pyramid depth to use: ``nscales`` itself, or for ``"auto"`` the smallest depth whose
    coarsest level has a short side of at most :data:`AUTO_COARSEST` pixels.

    OpenCV's default of 5 levels at step 0.8 shrinks a 256-pixel side only to 105 pixels, so
    motions beyond ~10 px are never seen at a scale where they are small; "auto" gives 11
    levels for 340×256 (coarsest 37×27), where a 30-pixel motion is ~3 pixels.
    """
    if nscales == "auto":
        short = min(height, width)
        if short <= AUTO_COARSEST:
            return 1
        return 1 + math.ceil(math.log(AUTO_COARSEST / short) / math.log(scale_step))
    if isinstance(nscales, bool) or not isinstance(nscales, int) or nscales < 1:
        raise ValueError(f"nscales must be a positive integer or 'auto', got {nscales!r}")
    return nscales


def _linear_taps(src: int, dst: int, scale: float, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """Source indices and weights of OpenCV's INTER_LINEAR resize along one axis."""
    pos = (torch.arange(dst, dtype=torch.float64) + 0.5) * scale - 0.5
    pos = pos.to(torch.float32).to(torch.float64)  # OpenCV computes the position in float
    i0 = torch.floor(pos)
    frac = pos - i0
    low, high = i0 < 0, i0 >= src - 1
    i0 = torch.where(low, 0.0, torch.where(high, float(src - 1), i0))
    frac = torch.where(low | high, 0.0, frac)
    i0 = i0.long()
    i1 = torch.clamp(i0 + 1, max=src - 1)
    return i0.to(device), i1.to(device), frac.to(torch.float32).to(device)


def resize_linear(x: Tensor, size: tuple[int, int], scale: tuple[float, float] | None = None) -> Tensor:
    """Bilinear resize of ``x[..., H, W]`` to ``size`` as ``cv2.resize(INTER_LINEAR)`` does it.

    ``scale`` = (sy, sx) maps output to input coordinates (``cv2.resize(fx=…)`` uses
    1/fx rather than the size ratio); by default it is the size ratio.
    """
    h, w = x.shape[-2:]
    oh, ow = size
    sy, sx = scale if scale is not None else (h / oh, w / ow)
    c0, c1, cf = _linear_taps(w, ow, sx, x.device)
    x = x.index_select(-1, c0) * (1 - cf) + x.index_select(-1, c1) * cf
    r0, r1, rf = _linear_taps(h, oh, sy, x.device)
    rf = rf[:, None]
    return x.index_select(-2, r0) * (1 - rf) + x.index_select(-2, r1) * rf


def pyramid_sizes(height: int, width: int, nscales: int, scale_step: float) -> list[tuple[int, int]]:
    """Level sizes, finest first; like OpenCV, stop before a level smaller than 16 pixels."""
    sizes = [(height, width)]
    for _ in range(1, nscales):
        h, w = sizes[-1]
        nh, nw = round(h * scale_step), round(w * scale_step)
        if nh < _MIN_LEVEL_SIZE or nw < _MIN_LEVEL_SIZE:
            break
        sizes.append((nh, nw))
    return sizes


def centered_gradient(img: Tensor) -> Tensor:
    """Central differences ×0.5 with replicated borders: ``[B, H, W]`` → ``[B, 2, H, W]`` (x, y)."""
    p = F.pad(img[:, None], (1, 1, 1, 1), mode="replicate")[:, 0]
    gx = 0.5 * (p[:, 1:-1, 2:] - p[:, 1:-1, :-2])
    gy = 0.5 * (p[:, 2:, 1:-1] - p[:, :-2, 1:-1])
    return torch.stack((gx, gy), 1)


def _cubic_weights(t: Tensor) -> list[Tensor]:
    """Keys cubic convolution weights (a = −0.75, as OpenCV) of the taps at −1, 0, 1, 2."""
    a = -0.75
    w0 = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a
    w1 = ((a + 2) * t - (a + 3)) * t * t + 1
    w2 = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1
    return [w0, w1, w2, 1 - w0 - w1 - w2]


def warp_bicubic(img: Tensor, flow: Tensor) -> Tensor:
    """``img[B, C, H, W]`` sampled at ``(x + u, y + v)`` as OpenCV 5's ``remap(INTER_CUBIC)``:
    Keys cubic (a = −0.75) over 4×4 taps, taps outside the image count as zero (BORDER_CONSTANT).

    Integer positions reproduce the image exactly (so identical frames give zero flow).
    """
    b, c, h, w = img.shape
    ys = torch.arange(h, device=img.device, dtype=img.dtype)[:, None]
    xs = torch.arange(w, device=img.device, dtype=img.dtype)
    px = xs + flow[:, 0]
    py = ys + flow[:, 1]
    x0, y0 = torch.floor(px), torch.floor(py)
    wx, wy = _cubic_weights(px - x0), _cubic_weights(py - y0)
    x0, y0 = x0.long(), y0.long()
    flat = img.reshape(b, c, h * w)
    out = torch.zeros_like(img)
    for i in range(4):
        yi = y0 + (i - 1)
        y_ok = (yi >= 0) & (yi < h)
        row = yi.clamp(0, h - 1) * w
        for j in range(4):
            xj = x0 + (j - 1)
            ok = y_ok & (xj >= 0) & (xj < w)
            index = (row + xj.clamp(0, w - 1)).reshape(b, 1, h * w).expand(b, c, h * w)
            weight = torch.where(ok, wy[i] * wx[j], 0.0)[:, None]
            out += flat.gather(2, index).reshape(b, c, h, w) * weight
    return out


def _sorting_network(n: int) -> list[tuple[int, int]]:
    """Compare-exchange pairs of Batcher's odd-even merge sort for ``n`` values."""
    size = 1 << max(n - 1, 0).bit_length()
    pairs = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            for j in range(k % p, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p) and i + j + k < n:
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return pairs


def median_network(x: Tensor, ksize: int) -> Tensor:
    """Median of each ``ksize × ksize`` window of ``x[..., H, W]`` (replicated border) by a
    sorting network of elementwise min/max over the shifted planes (any device)."""
    r = ksize // 2
    h, w = x.shape[-2:]
    p = F.pad(x, (r, r, r, r), mode="replicate")
    v = [p[..., i : i + h, j : j + w] for i in range(ksize) for j in range(ksize)]
    for i, j in _sorting_network(len(v)):
        v[i], v[j] = torch.minimum(v[i], v[j]), torch.maximum(v[i], v[j])
    return v[len(v) // 2]


def median_blur(x: Tensor, ksize: int, compiled: bool = False) -> Tensor:
    """``cv2.medianBlur`` of every ``[H, W]`` plane of ``x[B, C, H, W]`` (replicated border).

    CPU tensors go through OpenCV itself (exact, SIMD, far faster than the network there);
    other devices use :func:`median_network` (fused when ``compiled``), which gives the same values.
    """
    if x.device.type == "cpu":
        planes = x.detach().reshape(-1, *x.shape[-2:]).numpy()
        return torch.from_numpy(median_planes(planes, ksize)).reshape(x.shape)
    return _fused(median_network, compiled)(x.contiguous(), ksize)


def median_planes(planes: np.ndarray, ksize: int) -> np.ndarray:
    """Median filter of each float32 plane of ``planes[N, H, W]``: OpenCV up to 5×5 (its limit for
    float images), else :func:`median_network`."""
    if ksize <= 5:
        return np.stack([cv2.medianBlur(plane, ksize) for plane in planes])
    return median_network(torch.from_numpy(planes), ksize).numpy()


def forward_gradient(u: Tensor) -> tuple[Tensor, Tensor]:
    """Forward differences of ``u[B, C, H, W]``, zero in the last column (x) / last row (y)."""
    ux = F.pad(u[..., 1:] - u[..., :-1], (0, 1))
    uy = F.pad(u[..., 1:, :] - u[..., :-1, :], (0, 0, 0, 1))
    return ux, uy


def divergence(px: Tensor, py: Tensor) -> Tensor:
    """Backward-difference divergence, the negative adjoint of :func:`forward_gradient`."""
    return px - F.pad(px[..., :-1], (1, 0)) + py - F.pad(py[..., :-1, :], (0, 0, 1, 0))


def _inner_step(
    u: Tensor, px: Tensor, py: Tensor, a: Tensor, grad: Tensor, rho_c: Tensor, active: Tensor,
    l_t: float, theta: float, taut: float,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One TV-L1 iteration: thresholding → primal update → dual update, for ``active`` pairs.

    ``a`` holds the linearised data term's coefficients per flow channel (I1wx, I1wy, γ);
    ``active`` ([B] bool) selects the pairs that move (the others keep their values).
    Returns the new ``u``, ``px``, ``py`` and each pair's squared change of ``u``.
    """
    rho = rho_c + (a * u).sum(1, keepdim=True)
    lg = l_t * grad
    step = torch.where(
        rho < -lg, l_t,
        torch.where(rho > lg, -l_t, torch.where(grad > _FLOAT_EPS, -rho / grad.clamp_min(_FLOAT_EPS), 0.0)),
    )
    v = u + step * a
    u_new = v + theta * divergence(px, py)
    error = (u_new - u).square().sum((1, 2, 3))
    ux, uy = forward_gradient(u_new)
    norm = 1.0 + taut * torch.sqrt(ux * ux + uy * uy)
    m = active[:, None, None, None]
    return (
        torch.where(m, u_new, u),
        torch.where(m, (px + taut * ux) / norm, px),
        torch.where(m, (py + taut * uy) / norm, py),
        error,
    )


# The inner loop of the torch path checks for convergence (a host sync, which blocks on a GPU)
# every SYNC_EVERY steps. A step leaves converged pairs exactly as they are, so the extra steps
# after the last pair converged change nothing: the result equals checking after every step.
SYNC_EVERY = 10

# Shapes change per pyramid level; each (batch, level) shape is compiled once (static shapes
# generate the fastest code and are cached on disk by torch), so allow that many variants.
_RECOMPILE_LIMIT = 64
_compiled: dict = {}


def _fused(fn, compiled: bool):
    """``fn`` compiled by ``torch.compile`` when asked (once per process); if compiling fails
    (no C++ compiler, no Triton) it logs why and ``fn`` runs uncompiled from then on. Running
    out of memory is not a compile failure: it is raised (eager would need more memory still)."""
    if not compiled:
        return fn
    if fn not in _compiled:
        config = torch._dynamo.config
        config.recompile_limit = max(config.recompile_limit, _RECOMPILE_LIMIT)
        fused = torch.compile(fn, dynamic=False)

        def run(*args):
            if _compiled[fn] is fn:  # compiling failed before
                return fn(*args)
            try:
                return fused(*args)
            except Exception as err:  # torch.compile raises backend-specific error types
                if _is_out_of_memory(err):
                    raise
                log.warning("torch.compile failed (%s); TV-L1 runs uncompiled", err)
                _compiled[fn] = fn
                return fn(*args)

        _compiled[fn] = run
    return _compiled[fn]


def _is_out_of_memory(err: BaseException | None) -> bool:
    """Whether ``err`` is, or was caused by, a device out-of-memory error (torch wraps errors
    raised while compiling or running a compiled graph in its own types)."""
    return find_cause(err, lambda e: isinstance(e, torch.cuda.OutOfMemoryError)) is not None


def _one_scale(
    i0: Tensor, i1: Tensor, u: Tensor, *, tau: float, lambda_: float, theta: float, warps: int,
    epsilon: float, inner_iterations: int, outer_iterations: int, gamma: float, median_filtering: int,
    compiled: bool, workers: int | None,
) -> Tensor:
    """OpenCV's ``procOneScale`` on a batch; ``u`` is ``[B, C, H, W]`` (C = 3 when gamma ≠ 0).
    With ``workers`` (CPU, compiled, native loop built) it runs in :mod:`tclsta.flow.native`."""
    b, c, h, w = u.shape
    scaled_eps = epsilon * epsilon * h * w
    l_t, taut = lambda_ * theta, tau / theta
    grads = centered_gradient(i1)
    stack = torch.cat((i1[:, None], grads), 1)
    if workers is not None:
        return native.one_scale(
            i0, stack, u, median_planes, median_filtering=median_filtering, gamma=gamma, warps=warps,
            workers=workers, outer_iterations=outer_iterations, inner_iterations=inner_iterations, l_t=l_t,
            theta=theta, taut=taut, scaled_eps=scaled_eps,
        )
    step = _fused(_inner_step, compiled)
    warp = _fused(warp_bicubic, compiled)
    px = torch.zeros_like(u)
    py = torch.zeros_like(u)
    for _ in range(warps):
        warped = warp(stack, u[:, :2].contiguous())
        i1w, ix, iy = warped[:, 0:1], warped[:, 1:2], warped[:, 2:3]
        grad = ix * ix + iy * iy
        rho_c = i1w - ix * u[:, 0:1] - iy * u[:, 1:2] - i0[:, None]
        coeffs = [ix, iy] + ([torch.full_like(ix, gamma)] if c == 3 else [])
        a = torch.cat(coeffs, 1)
        active = torch.ones(b, dtype=torch.bool, device=u.device)
        for _ in range(outer_iterations):
            if not bool(active.any()):
                break
            if median_filtering > 1:
                med = median_blur(u[:, :2], median_filtering, compiled)
                if c == 3:
                    med = torch.cat((med, u[:, 2:]), 1)
                u = torch.where(active[:, None, None, None], med, u)
            for done in range(0, inner_iterations, SYNC_EVERY):
                for _ in range(min(SYNC_EVERY, inner_iterations - done)):
                    u, px, py, error = step(u, px, py, a, grad, rho_c, active, l_t, theta, taut)
                    active = active & (error > scaled_eps)
                if not bool(active.any()):  # the only host sync of the inner loop
                    break
    return u


@torch.no_grad()
def tvl1(
    prev: Tensor,
    nxt: Tensor,
    *,
    tau: float = 0.25,
    lambda_: float = 0.15,
    theta: float = 0.3,
    nscales: int | str = 5,
    warps: int = 5,
    epsilon: float = 0.01,
    inner_iterations: int = 30,
    outer_iterations: int = 10,
    scale_step: float = 0.8,
    gamma: float = 0.0,
    median_filtering: int = 5,
    compiled: bool = False,
) -> Tensor:
    """TV-L1 flow from ``prev`` to ``nxt`` (grayscale ``[B, H, W]``, 0..255) → ``[B, 2, H, W]``.

    Channel 0 is the x displacement and channel 1 the y displacement in pixels, so that
    ``nxt[y + v, x + u] ≈ prev[y, x]``. Parameters are OpenCV's (``lambda_`` is its lambda);
    ``nscales="auto"`` picks the depth with :func:`resolve_nscales`. ``compiled``: on CPU each
    pair's pyramid level runs as native C in a worker thread (:mod:`tclsta.flow.native`; built
    once, in about a second, with the system C compiler; one worker per ``torch.get_num_threads()``),
    elsewhere the inner iteration is fused by ``torch.compile`` (tens of seconds per level shape
    on first use). Same result to float rounding; without a compiler it runs uncompiled.
    """
    if prev.shape != nxt.shape or prev.dim() != 3:
        raise ValueError(f"expected two [B, H, W] tensors of equal shape, got {tuple(prev.shape)} and {tuple(nxt.shape)}")
    b, h, w = prev.shape
    if h < 3 or w < 3:
        raise ValueError(f"images must be at least 3×3 pixels, got {h}×{w}")
    if median_filtering > 1 and median_filtering % 2 == 0:
        raise ValueError(f"median_filtering must be odd, got {median_filtering}")
    levels = pyramid_sizes(h, w, resolve_nscales(nscales, h, w, scale_step), scale_step)
    use_native = compiled and prev.device.type == "cpu" and native.available()
    with native.single_threaded_torch() if use_native else contextlib.nullcontext() as workers:
        i0s, i1s = [prev.float()], [nxt.float()]
        for size in levels[1:]:
            both = resize_linear(torch.stack((i0s[-1], i1s[-1]), 1), size, (1 / scale_step, 1 / scale_step))
            i0s.append(both[:, 0])
            i1s.append(both[:, 1])
        channels = 3 if gamma != 0 else 2
        u = prev.new_zeros((b, channels) + levels[-1], dtype=torch.float32)
        params = dict(
            tau=tau, lambda_=lambda_, theta=theta, warps=warps, epsilon=epsilon, inner_iterations=inner_iterations,
            outer_iterations=outer_iterations, gamma=gamma, median_filtering=median_filtering,
            compiled=compiled, workers=workers,
        )
        for s in range(len(levels) - 1, -1, -1):
            u = _one_scale(i0s[s], i1s[s], u, **params)
            if s == 0:
                break
            u = resize_linear(u, levels[s - 1])
            u[:, :2] *= 1 / scale_step
        return u[:, :2].contiguous()
