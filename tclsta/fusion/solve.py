"""The ``solve-awl`` stage: fusion weights from the stream-level or the CLN scores of one split."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from tclsta.errors import ConfigError, DatasetError
from tclsta.features.cache import read_feature_cache
from tclsta.fusion.awl import solve_awl, write_weights
from tclsta.fusion.scores import ScoreSet, read_score_set, stream_score_set

log = logging.getLogger(__name__)


def lp_videos(scores: ScoreSet, source: str, awl: dict[str, Any], path: str | Path) -> np.ndarray:
    """Indices of the videos whose scores enter the LP.

    ``awl.scores = train``: every training video (the paper). ``holdout``: the CLN's
    held-out training videos; the stream networks were trained on all training videos,
    so for the stream-level scores nothing is held out and the training videos are used.
    """
    if awl["scores"] == "holdout" and source == "cln":
        index = scores.subset("holdout")
        if len(index) == 0:
            raise DatasetError(f"{path}: awl.scores=holdout but the CLN scores hold no held-out videos "
                               "(rerun train-cln with the same awl settings)")
        return index
    if awl["scores"] == "holdout":
        log.warning("awl.scores=holdout: the stream networks saw every training video; "
                    "the stream-level LP uses the training videos")
    return scores.subset("train")


def run_solve_awl(output: str | Path, config: dict[str, Any], *, cln_scores: str | Path | None = None,
                  static: str | Path | None = None, motion: str | Path | None = None) -> np.ndarray:
    """Solve one LP per class and write ``weights.csv``; returns the weights ``[C, 2]``.

    Reads either the CLN score file (``cln_scores``) or two stream feature caches.
    """
    if (cln_scores is None) == (static is None or motion is None):
        raise ConfigError("solve-awl: give either --cln-scores or both --static and --motion")
    if cln_scores is not None:
        source, path, scores = "cln", cln_scores, read_score_set(cln_scores)
    else:
        source, path = "stream", static
        scores = stream_score_set(read_feature_cache(static), read_feature_cache(motion), static, motion)
    index = lp_videos(scores, source, config["awl"], path)
    weights = solve_awl(scores.stacked(index), scores.labels[index], config["awl"]["lambda_"],
                        config["awl"]["epsilon"])
    write_weights(output, scores.class_names, weights)
    static_classes = int(np.sum(weights[:, 0] > weights[:, 1]))
    log.info("%s scores of %d videos: %d of %d classes weight the static stream more, %d the motion stream",
             source, len(index), static_classes, len(weights), int(np.sum(weights[:, 1] > weights[:, 0])))
    return weights
