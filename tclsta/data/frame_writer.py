"""Write one video's frame folder piece by piece (chunks of RGB frames and flow fields), renamed into place when complete."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tclsta.atomic import atomic_directory
from tclsta.data import layout


class FrameFolderWriter:
    """Appends RGB frames and flow fields of one video to a temporary folder; :meth:`finish` renames it to ``folder``.

    Files are numbered on from those already written, so a video written in chunks gives the
    same files as one written whole. :meth:`abort` removes the temporary folder.
    """

    def __init__(self, folder: Path, quality: int, settings_digest: str) -> None:
        self._stack = ExitStack()
        self.tmp = self._stack.enter_context(atomic_directory(folder))
        self.params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
        self.settings_digest = settings_digest
        self.n_frames = self.n_flow = 0
        self.shape: tuple[int, int] = (0, 0)

    def add(self, frames: np.ndarray, flow: np.ndarray | None) -> None:
        """Write the next RGB frames ``[N, H, W, 3]`` and the next flow fields ``[M, H, W, 2]`` (uint8)."""
        for frame in frames:
            self.n_frames += 1
            _imwrite(self.tmp / layout.rgb_name(self.n_frames), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), self.params)
        self.shape = frames.shape[1:3]
        for pair in flow if flow is not None else ():
            self.n_flow += 1
            name_x, name_y = layout.flow_names(self.n_flow)
            _imwrite(self.tmp / name_x, pair[..., 0], self.params)
            _imwrite(self.tmp / name_y, pair[..., 1], self.params)

    def finish(self) -> dict[str, Any]:
        """Write ``frames.json`` and rename the folder into place; return the meta."""
        meta = {"n_frames": self.n_frames, "n_flow": self.n_flow, "height": int(self.shape[0]),
                "width": int(self.shape[1]), "settings": self.settings_digest}
        layout.write_meta(self.tmp, meta)
        self._stack.close()
        return meta

    def abort(self, error: BaseException) -> None:
        """Remove the temporary folder (the final folder is left as it was)."""
        self._stack.__exit__(type(error), error, error.__traceback__)


def _imwrite(path: Path, image: np.ndarray, params: list[int]) -> None:
    if not cv2.imwrite(str(path), image, params):
        raise OSError(f"{path}: cannot write JPEG")
