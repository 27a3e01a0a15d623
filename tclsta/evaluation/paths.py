"""Where the fusion and evaluation stages read and write, below the run's output folder."""

from __future__ import annotations

from pathlib import Path


def feature_cache(out: str | Path, split: int, stream: str, attention: str) -> Path:
    """``{OUT}/features/split{split}/{stream}_{attention}.h5``."""
    return Path(out) / "features" / f"split{split}" / f"{stream}_{attention}.h5"


def cln_checkpoint(out: str | Path, split: int) -> Path:
    """``{OUT}/cln/split{split}/cln.pt``."""
    return Path(out) / "cln" / f"split{split}" / "cln.pt"


def cln_scores(out: str | Path, split: int) -> Path:
    """``{OUT}/cln/split{split}/scores.h5``: the CLN's per-stream softmax scores."""
    return Path(out) / "cln" / f"split{split}" / "scores.h5"


def awl_weights(out: str | Path, split: int, source: str) -> Path:
    """``{OUT}/awl/split{split}/{source}/weights.csv``; ``source`` is ``stream`` or ``cln``."""
    return Path(out) / "awl" / f"split{split}" / source / "weights.csv"
