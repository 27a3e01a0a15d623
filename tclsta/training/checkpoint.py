"""Stream checkpoints: the resumable training state and the final model file.

The resume file ``<output stem>.resume.pt`` sits next to the final checkpoint and holds
model, optimizer, scheduler, RNG state and iteration; it is replaced atomically every
``stream.checkpoint_every`` iterations and removed when the final file is written. The
final file is ``{"state_dict": …, "meta": {…}}``: plain tensors and JSON-like metadata,
loadable with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import torch

from tclsta.atomic import atomic_path
from tclsta.errors import TclstaError
from tclsta.models.stream import AttentionStream, build_stream

log = logging.getLogger(__name__)


def resume_path(output: str | Path) -> Path:
    """The resume file that belongs to final checkpoint ``output``."""
    output = Path(output)
    return output.with_name(f"{output.stem}.resume.pt")


def save_resume(path: str | Path, state: dict[str, Any]) -> None:
    """Write the training state atomically."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_resume(path: str | Path, fingerprint: str) -> dict[str, Any] | None:
    """The saved training state if ``path`` exists and was made with the same settings, else None."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - a damaged resume file only costs the progress
        log.warning("%s: unreadable resume file (%s); starting from scratch", path, err)
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
    with atomic_path(path) as tmp:
        torch.save({"state_dict": cpu_state_dict(model), "meta": meta}, tmp)


def file_hash(path: str | Path) -> str:
    """Short SHA-256 of a file's bytes (names the checkpoint a feature cache came from)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def load_final(path: str | Path) -> tuple[AttentionStream, dict[str, Any]]:
    """Rebuild the stream stored in a final checkpoint; returns (model, meta)."""
    path = Path(path)
    if not path.is_file():
        raise TclstaError(f"{path}: stream checkpoint not found (run train-stream first)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        meta = blob["meta"]
        model = build_stream(meta["model"], meta["stream"], meta["attention"], len(meta["class_names"]),
                             pretrained=False)
        model.load_state_dict(blob["state_dict"], strict=True)
    except (KeyError, RuntimeError, TypeError) as err:
        raise TclstaError(f"{path}: not a tclsta stream checkpoint ({err})") from err
    return model, meta
