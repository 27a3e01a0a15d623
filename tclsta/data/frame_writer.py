"""Write one video's frame folder piece by piece (chunks of RGB frames and flow fields), renamed into place when complete."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tclsta.atomic import atomic_directory
from tclsta.data import layout, verify


class FrameFolderWriter:
    """Appends RGB frames and flow fields of one video to a temporary folder; :meth:`finish` renames it to ``folder``.

    RGB files are numbered on from those already written, so a video written in chunks gives the
    same files as one written whole, or at the numbers given with them; flow fields are written at
    the numbers given with them. A folder holding only some frames or the flow of only some frame
    pairs records which in ``frames.json`` (``rgb_frames``, ``flow_fields``; ``n_frames`` and
    ``n_flow`` are then the video's N frames and N − 1 pairs, given to :meth:`finish`).
    :meth:`abort` removes the temporary folder, as does any error while writing (a full disk raises
    :class:`~tclsta.errors.DiskFullError` naming the folder).
    """

    def __init__(self, folder: Path, quality: int, settings_digest: str) -> None:
        self._stack = ExitStack()
        self.tmp = self._stack.enter_context(atomic_directory(folder))
        self.params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
        self.settings_digest = settings_digest
        self.frames: list[int] = []
        self.fields: list[int] = []
        self.shape: tuple[int, int] = (0, 0)

    def add(self, frames: np.ndarray, flow: Sequence[tuple[int, np.ndarray]] = (),
            numbers: Sequence[int] | None = None) -> None:
        """Write RGB frames ``[N, H, W, 3]`` (numbered ``numbers``, by default on from the last written) and
        flow fields: ``(first, [M, H, W, 2] uint8)`` pieces, fields ``first … first + M − 1`` (1-based, field i
        is from frame i to i + 1)."""
        with self._aborting():
            self._add(frames, flow, numbers)

    def _add(self, frames: np.ndarray, flow: Sequence[tuple[int, np.ndarray]], numbers: Sequence[int] | None) -> None:
        after = self.frames[-1] if self.frames else 0
        for number, frame in zip(range(after + 1, after + 1 + len(frames)) if numbers is None else numbers, frames):
            _imwrite(self.tmp / layout.rgb_name(int(number)), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), self.params)
            self.frames.append(int(number))
        for first, fields in flow:
            for number, pair in enumerate(fields, start=first):
                name_x, name_y = layout.flow_names(number)
                _imwrite(self.tmp / name_x, pair[..., 0], self.params)
                _imwrite(self.tmp / name_y, pair[..., 1], self.params)
                self.fields.append(number)
        shaped = [a for a in (frames, *(fields for _, fields in flow)) if len(a)]
        if shaped:
            self.shape = shaped[0].shape[1:3]

    def finish(self, n_frames: int | None = None) -> dict[str, Any]:
        """Write ``frames.json`` (with every JPEG's size) and rename the folder into place; return the meta.
        ``n_frames``: the video's frame count, where only some of its frames were written."""
        frames, fields = sorted(self.frames), sorted(self.fields)
        n = len(frames) if n_frames is None else int(n_frames)
        every_frame = frames == list(range(1, n + 1))
        every = fields == list(range(1, len(fields) + 1)) and len(fields) in (0, n - 1)
        meta = {"n_frames": n, "n_flow": len(fields) if every else n - 1,
                "height": int(self.shape[0]), "width": int(self.shape[1]), "settings": self.settings_digest,
                **({} if every_frame else {layout.FRAMES_KEY: frames}),
                **({} if every else {layout.FIELDS_KEY: fields})}
        with self._aborting():
            meta = verify.record_sizes(self.tmp, meta)
            layout.write_meta(self.tmp, meta)
        self._stack.close()
        return meta

    def abort(self, error: BaseException) -> None:
        """Remove the temporary folder (the final folder is left as it was); idempotent."""
        self._stack.__exit__(type(error), error, error.__traceback__)

    @contextmanager
    def _aborting(self) -> Iterator[None]:
        try:
            yield
        except BaseException as err:
            self.abort(err)  # raises DiskFullError instead when err is a full disk
            raise


def write_video(folder: Path, frames: np.ndarray, flow: np.ndarray | None, quality: int,
                settings_digest: str) -> dict[str, Any]:
    """Write one whole video's RGB (and flow) JPEGs into ``folder`` atomically; return its meta."""
    writer = FrameFolderWriter(folder, quality, settings_digest)
    writer.add(frames, [] if flow is None else [(1, flow)])
    return writer.finish()


def _imwrite(path: Path, image: np.ndarray, params: list[int]) -> None:
    ok, data = cv2.imencode(".jpg", image, params)
    if not ok:
        raise OSError(f"{path}: cannot encode JPEG")
    path.write_bytes(data)  # a full disk raises OSError(ENOSPC), which cv2.imwrite would hide
