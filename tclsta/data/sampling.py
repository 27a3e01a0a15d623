"""Which frames a stream sees: TSN segment sampling (training) and evenly spaced frames (test).

Positions are 1-based frame numbers in ``1 .. n`` (n = frames for RGB, flow fields for flow);
a flow stack starting at position s covers fields s … s+L−1, clamped to n (see
:func:`stack_indices`).
"""

from __future__ import annotations

import numpy as np


def _start_range(n: int, length: int) -> int:
    """Number of start positions whose stack of ``length`` fits in ``n`` (at least 1)."""
    if n < 1:
        raise ValueError(f"a video needs at least one frame, got n={n}")
    return max(1, n - length + 1)


def segment_positions(n: int, segments: int, rng: np.random.Generator, length: int = 1) -> np.ndarray:
    """TSN training sampling: split the start range into ``segments`` equal parts, one random position each.

    Videos shorter than ``segments`` positions repeat positions (sorted, so order is kept).
    """
    starts = _start_range(n, length)
    if starts >= segments:
        edges = np.linspace(0, starts, segments + 1)
        low, high = np.floor(edges[:-1]).astype(int), np.floor(edges[1:]).astype(int)
        offsets = low + (rng.random(segments) * (high - low)).astype(int)
    else:
        offsets = np.sort(rng.integers(0, starts, size=segments))
    return offsets.astype(np.int64) + 1


def evenly_spaced_positions(n: int, count: int, length: int = 1) -> np.ndarray:
    """Test sampling: the centres of ``count`` equal parts of the start range (repeats when the video is short)."""
    starts = _start_range(n, length)
    return (np.floor((np.arange(count) + 0.5) * starts / count)).astype(np.int64) + 1


def stack_indices(start: int, length: int, n: int) -> np.ndarray:
    """Frame numbers of the ``length``-long stack starting at ``start``, clamped to ``1 .. n``."""
    return np.clip(np.arange(start, start + length), 1, n)


def evenly_spaced_fields(n: int, count: int, length: int) -> np.ndarray:
    """Every field (1-based, of ``n``) the test sampling's ``count`` evenly spaced ``length``-stacks read, sorted."""
    starts = evenly_spaced_positions(n, count, length)
    return np.unique(np.concatenate([stack_indices(int(s), length, n) for s in starts]))
