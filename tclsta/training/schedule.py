"""A stream's training length and validation interval in iterations.

``stream.iterations`` / ``stream.validate_every`` count iterations directly (TSN's and the
paper's schedule). ``stream.epochs`` / ``stream.validate_every_epochs`` count passes over
the fitted videos instead, so one setting trains a small data set as many times over as a
large one (mmaction2's epoch-based loop); they are converted here, once the fitted videos
are known.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple


class Schedule(NamedTuple):
    """Iterations to train and iterations between validations."""

    iterations: int
    validate_every: int


def iterations_for(epochs: float, fitted: int, batch_size: int) -> int:
    """Iterations of ``batch_size`` videos that cover ``epochs`` passes over ``fitted`` videos (at least 1)."""
    return max(1, math.ceil(epochs * fitted / batch_size - 1e-9))


def stream_schedule(scfg: dict[str, Any], stream: str, fitted: int) -> Schedule:
    """The schedule of ``stream`` trained on ``fitted`` videos under the ``stream`` config section."""
    epochs = scfg["epochs"][stream]
    total = scfg["iterations"][stream] if epochs is None else iterations_for(epochs, fitted, scfg["batch_size"])
    every = scfg["validate_every_epochs"]
    validate_every = scfg["validate_every"] if every is None else iterations_for(every, fitted, scfg["batch_size"])
    return Schedule(total, validate_every)
