"""Metrics on hand-made scores; AP/mAP against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from tclsta.evaluation.metrics import (
    accuracy,
    average_precision,
    confusion_matrix,
    mean_average_precision,
    metric_for,
    per_class_ap,
)

SCORES = np.array([
    [0.7, 0.2, 0.1],  # label 0, predicted 0
    [0.1, 0.8, 0.1],  # label 1, predicted 1
    [0.5, 0.4, 0.1],  # label 1, predicted 0
    [0.2, 0.3, 0.5],  # label 2, predicted 2
    [0.3, 0.6, 0.1],  # label 0, predicted 1
])
LABELS = np.array([0, 1, 1, 2, 0])


def test_accuracy_on_hand_made_scores() -> None:
    assert accuracy(SCORES, LABELS) == pytest.approx(3 / 5)


def test_average_precision_hand_computation() -> None:
    # class 0 ranking by score: videos 0 (0.7, +), 2 (0.5, −), 4 (0.3, +), 3 (0.2), 1 (0.1)
    # precision at the positives: 1/1 and 2/3 → AP = (1 + 2/3) / 2
    assert average_precision(SCORES[:, 0], LABELS == 0) == pytest.approx((1 + 2 / 3) / 2)
    # class 1 ranking: 1 (0.8, +), 4 (0.6, −), 2 (0.4, +) → (1 + 2/3) / 2
    # class 2 ranking: 3 (0.5, +) first → 1
    np.testing.assert_allclose(per_class_ap(SCORES, LABELS), [(1 + 2 / 3) / 2, (1 + 2 / 3) / 2, 1.0])
    assert mean_average_precision(SCORES, LABELS) == pytest.approx(((1 + 2 / 3) + 1) / 3)


def test_average_precision_perfect_and_worst_ranking() -> None:
    assert average_precision(np.array([3.0, 2.0, 1.0, 0.0]), np.array([1, 1, 0, 0])) == 1.0
    # positives last: precisions 1/3 and 2/4
    assert average_precision(np.array([3.0, 2.0, 1.0, 0.0]), np.array([0, 0, 1, 1])) == pytest.approx((1 / 3 + 2 / 4) / 2)


def test_map_skips_classes_without_positives() -> None:
    scores = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0]])
    labels = np.array([0, 1])
    assert np.isnan(per_class_ap(scores, labels)[2])
    assert mean_average_precision(scores, labels) == 1.0


def test_confusion_matrix_rows_are_probabilities() -> None:
    predictions = SCORES.argmax(axis=1)
    counts = confusion_matrix(LABELS, predictions, 3, normalise=False)
    np.testing.assert_array_equal(counts, [[1, 1, 0], [1, 1, 0], [0, 0, 1]])
    np.testing.assert_allclose(confusion_matrix(LABELS, predictions, 4), [
        [0.5, 0.5, 0, 0], [0.5, 0.5, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]])


def test_metric_per_dataset() -> None:
    assert metric_for("thumos14") == "mAP"
    assert {metric_for(f) for f in ("ucf101", "hmdb51", "ucf50", "synthetic")} == {"accuracy"}


def test_top5_accuracy_hand_computed() -> None:
    from tclsta.evaluation.metrics import top_k_accuracy

    # 7 classes, 4 videos; the label's rank (1-based) by descending score: 1, 5, 6, 3 (tie at rank 2-3,
    # broken toward the lower class as argmax does, puts class 2 third) -> top-5 hits 3 of 4, top-1 1 of 4
    scores = np.array([
        [0.9, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0],  # label 0: rank 1
        [0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1],  # label 4: rank 5
        [0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1],  # label 5: rank 6
        [0.5, 0.2, 0.2, 0.1, 0.0, 0.0, 0.0],  # label 2: tied with class 1, ranked after it: rank 3
    ])
    labels = np.array([0, 4, 5, 2])
    assert top_k_accuracy(scores, labels, k=5) == 0.75
    assert top_k_accuracy(scores, labels, k=1) == accuracy(scores, labels) == 0.25
    assert top_k_accuracy(scores, labels, k=2) == 0.25  # rank 3 is outside the top 2
    assert top_k_accuracy(scores[:, :4], np.array([0, 1, 2, 3]), k=5) == 1.0  # fewer classes than k
