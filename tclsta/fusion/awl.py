"""Adaptively weighted learning (paper Section III-B.2, Eq. 10–14).

For every class j a linear programme over the stream weights ``W_j`` ::

    maximise  W_j · c_j,   c_j = Σ_{i∈j} S_i[:, j] − λ Σ_{i∉j} S_i[:, j]     (Eq. 13)
    s.t.      Σ_m w_{j,m} = 1,  w_{j,m} ≥ ε

solved with ``scipy.optimize.linprog`` (HiGHS). A linear objective on this simplex is
maximised at a vertex: the stream with the larger ``c_j[m]`` gets ``1 − ε`` (for two
streams) and the other ``ε`` — one stream per class, except at exact ties.
Prediction (Eq. 14): ``argmax_j W_j S_t[:, j]``.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.optimize import linprog

from tclsta.atomic import atomic_path
from tclsta.errors import DatasetError, TclstaError

def class_objective(scores: np.ndarray, labels: np.ndarray, j: int, lam: float) -> np.ndarray:
    """The coefficient vector ``c_j`` of Eq. 13: ``scores [V, S, C]`` (S streams), ``labels [V]`` → ``[S]``."""
    column = scores[:, :, j]
    positive = labels == j
    return column[positive].sum(axis=0) - lam * column[~positive].sum(axis=0)


def solve_class(objective: np.ndarray, epsilon: float) -> np.ndarray:
    """Maximise ``w · objective`` over ``{w : Σ w = 1, w ≥ ε}`` with HiGHS; returns ``w [S]``."""
    n = len(objective)
    if epsilon * n > 1:
        raise TclstaError(f"awl.epsilon={epsilon} is infeasible for {n} streams (needs ε·{n} ≤ 1)")
    result = linprog(
        c=-np.asarray(objective, dtype=np.float64),
        A_eq=np.ones((1, n)),
        b_eq=[1.0],
        bounds=[(epsilon, None)] * n,
        method="highs",
    )
    if not result.success:
        raise TclstaError(f"AWL linear programme failed: {result.message}")
    return result.x


def solve_awl(scores: np.ndarray, labels: np.ndarray, lam: float, epsilon: float) -> np.ndarray:
    """Fusion weights ``W [C, S]`` from training scores ``[V, S, C]`` (one LP per class, Eq. 13)."""
    num_classes = scores.shape[2]
    return np.stack([solve_class(class_objective(scores, labels, j, lam), epsilon) for j in range(num_classes)])


def fuse(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Fused class scores ``[V, C]``: entry (t, j) is ``W_j S_t[:, j]`` (Eq. 14 before the argmax)."""
    return np.einsum("vsc,cs->vc", scores, weights)


def predict(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Eq. 14: the predicted class of each test video, ``argmax_j W_j S_t[:, j]``."""
    return fuse(scores, weights).argmax(axis=1)


def weight_columns(streams: Sequence[str]) -> list[str]:
    """Column names of a weights CSV: ``w_static``, ``w_motion`` (and ``w_fused`` for a CLN with a fused head)."""
    return [f"w_{stream}" for stream in streams]


def write_weights(path: str | Path, class_names: Sequence[str], weights: np.ndarray,
                  streams: Sequence[str] = ("static", "motion")) -> None:
    """Write ``weights [C, S]`` as CSV (class_name, w_<stream>…), atomically."""
    if weights.shape != (len(class_names), len(streams)):
        raise ValueError(f"weights shape {weights.shape} does not match {len(class_names)} classes × "
                         f"{len(streams)} streams")
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["class_name", *weight_columns(streams)])
        for name, row in zip(class_names, weights):
            writer.writerow([name, *(f"{w:.9g}" for w in row)])


def read_weights(path: str | Path, class_names: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Read a weights CSV; checks that it lists exactly ``class_names`` in order. Returns ``[C, S]`` and the streams."""
    path = Path(path)
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            streams = [c[2:] for c in reader.fieldnames or [] if c.startswith("w_")]
        names = [row["class_name"] for row in rows]
        weights = np.array([[float(row[f"w_{s}"]) for s in streams] for row in rows])
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise DatasetError(f"{path}: not a readable AWL weights CSV ({err})") from err
    if len(streams) < 2:
        raise DatasetError(f"{path}: not an AWL weights CSV (needs w_<stream> columns)")
    if names != list(class_names):
        raise DatasetError(f"{path}: classes {names[:3]}… do not match the scores' classes {list(class_names)[:3]}…")
    return weights, streams
