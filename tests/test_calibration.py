"""Temperature scaling, NLL, ECE and the reliability bins against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from tclsta.evaluation.calibration import expected_calibration_error, reliability_bins
from tclsta.fusion.temperature import apply_temperature, fit_temperature, nll


def test_temperature_scaling_by_hand() -> None:
    p = np.array([[0.9, 0.1]])
    # softmax(log p / 2) = (3, 1) / 4: the log-odds log 9 halve to log 3
    np.testing.assert_allclose(apply_temperature(p, 2.0), [[0.75, 0.25]])
    np.testing.assert_allclose(apply_temperature(p, 1.0), p)
    three = np.array([[0.5, 0.25, 0.25]])
    np.testing.assert_allclose(apply_temperature(three, 0.5), [[2 / 3, 1 / 6, 1 / 6]])  # (1/4, 1/16, 1/16) / (3/8)


def test_fitted_temperature_is_the_analytic_optimum() -> None:
    # every video says 0.9 for its top class and is right 3 times in 4: the NLL of σ(log 9 / T) is
    # minimal where σ(log 9 / T) = 0.75, i.e. T = log 9 / log 3 = 2
    p = np.tile([[0.9, 0.1]], (8, 1))
    labels = np.array([0, 0, 0, 1] * 2)
    assert fit_temperature(p, labels) == pytest.approx(2.0, rel=1e-4)
    assert nll(apply_temperature(p, 2.0), labels) < nll(p, labels)
    assert nll(p, labels) == pytest.approx(-(0.75 * np.log(0.9) + 0.25 * np.log(0.1)))


def test_under_confident_scores_get_a_temperature_below_one() -> None:
    p = np.tile([[0.6, 0.4]], (10, 1))
    assert fit_temperature(p, np.zeros(10, dtype=int)) < 0.1  # always right: as sharp as the bounds allow


def test_ece_and_reliability_by_hand() -> None:
    p = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]])
    labels = np.array([0, 1, 0, 1])
    # bin 9 (0.9–1.0): confidence 0.9, accuracy 1/2; bin 6 (0.6–0.7): confidence 0.6, accuracy 1
    bins = reliability_bins(p, labels)
    assert bins["count"][9] == 2 and bins["count"][6] == 2 and sum(bins["count"]) == 4
    assert bins["accuracy"][9] == pytest.approx(0.5) and bins["confidence"][6] == pytest.approx(0.6)
    assert expected_calibration_error(p, labels) == pytest.approx(2 / 4 * 0.4 + 2 / 4 * 0.4)
    # a confidence of exactly 1 falls in the last bin
    assert reliability_bins(np.array([[1.0, 0.0]]), np.array([0]))["count"][9] == 1
    assert expected_calibration_error(np.array([[1.0, 0.0]]), np.array([0])) == pytest.approx(0.0)
