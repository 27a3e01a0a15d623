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
    same files as one written whole; flow fields are written at the numbers given with them. A
    folder holding the flow of only some frame pairs records which in ``frames.json``
    (``flow_fields``; ``n_flow`` is then the video's N − 1 pairs). :meth:`abort` removes the
    temporary folder, as does any error while writing (a full disk raises
    :class:`~tclsta.errors.DiskFullError` naming the folder).
    """

    def __init__(self, folder: Path, quality: int, settings_digest: str) -> None:
        self._stack = ExitStack()
        self.tmp = self._stack.enter_context(atomic_directory(folder))
        self.params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
        self.settings_digest = settings_digest
        self.n_frames = 0
        self.fields: list[int] = []
        self.shape: tuple[int, int] = (0, 0)

    def add(self, frames: np.ndarray, flow: Sequence[tuple[int, np.ndarray]] = ()) -> None:
        """Write the next RGB frames ``[N, H, W, 3]`` and flow fields: ``(first, [M, H, W, 2] uint8)`` pieces,
        fields ``first … first + M − 1`` (1-based, field i is from frame i to i + 1)."""
        with self._aborting():
            self._add(frames, flow)

    def _add(self, frames: np.ndarray, flow: Sequence[tuple[int, np.ndarray]]) -> None:
        for frame in frames:
            self.n_frames += 1
            _imwrite(self.tmp / layout.rgb_name(self.n_frames), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), self.params)
        if len(frames):
            self.shape = frames.shape[1:3]
        for first, fields in flow:
            for number, pair in enumerate(fields, start=first):
                name_x, name_y = layout.flow_names(number)
                _imwrite(self.tmp / name_x, pair[..., 0], self.params)
                _imwrite(self.tmp / name_y, pair[..., 1], self.params)
                self.fields.append(number)

    def finish(self) -> dict[str, Any]:
        """Write ``frames.json`` (with every JPEG's size) and rename the folder into place; return the meta."""
        fields = sorted(self.fields)
        every = fields == list(range(1, len(fields) + 1)) and len(fields) in (0, self.n_frames - 1)
        meta = {"n_frames": self.n_frames, "n_flow": len(fields) if every else self.n_frames - 1,
                "height": int(self.shape[0]), "width": int(self.shape[1]), "settings": self.settings_digest,
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
