"""Where tensors run: one rule for every stage's ``device`` setting, one GPU per concurrent job."""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

import torch

from tclsta.errors import ConfigError

log = logging.getLogger(__name__)

_claimed: tuple[int, IO] | None = None  # (GPU index, its lock file, held open until the process ends)


def visible_gpus() -> list[str]:
    """Ids of the GPUs this process may use, without initialising CUDA.

    ``CUDA_VISIBLE_DEVICES`` when set (empty or ``-1`` = none), else one per ``nvidia-smi -L`` line;
    none without ``nvidia-smi``. The workflow limits its concurrent GPU jobs to this count.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [v.strip() for v in visible.split(",") if v.strip()]
        return [] if not ids or ids[0].startswith("-") else ids
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(l for l in listing.splitlines() if l.startswith("GPU "))]


def lock_dir() -> Path:
    """Folder of the per-GPU lock files (one per user and machine)."""
    return Path(tempfile.gettempdir()) / f"tclsta-gpu-locks-{os.getuid()}"


def claim_gpu(ids: list[str], folder: Path, poll: float = 5.0) -> tuple[int, IO]:
    """Index (into ``ids``) of the first GPU whose lock this process gets, and the open lock file.

    The lock (``flock``) lasts while the file stays open, so it ends with the process, however
    it ends. When every GPU is taken, waits and polls every ``poll`` seconds.
    """
    folder.mkdir(parents=True, exist_ok=True)
    waited = False
    while True:
        for index, gpu in enumerate(ids):
            handle = open(folder / f"gpu-{gpu}.lock", "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            return index, handle
        if not waited:
            log.warning("all %d GPUs are taken by other tclsta jobs; waiting for one (locks in %s)", len(ids), folder)
            waited = True
        time.sleep(poll)


def _job_gpu() -> int:
    """This job's GPU: its own one among several visible (locked for the process), else the only one."""
    global _claimed
    count = torch.cuda.device_count()
    if count < 2:
        return 0
    if "SLURM_JOB_ID" in os.environ:  # SLURM gives each job its own GPUs; one per task of a multi-GPU job
        return int(os.environ.get("LOCAL_RANK", os.environ.get("SLURM_LOCALID", "0"))) % count
    if _claimed is None:
        ids = visible_gpus()[:count] or [str(i) for i in range(count)]
        _claimed = claim_gpu(ids, lock_dir())
        log.info("using GPU %d of %d (CUDA id %s)", _claimed[0], count, ids[_claimed[0]])
    return _claimed[0]


def resolve_device(name: str, key: str = "device") -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is a configuration error.

    On CUDA each concurrent job gets its own GPU (see :func:`claim_gpu`). ``key`` names the
    setting in the error (``device``, ``flow.device``).
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{key} is 'cuda' but no CUDA device is available (use 'auto' or 'cpu')")
    if name == "cuda":
        index = _job_gpu()
        torch.cuda.set_device(index)
        return torch.device("cuda", index)
    return torch.device(name)
