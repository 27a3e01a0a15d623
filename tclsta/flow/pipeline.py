"""Flow for whole videos: frame pairs of many videos batched per device call, quantised to uint8."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

import cv2
import numpy as np
import torch
from tqdm import tqdm

from tclsta.device import resolve_device
from tclsta.errors import ConfigError
from tclsta.flow.cache import use_cache_dir
from tclsta.flow.opencv_backend import tvl1_opencv
from tclsta.flow.quantize import quantise
from tclsta.flow.tvl1 import tvl1

log = logging.getLogger(__name__)

def to_gray(video: np.ndarray) -> np.ndarray:
    """uint8 RGB frames ``[N, H, W, 3]`` → uint8 grayscale ``[N, H, W]`` (OpenCV's weights and
    rounding, so both backends see the same input)."""
    return np.stack([cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in video])


def _pair_groups(videos: list[np.ndarray]) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """(video, first frame) of every frame pair, grouped by frame size."""
    groups: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for v, frames in enumerate(videos):
        for i in range(len(frames) - 1):
            groups[tuple(frames.shape[1:3])].append((v, i))
    return groups


def flow_images(videos: list[np.ndarray], settings: dict[str, Any]) -> list[np.ndarray]:
    """Quantised TV-L1 flow of each video: uint8 RGB ``[N, H, W, 3]`` → uint8 ``[N-1, H, W, 2]`` (x, y).

    ``settings`` is the validated ``flow`` config section. Pairs of equal size from all videos
    are batched ``batch_pairs`` at a time (torch backend) on ``device``; a one-frame video gets
    an empty ``[0, H, W, 2]`` array. Both backends give the same format (clip ±bound → 0..255).
    """
    for v, frames in enumerate(videos):
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"video {v}: expected uint8 RGB frames [N, H, W, 3], got {frames.dtype} {frames.shape}")
    out = [np.empty((max(len(f) - 1, 0),) + f.shape[1:3] + (2,), np.uint8) for f in videos]
    groups = _pair_groups(videos)
    grays = [to_gray(f) if len(f) > 1 else f[..., 0] for f in videos]
    total = sum(len(pairs) for pairs in groups.values())
    params = dict(settings["tvl1"])
    bound = float(settings["bound"])
    backend = settings["backend"]
    with tqdm(total=total, desc=f"flow ({backend})", unit="pair", disable=total == 0) as bar:
        if backend == "opencv":
            _run_opencv(grays, groups, out, params, bound, bar)
        elif backend == "torch":
            use_cache_dir()  # compiled code shared by all jobs, not recompiled per process and node
            device = resolve_device(settings["device"], key="flow.device")
            compiled = bool(settings.get("compile", True))
            log.info("TV-L1 on %s, %d pairs, %d per call", device, total, settings["batch_pairs"])
            _run_torch(grays, groups, out, params, bound, int(settings["batch_pairs"]), device, compiled, bar)
        else:
            raise ConfigError(f"flow.backend must be 'torch' or 'opencv', got {backend!r}")
    return out


def _run_torch(grays, groups, out, params, bound, batch_pairs, device, compiled, bar) -> None:
    for pairs in groups.values():
        size = min(batch_pairs, len(pairs))
        for start in range(0, len(pairs), size):
            chunk = pairs[start:start + size]
            # a short last chunk is padded with copies of its last pair: every call of a size
            # group then has the same shape (one compiled kernel set); the copies are dropped
            padded = chunk + chunk[-1:] * (size - len(chunk))
            first = torch.from_numpy(np.stack([grays[v][i] for v, i in padded])).to(device).float()
            second = torch.from_numpy(np.stack([grays[v][i + 1] for v, i in padded])).to(device).float()
            flow = tvl1(first, second, compiled=compiled, **params)
            q = quantise(flow[:len(chunk)], bound).permute(0, 2, 3, 1).cpu().numpy()
            for (v, i), image in zip(chunk, q):
                out[v][i] = image
            bar.update(len(chunk))


def _run_opencv(grays, groups, out, params, bound, bar) -> None:
    for pairs in groups.values():
        for v, i in pairs:
            flow = tvl1_opencv(grays[v][i], grays[v][i + 1], **params)
            out[v][i] = quantise(torch.from_numpy(flow), bound).numpy()
            bar.update(1)
