"""Logging set-up shared by every command."""

from __future__ import annotations

import logging
import os

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(verbosity: int = 0) -> None:
    """Configure the root logger: INFO by default, DEBUG with ``-v``, WARNING with ``-q``."""
    level = logging.INFO
    if verbosity > 0:
        level = logging.DEBUG
    elif verbosity < 0:
        level = logging.WARNING
    logging.basicConfig(level=level, format=_rank_prefix() + LOG_FORMAT, datefmt="%H:%M:%S", force=True)


def _rank_prefix() -> str:
    """``[rank R] `` in one process of a multi-process training (torchrun or srun), else nothing."""
    env = os.environ
    if int(env.get("WORLD_SIZE", "1")) > 1:
        return f"[rank {env['RANK']}] "
    if int(env.get("SLURM_NTASKS", "1")) > 1 and "SLURM_STEP_ID" in env:
        return f"[rank {env['SLURM_PROCID']}] "
    return ""
