"""Classification metrics: top-1 and top-k accuracy, per-class average precision and mAP (THUMOS14), confusion matrix."""

from __future__ import annotations

import numpy as np


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of videos whose highest-scoring class is the label; ``scores [V, C]``."""
    return float(np.mean(scores.argmax(axis=1) == labels))


def top_k_accuracy(scores: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Fraction of videos whose label is among their ``k`` highest-scoring classes; ``scores [V, C]``.

    Equal scores rank the lower class first (as ``argmax``), so ``k = 1`` is :func:`accuracy`;
    with ``C <= k`` classes every video counts.
    """
    scores = np.asarray(scores)
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(np.mean((top == np.asarray(labels)[:, None]).any(axis=1)))


def average_precision(scores: np.ndarray, positives: np.ndarray) -> float:
    """Non-interpolated AP of one class: mean precision at the rank of each positive video.

    Videos are ranked by ``scores`` (descending; equal scores keep their input order, as a
    stable sort). This is the THUMOS14 classification measure. NaN without positives.
    """
    positives = np.asarray(positives, dtype=bool)
    if not positives.any():
        return float("nan")
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    hits = positives[order]
    precision_at_k = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision_at_k[hits].mean())


def per_class_ap(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """AP of every class ``[C]`` from ranking the videos by that class's score (NaN: no positive video)."""
    return np.array([average_precision(scores[:, j], labels == j) for j in range(scores.shape[1])])


def mean_average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """mAP over the classes that have at least one positive video."""
    ap = per_class_ap(scores, labels)
    if np.all(np.isnan(ap)):
        raise ValueError("mean_average_precision: no class has a positive video")
    return float(np.nanmean(ap))


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int,
                     normalise: bool = True) -> np.ndarray:
    """``[C, C]`` matrix; entry (i, j) counts videos of class i predicted as j.

    With ``normalise`` each row is divided by its total (the probability of predicting j
    for class i, as in the paper's Fig. 5); rows of absent classes stay zero.
    """
    counts = np.zeros((num_classes, num_classes), dtype=np.float64)
    np.add.at(counts, (np.asarray(labels), np.asarray(predictions)), 1.0)
    if not normalise:
        return counts
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


METRICS = {"accuracy": accuracy, "mAP": mean_average_precision, "top5": top_k_accuracy}


def metric_for(dataset_format: str) -> str:
    """The paper's measure for a dataset: mAP on THUMOS14, accuracy otherwise."""
    return "mAP" if dataset_format == "thumos14" else "accuracy"
