"""Diagnostics of the fusion inputs: calibration (NLL, ECE, reliability), fit vs test accuracy, AWL choices.

Expected calibration error (Guo et al. 2017): the videos are binned by their confidence
(the top class probability) into ``bins`` equal-width bins of [0, 1] (a confidence of exactly
1 falls in the last bin, of exactly b/bins in bin b), and
``ECE = Σ_b (n_b / n) · |accuracy_b − confidence_b|``. A stream that is right 60 % of the
time when it says 90 % is over-confident by 0.3 in that bin.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tclsta.fusion.scores import ScoreSet
from tclsta.fusion.temperature import apply_temperature, nll

ECE_BINS = 10


def reliability_bins(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> dict[str, list]:
    """Per confidence bin: mean confidence, accuracy and count (empty bins: count 0, NaN means)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(which, weights=confidence, minlength=bins) / counts
        acc = np.bincount(which, weights=correct.astype(float), minlength=bins) / counts
    return {"confidence": conf.tolist(), "accuracy": acc.tolist(), "count": counts.tolist()}


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """``Σ_b (n_b / n) |accuracy_b − confidence_b|`` over equal-width confidence bins."""
    table = reliability_bins(probabilities, labels, bins)
    counts = np.asarray(table["count"], dtype=float)
    gaps = np.abs(np.asarray(table["accuracy"]) - np.asarray(table["confidence"]))
    return float(np.sum(counts[counts > 0] * gaps[counts > 0]) / counts.sum())


def summary(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy, NLL and ECE of one set of scores."""
    return {"videos": int(len(labels)), "accuracy": float(np.mean(probabilities.argmax(axis=1) == labels)),
            "nll": nll(probabilities, labels), "ece": expected_calibration_error(probabilities, labels)}


def stream_diagnostics(scores: ScoreSet, temperatures: dict[str, float]) -> dict[str, Any]:
    """Per stream: accuracy/NLL/ECE on its fitted, held-out and test videos; on test also after temperature scaling.

    Also the test reliability bins, raw and scaled (the reliability diagram).
    """
    out: dict[str, Any] = {}
    test = scores.subset("test")
    for stream, probabilities in scores.scores.items():
        labels = scores.labels
        entry: dict[str, Any] = {role: summary(probabilities[index], labels[index])
                                 for role in ("train", "holdout", "test") if len(index := scores.subset(role))}
        entry["reliability"] = {"raw": reliability_bins(probabilities[test], labels[test])}
        if stream in temperatures:
            scaled = apply_temperature(probabilities[test], temperatures[stream])
            entry["temperature"] = temperatures[stream]
            entry["test_scaled"] = summary(scaled, labels[test])
            entry["reliability"]["scaled"] = reliability_bins(scaled, labels[test])
        out[stream] = entry
    return out


def fit_vs_test(scores: np.ndarray, labels: np.ndarray, roles: list[str]) -> dict[str, float]:
    """Accuracy of a fused score ``[V, C]`` on each role present (train / holdout / test)."""
    roles_array = np.asarray(roles)
    return {role: float(np.mean(scores[roles_array == role].argmax(axis=1) == labels[roles_array == role]))
            for role in ("train", "holdout", "test") if np.any(roles_array == role)}


def awl_choices(weights: np.ndarray, streams: list[str], scores: ScoreSet) -> list[dict[str, Any]]:
    """Per class: the stream the LP weighted most, against each stream's test accuracy on that class."""
    test = scores.subset("test")
    labels = scores.labels[test]
    predictions = {s: scores.scores[s][test].argmax(axis=1) for s in streams}
    rows = []
    for j, name in enumerate(scores.class_names):
        members = labels == j
        rows.append({"class": name, "chosen": streams[int(weights[j].argmax())],
                     "weights": [float(w) for w in weights[j]],
                     "test_accuracy": {s: float(np.mean(predictions[s][members] == j)) if members.any() else None
                                       for s in streams}})
    return rows
