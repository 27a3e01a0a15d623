"""ℓp-norm MKL (Kloft et al. 2011) against a brute-force grid over the kernel weights with the same SVM."""

from __future__ import annotations

import numpy as np
import pytest

from tclsta.config import validate
from tclsta.errors import ConfigError
from tclsta.fusion.mkl import (FeatureMap, LpMKL, kernel, kernel_svm, l2svm_newton, median_gamma, one_vs_rest_targets,
                               stratified_landmarks, with_bias)


def _problem(seed: int = 0, n: int = 24, signal: float = 1.0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    informative = rng.normal(size=(n, 3)) + signal * np.eye(3)[labels]
    noise = rng.normal(size=(n, 3))
    return [informative, noise], labels


def test_newton_l2svm_is_the_optimum() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 4)), np.where(rng.random(30) > 0.5, 1.0, -1.0)
    design = with_bias(x)
    v, value = l2svm_newton(design, y, c=0.7)

    def objective(u: np.ndarray) -> float:
        return 0.5 * np.sum(u[:-1] ** 2) + 0.7 * np.sum(np.maximum(0, 1 - y * (design @ u)) ** 2)

    assert value == pytest.approx(objective(v))
    for _ in range(200):  # no random nearby point is lower
        assert objective(v + rng.normal(scale=1e-3, size=v.shape)) >= value - 1e-12


@pytest.mark.parametrize("rank", [None, 1000])  # exact; Nyström with every video a landmark
@pytest.mark.parametrize("p", [1.0, 2.0])
def test_mkl_matches_a_grid_over_kernel_weights(p: float, rank: int | None) -> None:
    blocks, labels = _problem()
    mkl = LpMKL(p=p, c=1.0, kind="rbf", rank=rank).fit(blocks, labels, 3)
    kernels, targets = mkl.kernels(blocks), one_vs_rest_targets(labels, 3)
    assert np.sum(mkl.theta**p) ** (1 / p) == pytest.approx(1.0)
    # the same SVM at every θ on the unit ℓp sphere: θ = (cos φ^(2/p), sin φ^(2/p))
    grid = []
    for phi in np.linspace(0, np.pi / 2, 121):
        theta = np.array([np.cos(phi) ** (2 / p), np.sin(phi) ** (2 / p)])
        grid.append((kernel_svm(theta[0] * kernels[0] + theta[1] * kernels[1], targets, 1.0)[2], theta))
    best_value, best_theta = min(grid, key=lambda item: item[0])
    assert mkl.history[-1] <= best_value + 1e-6
    np.testing.assert_allclose(mkl.theta, best_theta, atol=0.02)
    assert mkl.theta[0] > mkl.theta[1]  # the informative kernel weighs more


def test_mkl_predicts_new_videos() -> None:
    blocks, labels = _problem(seed=2, n=90, signal=2.5)
    mkl = LpMKL(p=2.0).fit([b[:60] for b in blocks], labels[:60], 3)
    accuracy = np.mean(mkl.decision_function([b[60:] for b in blocks]).argmax(axis=1) == labels[60:])
    assert accuracy > 0.75  # chance 1/3
    with pytest.raises(ValueError, match="p ≥ 1"):
        LpMKL(p=0.5).fit(blocks, labels, 3)


@pytest.mark.parametrize("kind", ["rbf", "linear"])
@pytest.mark.parametrize("p", [1.0, 2.0, 4.0])
def test_low_rank_with_every_video_a_landmark_equals_exact(kind: str, p: float) -> None:
    blocks, labels = _problem(seed=3, n=60, signal=1.5)
    train, test = [b[:45] for b in blocks], [b[45:] for b in blocks]
    exact = LpMKL(p=p, kind=kind, rank=None).fit(train, labels[:45], 3)
    for rank in (45, 1000):
        low = LpMKL(p=p, kind=kind, rank=rank).fit(train, labels[:45], 3)
        np.testing.assert_allclose(low.theta, exact.theta, atol=1e-9)
        np.testing.assert_allclose(low.history, exact.history, rtol=1e-9)
        np.testing.assert_allclose(low.decision_function(test), exact.decision_function(test), atol=1e-7)


def test_linear_kernel_is_exact_at_any_rank() -> None:
    blocks, labels = _problem(seed=4, n=60, signal=1.5)
    exact = LpMKL(kind="linear", rank=None).fit(blocks, labels, 3)
    low = LpMKL(kind="linear", rank=5).fit(blocks, labels, 3)  # the features are the map: no landmarks
    np.testing.assert_allclose(low.theta, exact.theta, atol=1e-7)
    np.testing.assert_allclose(low.decision_function(blocks), exact.decision_function(blocks), atol=1e-6)


def test_nystrom_error_falls_with_rank() -> None:
    blocks, labels = _problem(seed=5, n=150)
    x = blocks[0]
    gamma = median_gamma(x)
    full = kernel(x, x, "rbf", gamma)
    errors = []
    for rank in (5, 15, 40, 100, 150):
        chosen = stratified_landmarks(labels, rank, seed=0)  # nested: a larger rank adds landmarks
        features = FeatureMap.fit(x[chosen], "rbf", gamma)(x)
        errors.append(np.linalg.norm(full - features @ features.T) / np.linalg.norm(full))
        # exact on the landmarks themselves
        np.testing.assert_allclose((features @ features.T)[np.ix_(chosen, chosen)], full[np.ix_(chosen, chosen)],
                                   atol=1e-6)
    assert all(later < earlier for earlier, later in zip(errors, errors[1:]))
    assert errors[0] > 0.05 and errors[-1] < 1e-6


def test_low_rank_predicts_like_exact() -> None:
    blocks, labels = _problem(seed=6, n=300, signal=2.0)
    train, test = [b[:200] for b in blocks], [b[200:] for b in blocks]
    exact = LpMKL(rank=None).fit(train, labels[:200], 3)
    low = LpMKL(rank=60).fit(train, labels[:200], 3)
    same = np.mean(low.decision_function(test).argmax(1) == exact.decision_function(test).argmax(1))
    assert same >= 0.95
    np.testing.assert_allclose(low.theta, exact.theta, atol=0.02)


def test_landmarks_are_stratified_and_seeded() -> None:
    labels = np.repeat([0, 1, 2, 3], [40, 10, 25, 5])
    chosen = stratified_landmarks(labels, 22, seed=7)
    assert len(set(chosen.tolist())) == 22
    counts = np.bincount(labels[chosen], minlength=4)
    assert counts[3] == 5 and sorted(counts[:3]) == [5, 6, 6]  # equal up to one; class 3 has only 5
    np.testing.assert_array_equal(chosen, stratified_landmarks(labels, 22, seed=7))
    assert not np.array_equal(chosen, stratified_landmarks(labels, 22, seed=8))
    np.testing.assert_array_equal(stratified_landmarks(labels, 500, seed=7), np.arange(80))
    with pytest.raises(ValueError, match="rank"):
        LpMKL(rank=0).fit(*_problem(), 3)


def test_config_rank() -> None:
    assert validate({})["mkl"]["rank"] == 1000
    assert validate({"mkl": {"rank": None}})["mkl"]["rank"] is None
    with pytest.raises(ConfigError):
        validate({"mkl": {"rank": 0}})
