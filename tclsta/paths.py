"""The run's output layout: where each stage reads and writes, below ``output_dir``.

The workflow's path patterns (workflow/rules/*.smk) are the same; the commands use these
as defaults for their path options.
"""

from __future__ import annotations

from pathlib import Path


def manifest(out: str | Path) -> Path:
    """``{OUT}/manifest.csv``."""
    return Path(out) / "manifest.csv"


def frames_index(out: str | Path) -> Path:
    """``{OUT}/frames_index.csv``: which videos were extracted."""
    return Path(out) / "frames_index.csv"


def frames_root(out: str | Path) -> Path:
    """``{OUT}/frames``: one folder of RGB and flow JPEGs per video."""
    return Path(out) / "frames"


def stream_checkpoint(out: str | Path, split: int, stream: str, attention: str) -> Path:
    """``{OUT}/streams/split{split}/{stream}_{attention}.pt``."""
    return Path(out) / "streams" / f"split{split}" / f"{stream}_{attention}.pt"


def feature_cache(out: str | Path, split: int, stream: str, attention: str) -> Path:
    """``{OUT}/features/split{split}/{stream}_{attention}.h5``."""
    return Path(out) / "features" / f"split{split}" / f"{stream}_{attention}.h5"


def cln_checkpoint(out: str | Path, split: int, variant: str = "paper") -> Path:
    """``{OUT}/cln/split{split}/{variant}/cln.pt``; ``variant`` is ``paper`` or ``heldout``."""
    return Path(out) / "cln" / f"split{split}" / variant / "cln.pt"


def cln_scores(out: str | Path, split: int, variant: str = "paper") -> Path:
    """``{OUT}/cln/split{split}/{variant}/scores.h5``: the CLN's per-head softmax scores."""
    return Path(out) / "cln" / f"split{split}" / variant / "scores.h5"


def awl_weights(out: str | Path, split: int, source: str) -> Path:
    """``{OUT}/awl/split{split}/{source}/weights.csv`` (and ``fit.json``); ``source``: see :mod:`tclsta.fusion.solve`."""
    return Path(out) / "awl" / f"split{split}" / source / "weights.csv"


def metrics(out: str | Path) -> Path:
    """``{OUT}/metrics.json``."""
    return Path(out) / "metrics.json"


def predictions(out: str | Path) -> Path:
    """``{OUT}/evaluation/predictions.csv``: per-video predictions of every method."""
    return Path(out) / "evaluation" / "predictions.csv"


def report_dir(out: str | Path) -> Path:
    """``{OUT}/report``: report.md and its figures."""
    return Path(out) / "report"
