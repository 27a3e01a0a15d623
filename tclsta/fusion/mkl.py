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

That exact path (``rank=None``) costs O(V³) per θ round plus Newton steps in up to V dimensions
per class: days at UCF101 size as first written. By default (``rank``, config ``mkl.rank``)
each RBF kernel gets a Nyström feature map on ``rank`` class-stratified training videos, ``Φ_m = K_{V,L} U Λ^{-1/2}``
(``K_m ≈ Φ_m Φ_mᵀ``; a linear kernel's map is its features, exact), and the SVM for fixed θ
is linear on ``Φ = [√θ_1 Φ_1, √θ_2 Φ_2]``, warm-started from the last round. Its weights
``v = [v_1; v_2]`` give ``w_m = √θ_m v_m`` (so ``½ ‖v‖² = ½ Σ_m ‖w_m‖² / θ_m``) and
``‖w_m‖² = θ_m ‖v_m‖²``, which is ``θ_m² Σ_c β_cᵀ K_m β_c`` when ``v = Φᵀ β``. With every
training video a landmark the map is exact and the results equal the exact path's (tested).
``benchmarks/mkl.py`` (2 cores, 101 classes): exact as first written 251 CPU s at 500 videos,
~41 h extrapolated to UCF101's 9,537; exact today 369 s wall at 2,000; rank 1000: 10 s at
2,000 (99.8 % of test predictions as the exact path's), 80 s at 9,537, 125 s at 15,000 (THUMOS14).
"""

from __future__ import annotations

from collections.abc import Callable
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


def with_bias(x: np.ndarray) -> np.ndarray:
    """The L2-SVM design ``[x, 1]``: the bias is the last coordinate."""
    return np.hstack([x, np.ones((len(x), 1))])


def active_set_minimum(design: np.ndarray, y: np.ndarray, active: np.ndarray, c: float,
                       gram: np.ndarray | None = None) -> np.ndarray:
    """``[w; b]`` minimising ``½‖w‖² + C Σ_{i active} (y_i − x_i·w − b)²``: one Newton step's target.

    ``y`` is ``[V]`` or ``[V, C]`` (``C`` targets sharing the active set: ``[w; b]`` is then ``[r + 1, C]``).
    Solved where it is smaller: with fewer active videos than dimensions, in the active videos'
    span (``w = X_Aᵀ α``, ``[[X_A X_Aᵀ + I/2C, 1], [1ᵀ, 0]] [α; b] = [y_A; 0]``, Chapelle's kernel
    form); otherwise in the primal, ``(I' + 2C X_Aᵀ X_A) [w; b] = 2C X_Aᵀ y_A`` (``I'`` without
    the bias), where ``gram = designᵀ design`` lets ``X_Aᵀ X_A`` come from the inactive videos.
    """
    rows = design[active]
    if 0 < len(rows) < design.shape[1]:
        x = rows[:, :-1]
        system = np.zeros((len(rows) + 1, len(rows) + 1))
        system[:-1, :-1] = x @ x.T + np.eye(len(rows)) / (2 * c)
        system[:-1, -1] = system[-1, :-1] = 1.0
        solution = np.linalg.solve(system, np.concatenate([y[active], np.zeros((1,) + y.shape[1:])]))
        return np.concatenate([x.T @ solution[:-1], solution[-1:]])
    if gram is not None and 2 * len(rows) > len(design):
        inactive = design[~active]
        second = gram - inactive.T @ inactive
    else:
        second = rows.T @ rows
    hessian = 2 * c * second
    hessian[np.diag_indices_from(hessian)] += 1.0
    hessian[-1, -1] -= 1.0 - 1e-12  # the bias is not regularised
    return np.linalg.solve(hessian, 2 * c * rows.T @ y[active])


def l2svm_newton(design: np.ndarray, y: np.ndarray, c: float, gram: np.ndarray | None = None,
                 start: np.ndarray | None = None, max_iter: int = 100) -> tuple[np.ndarray, float]:
    """Binary L2-SVM ``min ½‖w‖² + C Σ_i max(0, 1 − y_i (x_i·w + b))²`` by Chapelle's primal Newton method.

    ``design = [x, 1]`` (:func:`with_bias`), ``y`` ±1; returns ``[w; b]`` and the objective. Each
    step goes to the minimum of the current active set's quadratic (the videos inside the margin,
    :func:`active_set_minimum`), with step halving to guarantee descent; it stops when a full step
    keeps the active set (then it is optimal) or the objective no longer decreases. ``start``
    warm-starts it; ``gram = designᵀ design`` is shared by the classes of one design.
    """

    def objective(v: np.ndarray) -> float:
        violation = np.maximum(0.0, 1 - y * (design @ v))
        return float(0.5 * np.sum(v[:-1] ** 2) + c * np.sum(violation**2))

    v = np.zeros(design.shape[1]) if start is None else start
    current = objective(v)
    active = y * (design @ v) < 1
    for _ in range(max_iter):
        step = active_set_minimum(design, y, active, c, gram) - v
        t = 1.0
        while objective(v + t * step) > current and t > 1e-10:
            t /= 2
        v = v + t * step
        new = objective(v)
        used = active
        active = y * (design @ v) < 1
        if (t == 1.0 and np.array_equal(active, used)) or current - new <= 1e-14 * max(1.0, abs(current)):
            break  # the minimum of the active set's quadratic, with the same active set: optimal
        current = new
    return v, objective(v)


def one_vs_rest_svm(x: np.ndarray, targets: np.ndarray, c: float, start: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray, float]:
    """One-vs-rest linear L2-SVM on features ``x [V, r]``: ``w [r, C]``, ``b [C]`` and the summed objective.

    One design and one Gram matrix serve every class (:func:`l2svm_newton`); ``start`` is a
    previous ``[w; b]`` (``[r + 1, C]``) to warm-start from. Without one, every class starts at
    its first Newton step from 0 (every video active, one system for all classes).
    """
    design = with_bias(x)
    gram = design.T @ design
    if start is None:
        start = active_set_minimum(design, targets, np.ones(len(design), dtype=bool), c, gram)
    solutions = [l2svm_newton(design, targets[:, j], c, gram, start[:, j]) for j in range(targets.shape[1])]
    v = np.stack([v for v, _ in solutions], axis=1)
    return v[:-1], v[-1], float(sum(value for _, value in solutions))


def positive_spectrum(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues and eigenvectors of the symmetric ``k``, those below 1e-10 of the largest dropped."""
    eigenvalues, vectors = np.linalg.eigh(k)
    keep = eigenvalues > 1e-10 * max(float(eigenvalues.max()), 1e-300)
    return eigenvalues[keep], vectors[:, keep]


def kernel_svm(k: np.ndarray, targets: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray, float]:
    """One-vs-rest L2-SVM on a fixed kernel; returns ``β [V, C]`` (``f = K β + b``), ``b [C]`` and the objective.

    Objective: ``Σ_c ½ ‖w_c‖² + C Σ_i max(0, 1 − y_ic f_c(x_i))²``. It is solved on the
    kernel's explicit feature map ``Φ = U Λ^{1/2}`` (``K = U Λ Uᵀ``, eigenvalues below 1e-10 of
    the largest dropped), where each class is a linear L2-SVM (:func:`one_vs_rest_svm`);
    ``β = U Λ^{-1/2} w``.
    """
    eigenvalues, vectors = positive_spectrum((k + k.T) / 2)
    root = np.sqrt(eigenvalues)
    w, bias, value = one_vs_rest_svm(vectors * root, targets, c)
    return vectors @ (w / root[:, None]), bias, value


def stratified_landmarks(labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Indices of ``count`` training videos (all if fewer), drawn from the classes in turn, seeded.

    Each turn takes one more video of every class (random within a class, the classes in a
    random order), so the classes are represented equally up to one video.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    order = order[np.argsort(labels[order], kind="stable")]  # by class, random within a class
    turn = np.arange(len(order)) - np.searchsorted(labels[order], labels[order])  # place within its class
    chosen = order[np.lexsort((rng.random(len(order)), turn))][:count]
    return np.sort(chosen)


@dataclass
class FeatureMap:
    """One kernel's explicit feature map ``Φ(x)`` with ``Φ(a) Φ(b)ᵀ ≈ K(a, b)``.

    ``linear``: the features themselves (exact). ``rbf``: Nyström on ``landmarks``,
    ``Φ(x) = K(x, L) U Λ^{-1/2}`` (``K(L, L) = U Λ Uᵀ``, eigenvalues below 1e-10 of the largest
    dropped); exact on the landmarks, so exact on the training videos when they all are landmarks.
    """

    kind: str
    gamma: float
    landmarks: np.ndarray | None = None
    projection: np.ndarray | None = None

    @classmethod
    def fit(cls, landmarks: np.ndarray, kind: str, gamma: float) -> FeatureMap:
        """The map of kernel ``kind`` with width ``gamma`` on ``landmarks [L, D]``."""
        if kind == "linear":
            return cls(kind, gamma)
        eigenvalues, vectors = positive_spectrum(kernel(landmarks, landmarks, kind, gamma))
        return cls(kind, gamma, landmarks, vectors / np.sqrt(eigenvalues))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``Φ(x) [V, r]``."""
        if self.landmarks is None:
            return x
        return kernel(x, self.landmarks, self.kind, self.gamma) @ self.projection


def update_weights(block_norms: np.ndarray, p: float) -> np.ndarray:
    """Kloft et al.'s closed-form θ for fixed ``‖w_m‖`` (``block_norms``): on the unit ℓp sphere."""
    norms = np.maximum(block_norms, 1e-300)
    theta = norms ** (2 / (p + 1))
    return theta / (np.sum(norms ** (2 * p / (p + 1))) ** (1 / p))


@dataclass
class LpMKL:
    """ℓp-norm MKL over one kernel per feature block (here: per stream), one-vs-rest L2-SVM.

    ``rank``: at most this many landmarks (training videos) per RBF kernel's Nyström map, the SVM
    then linear on ``Φ = [√θ_1 Φ_1, √θ_2 Φ_2, …]``; ``None`` solves on the full kernels (the
    reference, O(V³) per θ round). With ``rank`` ≥ the training videos it equals the full path.
    """

    p: float = 2.0
    c: float = 1.0
    kind: str = "rbf"
    rank: int | None = 1000
    seed: int = 0
    max_rounds: int = 100
    tol: float = 1e-5
    theta: np.ndarray | None = None
    gammas: list[float] = field(default_factory=list)
    history: list[float] = field(default_factory=list)  # the SVM objective after each θ
    _train: list[np.ndarray] = field(default_factory=list, repr=False)
    _beta: np.ndarray | None = field(default=None, repr=False)
    _maps: list[FeatureMap] = field(default_factory=list, repr=False)
    _weights: list[np.ndarray] = field(default_factory=list, repr=False)  # w_m = √θ_m v_m, [r_m, C] each
    _bias: np.ndarray | None = field(default=None, repr=False)

    def kernels(self, blocks: list[np.ndarray], other: list[np.ndarray] | None = None) -> list[np.ndarray]:
        """``K_m(blocks, other)`` for every block (``other`` defaults to ``blocks``)."""
        other = blocks if other is None else other
        return [kernel(a, b, self.kind, g) for a, b, g in zip(other, blocks, self.gammas)]

    def fit(self, blocks: list[np.ndarray], labels: np.ndarray, num_classes: int) -> LpMKL:
        """Train on ``blocks`` (one ``[V, D_m]`` feature matrix per kernel) with integer ``labels``."""
        if self.p < 1:
            raise ValueError(f"ℓp-norm MKL needs p ≥ 1, got {self.p}")
        if self.rank is not None and self.rank < 1:
            raise ValueError(f"MKL rank must be ≥ 1 or None (exact), got {self.rank}")
        labels = np.asarray(labels)
        blocks = [np.asarray(b, dtype=np.float64) for b in blocks]
        targets = one_vs_rest_targets(labels, num_classes)
        if self.rank is None:
            self._fit_exact(blocks, targets)
        else:
            self._fit_low_rank(blocks, labels, targets)
        return self

    def _rounds(self, solve: Callable[[np.ndarray], tuple], block_norms: Callable[[np.ndarray, tuple], np.ndarray]
                ) -> tuple:
        """Kloft's alternation from uniform θ: ``solve(θ)`` an SVM, then θ from ``block_norms(θ, solution)``."""
        theta = np.full(len(self.gammas), len(self.gammas) ** (-1 / self.p))  # uniform, on the unit ℓp sphere
        self.history = []
        for _ in range(self.max_rounds):
            solution = solve(theta)
            self.history.append(solution[-1])
            new = update_weights(block_norms(theta, solution), self.p)
            moved = float(np.abs(new - theta).max())
            theta = new
            if moved < self.tol:
                break
        self.theta = theta
        solution = solve(theta)
        self.history.append(solution[-1])
        return solution

    def _fit_exact(self, blocks: list[np.ndarray], targets: np.ndarray) -> None:
        """θ and ``f = Σ_m θ_m K_m β + b`` on the full kernels; ``‖w_m‖² = θ_m² Σ_c β_cᵀ K_m β_c``."""
        self._train = blocks
        self.gammas = [median_gamma(b) if self.kind == "rbf" else 1.0 for b in blocks]
        kernels = self.kernels(blocks)

        def solve(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
            return kernel_svm(sum(t * k for t, k in zip(theta, kernels)), targets, self.c)

        def block_norms(theta: np.ndarray, solution: tuple) -> np.ndarray:
            beta = solution[0]
            return np.sqrt([t**2 * np.sum(beta * (k @ beta)) for t, k in zip(theta, kernels)])

        self._beta, self._bias, _ = self._rounds(solve, block_norms)

    def _fit_low_rank(self, blocks: list[np.ndarray], labels: np.ndarray, targets: np.ndarray) -> None:
        """θ and ``f = Σ_m √θ_m Φ_m v_m + b`` on the feature maps; ``‖w_m‖² = θ_m ‖v_m‖²``.

        With ``w_m = √θ_m v_m`` the SVM's ``½ ‖v‖²`` is Kloft's ``½ Σ_m ‖w_m‖² / θ_m``. Each round
        warm-starts from the last round's solution, rescaled to the same decision values. The RBF
        width is the median heuristic over the landmarks' pairs (all pairs when all are landmarks).
        """
        chosen = stratified_landmarks(labels, self.rank, self.seed)
        self.gammas = [median_gamma(b[chosen]) if self.kind == "rbf" else 1.0 for b in blocks]
        self._maps = [FeatureMap.fit(b[chosen], self.kind, g) for b, g in zip(blocks, self.gammas)]
        features = [m(b) for m, b in zip(self._maps, blocks)]
        edges = np.cumsum([0] + [f.shape[1] for f in features])
        stacked = np.hstack(features)
        previous: dict[str, np.ndarray] = {}

        def solve(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
            scale = np.repeat(np.sqrt(theta), np.diff(edges))
            start = None
            if previous:  # the same decision values: √θ_m v_m unchanged (0 where θ_m vanished)
                ratio = np.where(scale > 1e-8, previous["scale"] / np.maximum(scale, 1e-8), 0.0)
                start = np.vstack([previous["v"] * ratio[:, None], previous["b"]])
            v, bias, value = one_vs_rest_svm(stacked * scale, targets, self.c, start)
            previous.update(v=v, b=bias, scale=scale)
            return v * scale[:, None], bias, value

        def block_norms(theta: np.ndarray, solution: tuple) -> np.ndarray:
            w = solution[0]  # w_m = √θ_m v_m, stacked
            return np.sqrt([np.sum(w[a:b] ** 2) for a, b in zip(edges[:-1], edges[1:])])

        w, self._bias, _ = self._rounds(solve, block_norms)
        self._weights = [w[a:b] for a, b in zip(edges[:-1], edges[1:])]

    def decision_function(self, blocks: list[np.ndarray]) -> np.ndarray:
        """One-vs-rest decision values ``[V, C]`` of new videos."""
        if self.theta is None or self._bias is None:
            raise RuntimeError("LpMKL.decision_function called before fit")
        blocks = [np.asarray(b, dtype=np.float64) for b in blocks]
        if self.rank is None:
            cross = self.kernels(self._train, blocks)
            return sum(t * k for t, k in zip(self.theta, cross)) @ self._beta + self._bias
        return sum(m(b) @ w for m, b, w in zip(self._maps, blocks, self._weights)) + self._bias
