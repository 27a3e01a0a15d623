"""Stream checkpoints: the resumable training state and the final model file.

The resume file ``<output stem>.resume.pt`` sits next to the final checkpoint and holds
model, optimizer, scheduler, RNG state and iteration; it is replaced atomically every
``stream.checkpoint_every`` iterations and removed when the final file is written. The
final file is ``{"state_dict": …, "meta": {…}}``: plain tensors and JSON-like metadata,
loadable with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import logging
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from tclsta.atomic import atomic_path
from tclsta.errors import TclstaError
from tclsta.hashing import sha256_file
from tclsta.models.stream import AttentionStream, build_stream

log = logging.getLogger(__name__)


def resume_path(output: str | Path) -> Path:
    """The resume file that belongs to final checkpoint ``output``."""
    output = Path(output)
    return output.with_name(f"{output.stem}.resume.pt")


def _save_atomic(path: str | Path, blob: dict[str, Any]) -> None:
    """``torch.save`` to ``path`` atomically.

    Through a Python file object: a full disk then raises OSError(ENOSPC), which
    :func:`atomic_path` turns into a message naming the disk (torch's own writer says "unexpected pos").
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        torch.save(blob, handle)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """``torch.load(weights_only=True)`` of a checkpoint file, or :class:`TclstaError` saying why not."""
    if not zipfile.is_zipfile(path):
        raise TclstaError(f"{path}: not a PyTorch checkpoint (no zip archive: truncated, damaged or another file)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError) as err:
        raise TclstaError(f"{path}: unreadable checkpoint ({str(err).splitlines()[0]})") from err


def save_resume(path: str | Path, state: dict[str, Any]) -> None:
    """Write the training state atomically."""
    _save_atomic(path, state)


def load_resume(path: str | Path, fingerprint: str) -> dict[str, Any] | None:
    """The saved training state if ``path`` exists and was made with the same settings, else None."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = load_checkpoint(path)
    except TclstaError as err:  # a damaged resume file only costs the progress
        log.warning("%s; starting from scratch", err)
        return None
    if state.get("fingerprint") != fingerprint:
        log.warning("%s: made with other settings; starting from scratch", path)
        return None
    return state


def cpu_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's state_dict as contiguous CPU tensors."""
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}


def save_final(path: str | Path, model: AttentionStream, meta: dict[str, Any]) -> None:
    """Write the final checkpoint atomically."""
    _save_atomic(path, {"state_dict": cpu_state_dict(model), "meta": meta})


def file_hash(path: str | Path) -> str:
    """Short SHA-256 of a file's bytes (names the checkpoint a feature cache came from)."""
    return sha256_file(path)[:16]


def load_final(path: str | Path) -> tuple[AttentionStream, dict[str, Any]]:
    """Rebuild the stream stored in a final checkpoint; returns (model, meta)."""
    path = Path(path)
    if not path.is_file():
        raise TclstaError(f"{path}: stream checkpoint not found (run train-stream first)")
    blob = load_checkpoint(path)
    try:
        meta = blob["meta"]
        model = build_stream(meta["model"], meta["stream"], meta["attention"], len(meta["class_names"]),
                             pretrained=False)
        model.load_state_dict(blob["state_dict"], strict=True)
    except (KeyError, RuntimeError, TypeError) as err:
        raise TclstaError(f"{path}: not a tclsta stream checkpoint ({err})") from err
    return model, meta
