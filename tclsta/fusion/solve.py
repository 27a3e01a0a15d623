"""The ``solve-awl`` stage: per-class fusion weights (Eq. 13) from one split's scores.

Sources (``--source``):

* ``stream`` / ``cln``: the streams' own scores or the paper CLN's; the LP reads every
  training video (the paper), with ``awl.lambda_`` and ``awl.epsilon``.
* ``stream_heldout`` / ``cln_heldout`` (ours, ``fusion.heldout``): the streams' scores or the
  held-out CLN's (with its fused head as a third stream, if it has one). The LP reads only the
  training videos the networks did not fit — the streams' held-out groups —, each stream's
  scores first temperature-scaled on those videos (``fusion.calibrate``), and the weight
  floor ε is chosen among ``awl.heldout_epsilons`` by leave-one-group-out over those videos
  (ε = 1/S is plain late fusion, so the choice can fall back to it).

Every source writes ``weights.csv`` and ``fit.json``: the videos the LP was fitted on, the
temperatures, λ, ε and the leave-one-group-out accuracy of each ε tried.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from tclsta.atomic import atomic_write_text
from tclsta.data.manifest import read_manifest
from tclsta.errors import ConfigError, DatasetError
from tclsta.features.cache import open_feature_cache
from tclsta.fusion.awl import predict, solve_awl, write_weights
from tclsta.fusion.roles import heldout_score_set, video_groups
from tclsta.fusion.scores import STREAMS, ScoreSet, read_score_set, stream_score_set
from tclsta.fusion.temperature import apply_temperature, fit_temperature

log = logging.getLogger(__name__)

SOURCES = ("stream", "cln", "stream_heldout", "cln_heldout")


@dataclass
class FitRecord:
    """What one AWL fit read and chose (``fit.json``)."""

    source: str
    fitted_on: list[str]
    temperatures: dict[str, float]
    lambda_: float
    epsilon: float
    epsilon_accuracy: dict[str, float] = field(default_factory=dict)


def score_streams(scores: ScoreSet) -> list[str]:
    """The score columns AWL weighs: static, motion and, for a CLN with a fused head, fused."""
    return [*STREAMS, *(["fused"] if "fused" in scores.scores else [])]


def calibrated(scores: ScoreSet, temperatures: dict[str, float]) -> ScoreSet:
    """The score set with each listed stream's scores temperature-scaled."""
    scaled = {k: apply_temperature(v, temperatures[k]) if k in temperatures else v for k, v in scores.scores.items()}
    return replace(scores, scores=scaled)


def fit_temperatures(scores: ScoreSet, index: np.ndarray, streams: list[str]) -> dict[str, float]:
    """One temperature per stream, fitted on the videos ``index``."""
    return {s: fit_temperature(scores.scores[s][index], scores.labels[index]) for s in streams}


def choose_epsilon(stack: np.ndarray, labels: np.ndarray, groups: np.ndarray, lam: float,
                   candidates: list[float]) -> tuple[float, dict[str, float]]:
    """The floor ε with the best leave-one-group-out accuracy of Eq. 14 (ties: the larger ε).

    Candidates: those of ``candidates`` below 1/S, and 1/S itself (plain late fusion).
    For each candidate and each group g, the LPs are solved without g's videos and predict
    them; returns the chosen ε and each candidate's accuracy over all folds.
    """
    late = 1 / stack.shape[1]  # every weight 1/S: plain late fusion, always a candidate
    feasible = sorted({e for e in candidates if e < late} | {late})
    accuracy = {}
    for epsilon in feasible:
        correct = 0
        for group in np.unique(groups):
            fit = groups != group
            if not fit.any():
                continue
            weights = solve_awl(stack[fit], labels[fit], lam, epsilon)
            correct += int((predict(stack[~fit], weights) == labels[~fit]).sum())
        accuracy[f"{epsilon:g}"] = correct / len(labels)
    best = max(accuracy.values())
    return max(e for e in feasible if accuracy[f"{e:g}"] == best), accuracy


def load_scores(source: str, *, cln_scores: str | Path | None, static: str | Path | None,
                motion: str | Path | None, manifest: str | Path | None) -> ScoreSet:
    """The score set a source reads (with the roles train / holdout / test for the held-out sources)."""
    if source.endswith("heldout") and manifest is None:
        raise ConfigError(f"solve-awl --source {source} needs --manifest (the videos' groups)")
    if source.startswith("cln"):
        if cln_scores is None:
            raise ConfigError(f"solve-awl --source {source} needs --scores (the CLN's scores.h5)")
        return read_score_set(cln_scores)
    if static is None or motion is None:
        raise ConfigError(f"solve-awl --source {source} needs --static and --motion (the two feature caches)")
    with open_feature_cache(static) as static_cache, open_feature_cache(motion) as motion_cache:  # scores only
        if source == "stream":
            return stream_score_set(static_cache, motion_cache, static, motion)
        return heldout_score_set(static_cache, motion_cache, read_manifest(manifest), static, motion)


def fit_awl(scores: ScoreSet, source: str, config: dict[str, Any], manifest: str | Path | None,
            path: str | Path) -> tuple[np.ndarray, list[str], FitRecord]:
    """Solve the LPs of one source; returns the weights ``[C, S]``, the streams weighed and the record."""
    awl, streams = config["awl"], score_streams(scores)
    if not source.endswith("heldout"):
        index = scores.subset("train")
        weights = solve_awl(scores.stacked(index, STREAMS), scores.labels[index], awl["lambda_"], awl["epsilon"])
        record = FitRecord(source, [scores.video_ids[i] for i in index], {}, awl["lambda_"], awl["epsilon"])
        return weights, list(STREAMS), record
    index = scores.subset("holdout")
    if len(index) == 0:
        raise DatasetError(f"{path}: no held-out videos (the streams need stream.holdout_fraction > 0)")
    temperatures = fit_temperatures(scores, index, streams) if config["fusion"]["calibrate"] else {}
    stack = calibrated(scores, temperatures).stacked(index, streams)
    groups = video_groups([scores.video_ids[i] for i in index], read_manifest(manifest))
    epsilon, table = choose_epsilon(stack, scores.labels[index], groups, awl["lambda_"], awl["heldout_epsilons"])
    weights = solve_awl(stack, scores.labels[index], awl["lambda_"], epsilon)
    record = FitRecord(source, [scores.video_ids[i] for i in index], temperatures, awl["lambda_"], epsilon, table)
    return weights, streams, record


def fit_record_path(weights_path: str | Path) -> Path:
    """``fit.json`` next to ``weights.csv``."""
    return Path(weights_path).with_name("fit.json")


def read_fit_record(path: str | Path) -> FitRecord:
    """Read a ``fit.json``."""
    try:
        return FitRecord(**json.loads(Path(path).read_text()))
    except (OSError, ValueError, TypeError) as err:
        raise DatasetError(f"{path}: not a readable AWL fit record ({err}); rerun solve-awl") from err


def run_solve_awl(output: str | Path, config: dict[str, Any], *, source: str, cln_scores: str | Path | None = None,
                  static: str | Path | None = None, motion: str | Path | None = None,
                  manifest: str | Path | None = None) -> np.ndarray:
    """Solve one LP per class and write ``weights.csv`` and ``fit.json``; returns the weights ``[C, S]``."""
    if source not in SOURCES:
        raise ConfigError(f"solve-awl: unknown source {source!r} (one of {', '.join(SOURCES)})")
    path = cln_scores if source.startswith("cln") else static
    scores = load_scores(source, cln_scores=cln_scores, static=static, motion=motion, manifest=manifest)
    weights, streams, record = fit_awl(scores, source, config, manifest, path)
    write_weights(output, scores.class_names, weights, streams)
    atomic_write_text(fit_record_path(output), json.dumps(asdict(record), indent=1) + "\n")
    chosen = np.asarray(streams)[weights.argmax(axis=1)]
    log.info("%s: LP on %d videos, ε = %g, T = %s; classes per stream: %s", source, len(record.fitted_on),
             record.epsilon, record.temperatures or "none",
             {s: int((chosen == s).sum()) for s in streams})
    return weights
