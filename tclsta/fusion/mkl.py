"""ℓp-norm multiple kernel learning (Kloft, Brefeld, Sonnenburg, Zien, JMLR 2011): the paper's MKL fusion.

Each stream's class scores are the features of one kernel ``K_m`` (RBF by default, or
linear). With kernel weights ``θ ≥ 0``, ``‖θ‖_p ≤ 1``, a one-vs-rest SVM with squared hinge
loss (the L2-SVM of :class:`tclsta.fusion.baselines.LinearSVM`) is trained on the combined
kernel ``K = Σ_m θ_m K_m``. The MKL problem ::

    min_θ min_{w,b}  ½ Σ_m ‖w_m‖² / θ_m + C Σ_c Σ_i max(0, 1 − y_ic f_c(x_i))²

is convex; it is solved by Kloft et al.'s alternation: for fixed θ an SVM (here in the kernel
primal, ``f_c = K β_c + b_c``, by Chapelle's primal Newton method), then the closed-form update ::

    θ_m = ‖w_m‖^{2/(p+1)} / (Σ_m' ‖w_m'‖^{2p/(p+1)})^{1/p},   ‖w_m‖² = θ_m² Σ_c β_cᵀ K_m β_c

(one θ shared by the classes), until θ stops moving. ``p = 1`` gives sparse kernel
weights, ``p → ∞`` uniform ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``‖a_i − b_j‖²`` for all pairs, ``[len(a), len(b)]``."""
    return np.maximum((a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T, 0.0)


def median_gamma(x: np.ndarray) -> float:
    """The RBF width heuristic ``γ = 1 / median ‖x_i − x_j‖²`` over distinct training pairs."""
    distances = squared_distances(x, x)[np.triu_indices(len(x), 1)]
    positive = distances[distances > 0]
    return 1.0 / float(np.median(positive)) if len(positive) else 1.0


def kernel(a: np.ndarray, b: np.ndarray, kind: str, gamma: float) -> np.ndarray:
    """``K(a_i, b_j)``: ``exp(−γ‖a_i − b_j‖²)`` (``rbf``) or ``a_i · b_j`` (``linear``)."""
    if kind == "rbf":
        return np.exp(-gamma * squared_distances(a, b))
    if kind == "linear":
        return a @ b.T
    raise ValueError(f"unknown kernel {kind!r} (rbf or linear)")


def one_vs_rest_targets(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """``y [V, C]``: +1 for a video's class, −1 for the others."""
    targets = -np.ones((len(labels), num_classes))
    targets[np.arange(len(labels)), labels] = 1.0
    return targets


def l2svm_newton(x: np.ndarray, y: np.ndarray, c: float, max_iter: int = 100) -> tuple[np.ndarray, float]:
    """Binary L2-SVM ``min ½‖w‖² + C Σ_i max(0, 1 − y_i (x_i·w + b))²`` by Chapelle's primal Newton method.

    ``x [n, r]``, ``y`` ±1. Each step solves the quadratic of the current active set
    (the videos inside the margin) exactly, with step halving to guarantee descent; it stops
    when the objective no longer decreases. Returns ``[w; b]`` and the objective.
    """
    design = np.hstack([x, np.ones((len(x), 1))])
    regular = np.ones(design.shape[1])
    regular[-1] = 0.0  # the bias is not regularised

    def objective(v: np.ndarray) -> float:
        violation = np.maximum(0.0, 1 - y * (design @ v))
        return float(0.5 * np.sum(regular * v**2) + c * np.sum(violation**2))

    v = np.zeros(design.shape[1])
    current = objective(v)
    for _ in range(max_iter):
        active = y * (design @ v) < 1
        hessian = np.diag(regular + 1e-12) + 2 * c * design[active].T @ design[active]
        step = np.linalg.solve(hessian, 2 * c * design[active].T @ y[active]) - v
        t = 1.0
        while objective(v + t * step) > current and t > 1e-10:
            t /= 2
        v = v + t * step
        new = objective(v)
        if current - new <= 1e-14 * max(1.0, abs(current)):
            break
        current = new
    return v, objective(v)


def kernel_svm(k: np.ndarray, targets: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray, float]:
    """One-vs-rest L2-SVM on a fixed kernel; returns ``β [V, C]`` (``f = K β + b``), ``b [C]`` and the objective.

    Objective: ``Σ_c ½ ‖w_c‖² + C Σ_i max(0, 1 − y_ic f_c(x_i))²``. It is solved on the
    kernel's explicit feature map ``Φ = U Λ^{1/2}`` (``K = U Λ Uᵀ``, eigenvalues below 1e-10 of
    the largest dropped), where each class is a linear L2-SVM (:func:`l2svm_newton`);
    ``β = U Λ^{-1/2} w``.
    """
    eigenvalues, vectors = np.linalg.eigh((k + k.T) / 2)
    keep = eigenvalues > 1e-10 * max(float(eigenvalues.max()), 1e-300)
    root = np.sqrt(eigenvalues[keep])
    features = vectors[:, keep] * root
    solutions = [l2svm_newton(features, targets[:, j], c) for j in range(targets.shape[1])]
    w = np.stack([v[:-1] for v, _ in solutions], axis=1)
    bias = np.array([v[-1] for v, _ in solutions])
    return vectors[:, keep] @ (w / root[:, None]), bias, float(sum(value for _, value in solutions))


def update_weights(block_norms: np.ndarray, p: float) -> np.ndarray:
    """Kloft et al.'s closed-form θ for fixed ``‖w_m‖`` (``block_norms``): on the unit ℓp sphere."""
    norms = np.maximum(block_norms, 1e-300)
    theta = norms ** (2 / (p + 1))
    return theta / (np.sum(norms ** (2 * p / (p + 1))) ** (1 / p))


@dataclass
class LpMKL:
    """ℓp-norm MKL over one kernel per feature block (here: per stream), one-vs-rest L2-SVM."""

    p: float = 2.0
    c: float = 1.0
    kind: str = "rbf"
    max_rounds: int = 100
    tol: float = 1e-5
    theta: np.ndarray | None = None
    gammas: list[float] = field(default_factory=list)
    history: list[float] = field(default_factory=list)  # the SVM objective after each θ
    _train: list[np.ndarray] = field(default_factory=list, repr=False)
    _beta: np.ndarray | None = field(default=None, repr=False)
    _bias: np.ndarray | None = field(default=None, repr=False)

    def kernels(self, blocks: list[np.ndarray], other: list[np.ndarray] | None = None) -> list[np.ndarray]:
        """``K_m(blocks, other)`` for every block (``other`` defaults to ``blocks``)."""
        other = blocks if other is None else other
        return [kernel(a, b, self.kind, g) for a, b, g in zip(other, blocks, self.gammas)]

    def fit(self, blocks: list[np.ndarray], labels: np.ndarray, num_classes: int) -> LpMKL:
        """Train on ``blocks`` (one ``[V, D_m]`` feature matrix per kernel) with integer ``labels``."""
        if self.p < 1:
            raise ValueError(f"ℓp-norm MKL needs p ≥ 1, got {self.p}")
        self._train = [np.asarray(b, dtype=np.float64) for b in blocks]
        self.gammas = [median_gamma(b) if self.kind == "rbf" else 1.0 for b in self._train]
        kernels = self.kernels(self._train)
        targets = one_vs_rest_targets(np.asarray(labels), num_classes)
        theta = np.full(len(kernels), len(kernels) ** (-1 / self.p))  # uniform, on the unit ℓp sphere
        self.history = []
        for _ in range(self.max_rounds):
            beta, bias, value = kernel_svm(sum(t * k for t, k in zip(theta, kernels)), targets, self.c)
            self.history.append(value)
            norms = np.sqrt([t**2 * np.sum(beta * (k @ beta)) for t, k in zip(theta, kernels)])
            new = update_weights(norms, self.p)
            moved = float(np.abs(new - theta).max())
            theta = new
            if moved < self.tol:
                break
        self.theta = theta
        self._beta, self._bias, value = kernel_svm(sum(t * k for t, k in zip(theta, kernels)), targets, self.c)
        self.history.append(value)
        return self

    def decision_function(self, blocks: list[np.ndarray]) -> np.ndarray:
        """One-vs-rest decision values ``[V, C]`` of new videos."""
        if self.theta is None or self._beta is None:
            raise RuntimeError("LpMKL.decision_function called before fit")
        cross = self.kernels(self._train, [np.asarray(b, dtype=np.float64) for b in blocks])
        return sum(t * k for t, k in zip(self.theta, cross)) @ self._beta + self._bias
