"""The ``evaluate`` stage: every ablation row of the paper's Tables VI–VIII on the test videos.

Rows (``sfx`` is ``""``, ``" + SA"``, ``" + TA"`` or ``" + STA"`` for the attention modes
``none``, ``spatial``, ``temporal``, ``both``):

* ``Frame{sfx}``, ``Optical flow{sfx}``: a stream's own prediction (mean of its heads' probabilities);
* ``Frame{sfx} (frame head only)`` (and flow's) for the modes with more than one head: the control
  scored like ``Frame`` (one head, the frame head), so that ``+ STA`` vs none is not head ensembling;
* ``Two-stream{sfx}``: late fusion of the two (Table VI);
* for the CLN's attention mode (``cln.attention``, default ``both`` → ``Two-stream + STA``):
  ``… + Late`` (= ``Two-stream{sfx}``), ``… + Early`` (video features + linear SVM),
  ``… + CLN`` (late fusion of the CLN's two heads, as in Table VII), ``… + AWL`` (stream
  scores, per-class weights) and ``… + CLN + AWL``.

Each row holds per-split values and their mean, for the dataset's measure (accuracy, or mAP
on THUMOS14) and the other one. Per-video predictions go to a CSV for the confusion matrix.
Where the dataset has attention ground truth, ``attention`` holds each stream's spatial pointing
and temporal mass (:mod:`tclsta.evaluation.attention_metrics`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tclsta.atomic import atomic_path, atomic_write_text
from tclsta.errors import DatasetError
from tclsta.features.cache import FeatureCache, read_feature_cache
from tclsta.fusion.awl import fuse, read_weights
from tclsta.fusion.baselines import early_fusion, late_fusion
from tclsta.fusion.scores import ScoreSet, read_score_set, stream_probabilities, stream_score_set, video_features
from tclsta import paths
from tclsta.evaluation.attention_metrics import attention_metrics
from tclsta.evaluation.metrics import METRICS, metric_for

log = logging.getLogger(__name__)

ATTENTION_SUFFIX = {"none": "", "spatial": " + SA", "temporal": " + TA", "both": " + STA"}
STREAM_LABEL = {"rgb": "Frame", "flow": "Optical flow"}
FUSION_METHODS = ("Late", "Early", "CLN", "AWL", "CLN + AWL")
FRAME_HEAD_ONLY = " (frame head only)"


@dataclass
class RowScores:
    """Test-video class scores of one table row in one split."""

    video_ids: list[str]
    labels: np.ndarray
    scores: np.ndarray  # [V, C]


def two_stream_name(attention: str, method: str | None = None) -> str:
    """``Two-stream + STA + CLN`` and the like."""
    name = f"Two-stream{ATTENTION_SUFFIX[attention]}"
    return name if method is None else f"{name} + {method}"


def row_order(streams: list[str], attentions: list[str], cln_attention: str) -> list[str]:
    """Row names in the order of the paper's tables (VI, then VII/VIII)."""
    modes = [a for a in ATTENTION_SUFFIX if a in attentions]
    names = [f"{STREAM_LABEL[s]}{ATTENTION_SUFFIX[a]}{control}" for s in ("rgb", "flow") if s in streams
             for a in modes for control in ("", FRAME_HEAD_ONLY)[:1 + (a != "none")]]
    if set(streams) >= {"rgb", "flow"}:
        names += [two_stream_name(a) for a in modes]
        if cln_attention in attentions:
            names += [two_stream_name(cln_attention, m) for m in FUSION_METHODS]
    return names


def _test_rows(cache: FeatureCache, scores: np.ndarray) -> RowScores:
    test = cache.subset("test")
    return RowScores([cache.video_ids[i] for i in test], np.asarray(cache.labels)[test], scores[test])


def split_rows(out: str | Path, split: int, config: dict[str, Any]) -> tuple[dict[str, RowScores], list[str]]:
    """Every row's test scores for one split, read from the stage outputs below ``out``, and the class names."""
    streams, attentions = config["stream"]["streams"], config["stream"]["attentions"]
    cln_attention = config["cln"]["attention"]
    rows: dict[str, RowScores] = {}
    caches: dict[tuple[str, str], FeatureCache] = {}
    for attention in attentions:
        for stream in streams:
            path = paths.feature_cache(out, split, stream, attention)
            caches[stream, attention] = cache = read_feature_cache(path)
            rows[f"{STREAM_LABEL[stream]}{ATTENTION_SUFFIX[attention]}"] = _test_rows(
                cache, stream_probabilities(cache, path))
            if attention != "none":
                rows[f"{STREAM_LABEL[stream]}{ATTENTION_SUFFIX[attention]}{FRAME_HEAD_ONLY}"] = _test_rows(
                    cache, cache.scores["frame"])
        if set(streams) >= {"rgb", "flow"}:
            pair = stream_score_set(caches["rgb", attention], caches["flow", attention],
                                    paths.feature_cache(out, split, "rgb", attention),
                                    paths.feature_cache(out, split, "flow", attention))
            test = pair.subset("test")
            rows[two_stream_name(attention)] = RowScores(
                [pair.video_ids[i] for i in test], pair.labels[test], late_fusion(pair.stacked(test)))
            if attention == cln_attention:
                rows.update(_fusion_rows(out, split, config, caches["rgb", attention], caches["flow", attention],
                                         pair))
    return rows, list(cache.class_names)


def _fusion_rows(out: str | Path, split: int, config: dict[str, Any], static: FeatureCache,
                 motion: FeatureCache, pair: ScoreSet) -> dict[str, RowScores]:
    """Rows of Tables VII–VIII for the CLN's attention mode."""
    attention = config["cln"]["attention"]
    test, train = pair.subset("test"), pair.subset("train")
    ids, labels = [pair.video_ids[i] for i in test], pair.labels[test]
    order = {vid: i for i, vid in enumerate(motion.video_ids)}
    motion_features = video_features(motion)[[order[v] for v in pair.video_ids]]
    static_features = video_features(static)
    early = early_fusion([static_features[train], motion_features[train]], pair.labels[train],
                         [static_features[test], motion_features[test]], len(pair.class_names),
                         c=config["early_fusion"]["svm_c"], max_iter=config["early_fusion"]["max_iter"])
    stream_weights = read_weights(paths.awl_weights(out, split, "stream"), pair.class_names)

    cln = read_score_set(paths.cln_scores(out, split))
    cln_test = cln.subset("test")
    if [cln.video_ids[i] for i in cln_test] != ids:
        raise DatasetError(f"{paths.cln_scores(out, split)}: test videos differ from the feature caches' "
                           "(rerun train-cln)")
    cln_weights = read_weights(paths.awl_weights(out, split, "cln"), cln.class_names)
    return {
        two_stream_name(attention, "Late"): RowScores(ids, labels, late_fusion(pair.stacked(test))),
        two_stream_name(attention, "Early"): RowScores(ids, labels, early),
        two_stream_name(attention, "CLN"): RowScores(ids, labels, late_fusion(cln.stacked(cln_test))),
        two_stream_name(attention, "AWL"): RowScores(ids, labels, fuse(pair.stacked(test), stream_weights)),
        two_stream_name(attention, "CLN + AWL"): RowScores(ids, labels, fuse(cln.stacked(cln_test), cln_weights)),
    }


def _summary(values: dict[int, float]) -> dict[str, Any]:
    return {"splits": {str(s): v for s, v in values.items()}, "mean": float(np.mean(list(values.values())))}


def evaluate(out: str | Path, config: dict[str, Any]) -> tuple[dict[str, Any], pd.DataFrame]:
    """Compute the metrics table and the per-video predictions for every configured split."""
    splits = config["dataset"]["splits"]
    order = row_order(config["stream"]["streams"], config["stream"]["attentions"], config["cln"]["attention"])
    primary = metric_for(config["dataset"]["format"])
    secondary = "accuracy" if primary == "mAP" else "mAP"
    values: dict[str, dict[str, dict[int, float]]] = {m: {name: {} for name in order} for m in METRICS}
    predictions = []
    class_names: list[str] = []
    for split in splits:
        rows, class_names = split_rows(out, split, config)
        for name in order:
            row = rows[name]
            for metric, function in METRICS.items():
                values[metric][name][split] = function(row.scores, row.labels)
            predictions.append(pd.DataFrame({"split": split, "method": name, "video_id": row.video_ids,
                                             "label": row.labels, "prediction": row.scores.argmax(axis=1)}))
            log.info("split %d  %-32s %s %.4f", split, name, primary, values[primary][name][split])
    metrics = {
        "dataset": config["dataset"]["format"],
        "metric": primary,
        "splits": splits,
        "class_names": class_names,
        "rows": {name: _summary(values[primary][name]) for name in order},
        "secondary": {"metric": secondary, "rows": {name: _summary(values[secondary][name]) for name in order}},
        "attention": attention_metrics(out, config),
    }
    return metrics, pd.concat(predictions, ignore_index=True)


def run_evaluate(out: str | Path, metrics_path: str | Path, predictions_path: str | Path,
                 config: dict[str, Any]) -> dict[str, Any]:
    """Evaluate and write ``metrics.json`` and the predictions CSV atomically."""
    metrics, predictions = evaluate(out, config)
    with atomic_path(predictions_path) as tmp:
        predictions.to_csv(tmp, index=False)
    atomic_write_text(metrics_path, json.dumps(metrics, indent=1) + "\n")
    return metrics
