"""Temperature scaling of a stream's class scores (Guo et al. 2017), fitted on videos it did not train on.

A stream's score for a video is a probability vector ``p``; its temperature-scaled version
is ``softmax(log p / T)``. ``T > 1`` softens an over-confident stream, ``T < 1`` sharpens an
under-confident one, and the ranking of the classes (so the stream's own accuracy) never
changes. ``T`` minimises the negative log-likelihood of the fitting videos' labels — a
one-dimensional convex problem in ``log T``, solved with a bounded scalar search.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

LOG_FLOOR = 1e-12  # probabilities are clipped here before the log (a cached score can be exactly 0)
LOG_T_BOUNDS = (-4.0, 4.0)  # T in [e^-4, e^4] ≈ [0.018, 55]


def log_scores(probabilities: np.ndarray) -> np.ndarray:
    """``log p`` with ``p`` clipped to ``LOG_FLOOR``: the logits a probability vector stands for."""
    return np.log(np.clip(np.asarray(probabilities, dtype=np.float64), LOG_FLOOR, None))


def scaled_log_probabilities(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """``log softmax(log p / T)`` row by row, ``[V, C]``."""
    return log_softmax(log_scores(probabilities) / temperature, axis=1)


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log p / T)`` row by row, ``[V, C]``."""
    return np.exp(scaled_log_probabilities(probabilities, temperature))


def nll(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of the labels, ``−mean_i log p_i[y_i]``."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    picked = probabilities[np.arange(len(labels)), np.asarray(labels)]
    return float(-np.mean(np.log(np.clip(picked, LOG_FLOOR, None))))


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The ``T`` that minimises the NLL of ``softmax(log p / T)`` on these videos."""
    if len(labels) == 0:
        raise ValueError("fit_temperature: no videos to fit on")
    rows, labels = np.arange(len(labels)), np.asarray(labels)

    def loss(log_t: float) -> float:
        return float(-scaled_log_probabilities(probabilities, float(np.exp(log_t)))[rows, labels].mean())

    result = minimize_scalar(loss, bounds=LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-6})
    return float(np.exp(result.x))
