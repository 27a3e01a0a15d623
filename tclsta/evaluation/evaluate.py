"""The ``evaluate`` stage: every ablation row of the paper's Tables VI–VIII on the test videos.

Rows (``sfx`` is ``""``, ``" + SA"``, ``" + TA"`` or ``" + STA"`` for the attention modes
``none``, ``spatial``, ``temporal``, ``both``):

* ``Frame{sfx}``, ``Optical flow{sfx}``: a stream's own prediction (mean of its heads' probabilities);
* ``Frame{sfx} (frame head only)`` (and flow's) for the modes with more than one head: the control
  scored like ``Frame`` (one head, the frame head), so that ``+ STA`` vs none is not head ensembling;
* ``Two-stream{sfx}``: late fusion of the two (Table VI);
* for the CLN's attention mode (``cln.attention``, default ``both`` → ``Two-stream + STA``):
  ``… + Late`` (= ``Two-stream{sfx}``), ``… + Early`` (video features + linear SVM),
  ``… + MKL`` (stream scores, ℓp-norm MKL), ``… + CLN`` (late fusion of the CLN's two heads,
  as in Table VII), ``… + AWL`` (stream scores, per-class weights) and ``… + CLN + AWL`` —
  each fitted, as in the paper, on every training video;
* with ``fusion.heldout`` (ours), rows tagged ``[held-out]`` / ``[calibrated]``: the same
  methods fitted only on the training videos the streams did not fit (their held-out
  groups), on temperature-scaled scores (``fusion.calibrate``), and the held-out CLN.

Each row holds per-split values and their mean, for the dataset's measure (accuracy, or mAP
on THUMOS14) and the other one, and top-5 accuracy (every dataset). Per-video predictions go to a CSV for the confusion matrix.
Where the dataset has attention ground truth, ``attention`` holds each stream's spatial pointing
and temporal mass (:mod:`tclsta.evaluation.attention_metrics`).
"""

from __future__ import annotations

import json
import logging
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tclsta.atomic import atomic_path, atomic_write_text
from tclsta.data.manifest import read_manifest
from tclsta.errors import DatasetError
from tclsta.features.cache import FeatureCache, open_feature_cache
from tclsta.fusion.awl import fuse, read_weights
from tclsta.fusion.baselines import early_fusion, late_fusion
from tclsta.fusion.mkl import LpMKL
from tclsta.fusion.roles import heldout_score_set
from tclsta.fusion.scores import STREAMS, ScoreSet, read_score_set, stream_probabilities, video_features
from tclsta.fusion.solve import calibrated, fit_record_path, read_fit_record
from tclsta import paths
from tclsta.evaluation.attention_metrics import AttentionMetrics
from tclsta.evaluation.calibration import awl_choices, fit_vs_test, stream_diagnostics
from tclsta.evaluation.metrics import METRICS, metric_for

log = logging.getLogger(__name__)

ATTENTION_SUFFIX = {"none": "", "spatial": " + SA", "temporal": " + TA", "both": " + STA"}
STREAM_LABEL = {"rgb": "Frame", "flow": "Optical flow"}
FRAME_HEAD_ONLY = " (frame head only)"
PAPER_METHODS = ("Late", "Early", "MKL", "CLN", "AWL", "CLN + AWL")
# ours (fusion.heldout): fitted on the training videos the streams did not fit (their held-out groups)
HELDOUT_METHODS = ("Late [calibrated]", "MKL [held-out]", "AWL [held-out]", "CLN [held-out]", "CLN + AWL [held-out]")


def fusion_methods(fusion: dict[str, Any]) -> list[str]:
    """The fusion rows a run has: the paper's, and ours when ``fusion.heldout`` (calibrated late fusion if ``calibrate``)."""
    if not fusion["heldout"]:
        return list(PAPER_METHODS)
    return [*PAPER_METHODS, *(m for m in HELDOUT_METHODS if fusion["calibrate"] or m != "Late [calibrated]")]


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


def row_order(streams: list[str], attentions: list[str], cln_attention: str, methods: list[str]) -> list[str]:
    """Row names in the order of the paper's tables (VI, then VII/VIII, then ours)."""
    modes = [a for a in ATTENTION_SUFFIX if a in attentions]
    names = [f"{STREAM_LABEL[s]}{ATTENTION_SUFFIX[a]}{control}" for s in ("rgb", "flow") if s in streams
             for a in modes for control in ("", FRAME_HEAD_ONLY)[:1 + (a != "none")]]
    if set(streams) >= {"rgb", "flow"}:
        names += [two_stream_name(a) for a in modes]
        if cln_attention in attentions:
            names += [two_stream_name(cln_attention, m) for m in methods]
    return names


def _test_rows(cache: FeatureCache, scores: np.ndarray) -> RowScores:
    test = cache.subset("test")
    return RowScores([cache.video_ids[i] for i in test], np.asarray(cache.labels)[test], scores[test])


def split_rows(out: str | Path, split: int, config: dict[str, Any], attention_metrics: AttentionMetrics
               ) -> tuple[dict[str, RowScores], list[str], dict[str, Any], dict[str, Any]]:
    """Every row's test scores for one split, read from the stage outputs below ``out``; the class names;
    the videos each evaluation-time fit used (early fusion, MKL); the diagnostics. Each feature cache
    read is also scored into ``attention_metrics``. The caches' frames are read from the files where
    used (pooled features, attention maps): what is held grows with the videos only by per-video arrays."""
    streams, attentions = config["stream"]["streams"], config["stream"]["attentions"]
    cln_attention = config["cln"]["attention"]
    rows: dict[str, RowScores] = {}
    fitted_on: dict[str, Any] = {}
    diagnostics: dict[str, Any] = {}
    caches: dict[tuple[str, str], FeatureCache] = {}
    manifest = read_manifest(paths.manifest(out)) if set(streams) >= {"rgb", "flow"} else None
    with ExitStack() as files:
        for attention in attentions:
            for stream in streams:
                path = paths.feature_cache(out, split, stream, attention)
                caches[stream, attention] = cache = files.enter_context(open_feature_cache(path))
                attention_metrics.add(stream, attention, cache, path)
                rows[f"{STREAM_LABEL[stream]}{ATTENTION_SUFFIX[attention]}"] = _test_rows(
                    cache, stream_probabilities(cache, path))
                if attention != "none":
                    rows[f"{STREAM_LABEL[stream]}{ATTENTION_SUFFIX[attention]}{FRAME_HEAD_ONLY}"] = _test_rows(
                        cache, cache.scores["frame"])
            if manifest is not None:  # both streams run
                pair = heldout_score_set(caches["rgb", attention], caches["flow", attention], manifest,
                                         paths.feature_cache(out, split, "rgb", attention),
                                         paths.feature_cache(out, split, "flow", attention))
                test = pair.subset("test")
                rows[two_stream_name(attention)] = RowScores(
                    [pair.video_ids[i] for i in test], pair.labels[test], late_fusion(pair.stacked(test)))
                if attention == cln_attention:
                    fusion, fitted_on, diagnostics = _fusion_rows(out, split, config, caches["rgb", attention],
                                                                  caches["flow", attention], pair)
                    rows.update(fusion)
    return rows, list(cache.class_names), fitted_on, diagnostics


def _test_scores(scores: ScoreSet, ids: list[str], path: Path) -> np.ndarray:
    """Indices of ``scores``' test videos, checked to be the same videos, in the same order, as ``ids``."""
    test = scores.subset("test")
    if [scores.video_ids[i] for i in test] != ids:
        raise DatasetError(f"{path}: test videos differ from the feature caches' (rerun train-cln)")
    return test


def _awl_test_scores(out: str | Path, split: int, source: str, scores: ScoreSet, test: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Eq. 14's fused test scores of one AWL source (its temperatures applied first), its weights and streams."""
    path = paths.awl_weights(out, split, source)
    weights, streams = read_weights(path, scores.class_names)
    record = read_fit_record(fit_record_path(path))
    return fuse(calibrated(scores, record.temperatures).stacked(test, streams), weights), weights, streams


def _mkl(config: dict[str, Any], scores: ScoreSet, fit: np.ndarray, test: np.ndarray) -> np.ndarray:
    """MKL fusion (Table VIII): the streams' scores as features, one kernel per stream; test decision values."""
    mkl = config["mkl"]
    model = LpMKL(p=mkl["p"], c=mkl["c"], kind=mkl["kernel"], rank=mkl["rank"])
    model.fit([scores.scores[s][fit] for s in STREAMS], scores.labels[fit], len(scores.class_names))
    log.info("MKL on %d videos: kernel weights θ = %s", len(fit), np.round(model.theta, 4).tolist())
    return model.decision_function([scores.scores[s][test] for s in STREAMS])


def _fusion_rows(out: str | Path, split: int, config: dict[str, Any], static: FeatureCache,
                 motion: FeatureCache, pair: ScoreSet) -> tuple[dict[str, RowScores], dict[str, Any], dict[str, Any]]:
    """Rows of Tables VII–VIII for the CLN's attention mode (and ours), what each fitted on, and the diagnostics.

    ``pair``'s roles are train / holdout / test (:func:`tclsta.fusion.roles.heldout_score_set`);
    the paper's rows fit on every training video (train and holdout).
    """
    attention, heldout = config["cln"]["attention"], config["fusion"]["heldout"]
    test = pair.subset("test")
    training = np.sort(np.concatenate([pair.subset("train"), pair.subset("holdout")]))
    ids, labels = [pair.video_ids[i] for i in test], pair.labels[test]
    order = {vid: i for i, vid in enumerate(motion.video_ids)}
    motion_features = video_features(motion)[[order[v] for v in pair.video_ids]]
    static_features = video_features(static)
    early = early_fusion([static_features[training], motion_features[training]], pair.labels[training],
                         [static_features[test], motion_features[test]], len(pair.class_names),
                         c=config["early_fusion"]["svm_c"], max_iter=config["early_fusion"]["max_iter"])
    cln = read_score_set(paths.cln_scores(out, split))
    cln_test = _test_scores(cln, ids, paths.cln_scores(out, split))
    awl, awl_weights, awl_streams = _awl_test_scores(out, split, "stream", pair, test)
    cln_awl, cln_weights, cln_streams = _awl_test_scores(out, split, "cln", cln, cln_test)
    method = {
        "Late": late_fusion(pair.stacked(test)),
        "Early": early,
        "MKL": _mkl(config, pair, training, test),
        "CLN": late_fusion(cln.stacked(cln_test)),
        "AWL": awl,
        "CLN + AWL": cln_awl,
    }
    train_ids = [pair.video_ids[i] for i in training]
    fitted_on = {"Early": train_ids, "MKL": train_ids}
    diagnostics: dict[str, Any] = {
        "cln": {"paper": fit_vs_test(late_fusion(cln.stacked()), cln.labels, cln.roles)},
        "awl": {"stream": awl_choices(awl_weights, awl_streams, pair), "cln": awl_choices(cln_weights, cln_streams, cln)},
    }
    temperatures: dict[str, float] = {}
    if heldout:
        temperatures = read_fit_record(fit_record_path(paths.awl_weights(out, split, "stream_heldout"))).temperatures
        scaled, holdout = calibrated(pair, temperatures), pair.subset("holdout")
        ours = read_score_set(paths.cln_scores(out, split, "heldout"))
        ours_test = _test_scores(ours, ids, paths.cln_scores(out, split, "heldout"))
        ours_scores = ours.scores["fused"] if "fused" in ours.scores else late_fusion(ours.stacked())
        method["AWL [held-out]"], weights, streams = _awl_test_scores(out, split, "stream_heldout", pair, test)
        diagnostics["awl"]["stream_heldout"] = awl_choices(weights, streams, pair)
        method["CLN + AWL [held-out]"], weights, streams = _awl_test_scores(out, split, "cln_heldout", ours, ours_test)
        diagnostics["awl"]["cln_heldout"] = awl_choices(weights, streams, ours)
        method["CLN [held-out]"] = ours_scores[ours_test]
        diagnostics["cln"]["heldout"] = fit_vs_test(ours_scores, ours.labels, ours.roles)
        method["MKL [held-out]"] = _mkl(config, scaled, holdout, test)
        fitted_on["MKL [held-out]"] = [pair.video_ids[i] for i in holdout]
        if config["fusion"]["calibrate"]:
            method["Late [calibrated]"] = late_fusion(scaled.stacked(test))
    diagnostics["streams"] = stream_diagnostics(pair, temperatures)
    rows = {two_stream_name(attention, m): RowScores(ids, labels, scores) for m, scores in method.items()}
    return rows, fitted_on, diagnostics


def _summary(values: dict[int, float]) -> dict[str, Any]:
    return {"splits": {str(s): v for s, v in values.items()}, "mean": float(np.mean(list(values.values())))}


def evaluate(out: str | Path, config: dict[str, Any]) -> tuple[dict[str, Any], pd.DataFrame, dict[str, Any]]:
    """The metrics table (with per-split diagnostics), the per-video predictions and what each evaluation-time fit used."""
    splits = config["dataset"]["splits"]
    order = row_order(config["stream"]["streams"], config["stream"]["attentions"], config["cln"]["attention"],
                      fusion_methods(config["fusion"]))
    primary = metric_for(config["dataset"]["format"])
    secondary = "accuracy" if primary == "mAP" else "mAP"
    values: dict[str, dict[str, dict[int, float]]] = {m: {name: {} for name in order} for m in METRICS}
    predictions, fitted_on, diagnostics = [], {}, {}
    class_names: list[str] = []
    attention = AttentionMetrics(out, config)
    for split in splits:
        rows, class_names, fitted_on[str(split)], diagnostics[str(split)] = split_rows(out, split, config, attention)
        for name in order:
            row = rows[name]
            for metric, function in METRICS.items():
                values[metric][name][split] = function(row.scores, row.labels)
            predictions.append(pd.DataFrame({"split": split, "method": name, "video_id": row.video_ids,
                                             "label": row.labels, "prediction": row.scores.argmax(axis=1)}))
            log.info("split %d  %-40s %s %.4f", split, name, primary, values[primary][name][split])
    metrics = {
        "dataset": config["dataset"]["format"],
        "metric": primary,
        "splits": splits,
        "class_names": class_names,
        "rows": {name: _summary(values[primary][name]) for name in order},
        "secondary": {"metric": secondary, "rows": {name: _summary(values[secondary][name]) for name in order}},
        "top5": {"metric": "top-5 accuracy", "rows": {name: _summary(values["top5"][name]) for name in order}},
        "attention": attention.section(),
        "diagnostics": diagnostics,
    }
    return metrics, pd.concat(predictions, ignore_index=True), fitted_on


def run_evaluate(out: str | Path, metrics_path: str | Path, predictions_path: str | Path,
                 config: dict[str, Any]) -> dict[str, Any]:
    """Evaluate and write ``metrics.json``, the predictions CSV and ``fitted_on.json`` (next to it) atomically."""
    metrics, predictions, fitted_on = evaluate(out, config)
    with atomic_path(predictions_path) as tmp:
        predictions.to_csv(tmp, index=False)
    atomic_write_text(fitted_on_path(predictions_path), json.dumps(fitted_on) + "\n")
    atomic_write_text(metrics_path, json.dumps(metrics, indent=1) + "\n")
    return metrics


def fitted_on_path(predictions_path: str | Path) -> Path:
    """``fitted_on.json`` next to the predictions: per split, the videos early fusion and MKL were fitted on."""
    return Path(predictions_path).with_name("fitted_on.json")
