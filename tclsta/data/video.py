"""Video decoding with OpenCV, with denseflow's resize modes."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np

from tclsta.data.verify import check_decoded_count
from tclsta.errors import VideoDecodeError


def output_size(width: int, height: int, resize: dict[str, Any]) -> tuple[int, int]:
    """(width, height) after resizing: ``none``, ``new_short`` (shorter side) or ``fixed``."""
    mode = resize.get("mode", "none")
    if mode == "none":
        return width, height
    if mode == "fixed":
        return int(resize["width"]), int(resize["height"])
    if mode == "new_short":
        short = int(resize["short"])
        if width <= height:
            return short, max(1, round(height * short / width))
        return max(1, round(width * short / height)), short
    raise ValueError(f"unknown resize mode {mode!r}")


@contextmanager
def _opened(path: Path) -> Iterator[tuple[cv2.VideoCapture, int]]:
    """A video's open capture and the frame count its container declares; :class:`VideoDecodeError` naming the
    file when it is missing or cannot be opened."""
    if not path.is_file():
        raise VideoDecodeError(f"{path}: video file not found")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise VideoDecodeError(f"{path}: cannot open video (unknown container or codec, or corrupt file)")
        yield capture, int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        capture.release()


def _check_count(path: Path, count: int, declared: int, max_frames: int | None) -> None:
    """A decode that gave no frame, or clearly fewer than declared, is an error naming the file."""
    if not count:
        raise VideoDecodeError(f"{path}: no frame could be decoded (corrupt or empty video)")
    check_decoded_count(path, count, declared, max_frames)


def iter_frames(path: str | Path, resize: dict[str, Any] | None = None,
                max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Decode a video frame by frame: RGB uint8 ``[H, W, 3]``, resized as asked (memory: one frame).

    Raises :class:`VideoDecodeError` naming the file when it cannot be opened or yields no frame
    (on the first ``next``), :class:`~tclsta.errors.TruncatedVideoError` after the last frame when
    clearly fewer frames decode than it declares.
    """
    return cast(Iterator[np.ndarray], _frames(Path(path), resize, max_frames, None))


def _frames(path: Path, resize: dict[str, Any] | None, max_frames: int | None,
            needed: Callable[[int], bool] | None) -> Iterator[np.ndarray | None]:
    """:func:`iter_frames`; with ``needed``, a frame after the first whose (1-based) number it refuses is
    decoded but neither converted nor resized, and comes as None."""
    with _opened(path) as (capture, declared):
        count = 0
        size: tuple[int, int] | None = None
        while max_frames is None or count < max_frames:
            if size is not None and needed is not None and not needed(count + 1):
                if not capture.grab():
                    break
                count += 1
                yield None
                continue
            ok, frame = capture.read()
            if not ok:
                break
            if size is None:
                size = output_size(frame.shape[1], frame.shape[0], resize or {})
            if (frame.shape[1], frame.shape[0]) != size:
                frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
            count += 1
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    _check_count(path, count, declared, max_frames)


def count_frames(path: str | Path, max_frames: int | None = None) -> int:
    """How many frames :func:`iter_frames` yields for this video, with its errors, counted by decoding each
    frame without converting or resizing it (about 3x faster)."""
    path = Path(path)
    with _opened(path) as (capture, declared):
        count = 0
        while (max_frames is None or count < max_frames) and capture.grab():
            count += 1
    _check_count(path, count, declared, max_frames)
    return count


def iter_chunks(path: str | Path, resize: dict[str, Any] | None, max_frames: int | None,
                size: int, needed: Callable[[int], bool] | None = None) -> Iterator[np.ndarray]:
    """:func:`iter_frames` in consecutive arrays ``[≤ size, H, W, 3]``: a long video in constant memory.

    With ``needed`` (1-based frame numbers), only the frames it accepts are converted and resized: the
    others are black (decoded, to keep count, but about 3x cheaper at 320×240)."""
    chunk: list[np.ndarray | None] = []
    shape: tuple[int, ...] = ()
    for frame in _frames(Path(path), resize, max_frames, needed):
        if frame is not None:
            shape = frame.shape
        chunk.append(frame)
        if len(chunk) == size:
            yield _stacked(chunk, shape)
            chunk = []
    if chunk:
        yield _stacked(chunk, shape)


def _stacked(frames: list[np.ndarray | None], shape: tuple[int, ...]) -> np.ndarray:
    """Frames of one ``shape`` as one array, a missing (None) frame black."""
    stacked = np.zeros((len(frames), *shape), np.uint8)
    for i, frame in enumerate(frames):
        if frame is not None:
            stacked[i] = frame
    return stacked


def decode_video(path: str | Path, resize: dict[str, Any] | None = None, max_frames: int | None = None) -> np.ndarray:
    """Every frame of a video as RGB uint8 ``[N, H, W, 3]`` (see :func:`iter_frames`)."""
    return np.stack(list(iter_frames(path, resize, max_frames)))


def video_properties(path: str | Path, *names: str) -> list[float]:
    """OpenCV capture properties (``CAP_PROP_<name>``) a video's container declares; 0.0 where unreadable."""
    capture = cv2.VideoCapture(str(path))
    try:
        values = [float(capture.get(getattr(cv2, f"CAP_PROP_{n}")) or 0.0) if capture.isOpened() else 0.0
                  for n in names]
    finally:
        capture.release()
    return [v if math.isfinite(v) else 0.0 for v in values]


def video_frame_count(path: str | Path) -> int:
    """Frames a video's container declares (0 where unreadable)."""
    count, = video_properties(path, "FRAME_COUNT")
    return int(count)


def video_fps(path: str | Path) -> float:
    """The frame rate a video declares (frames are extracted at it: frame ``i`` is at ``i / fps`` s)."""
    fps, = video_properties(path, "FPS")
    if not fps > 0:
        raise VideoDecodeError(f"{path}: the video declares no frame rate, so seconds cannot be placed in it")
    return fps
