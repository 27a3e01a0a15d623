"""ℓp-norm MKL (Kloft et al. 2011) against a brute-force grid over the kernel weights with the same SVM."""

from __future__ import annotations

import numpy as np
import pytest

from tclsta.fusion.mkl import LpMKL, kernel_svm, l2svm_newton, one_vs_rest_targets


def _problem(seed: int = 0, n: int = 24, signal: float = 1.0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    informative = rng.normal(size=(n, 3)) + signal * np.eye(3)[labels]
    noise = rng.normal(size=(n, 3))
    return [informative, noise], labels


def test_newton_l2svm_is_the_optimum() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 4)), np.where(rng.random(30) > 0.5, 1.0, -1.0)
    v, value = l2svm_newton(x, y, c=0.7)
    design = np.hstack([x, np.ones((30, 1))])

    def objective(u: np.ndarray) -> float:
        return 0.5 * np.sum(u[:-1] ** 2) + 0.7 * np.sum(np.maximum(0, 1 - y * (design @ u)) ** 2)

    assert value == pytest.approx(objective(v))
    for _ in range(200):  # no random nearby point is lower
        assert objective(v + rng.normal(scale=1e-3, size=v.shape)) >= value - 1e-12


@pytest.mark.parametrize("p", [1.0, 2.0])
def test_mkl_matches_a_grid_over_kernel_weights(p: float) -> None:
    blocks, labels = _problem()
    mkl = LpMKL(p=p, c=1.0, kind="rbf").fit(blocks, labels, 3)
    kernels, targets = mkl.kernels(mkl._train), one_vs_rest_targets(labels, 3)
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
