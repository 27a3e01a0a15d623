"""Fusion baselines of the paper's Table VIII: late fusion and early fusion (features + linear SVM)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def late_fusion(scores: np.ndarray) -> np.ndarray:
    """Late fusion: the mean of the streams' softmax scores, ``[V, S, C]`` → ``[V, C]``."""
    return scores.mean(axis=1)


@dataclass
class LinearSVM:
    """One-vs-rest linear SVM with squared hinge loss (the L2-SVM of LIBLINEAR), solved in the primal.

    For each class c: ``min_w,b ½‖w‖² + C Σ_i max(0, 1 − y_ic (w·x_i + b))²`` with
    ``y_ic = ±1``; features are standardised with the training mean and deviation.
    The objective is convex and continuously differentiable, so full-batch L-BFGS solves it.
    """

    c: float = 1.0
    max_iter: int = 500
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    weight: np.ndarray | None = None  # [D, C]
    bias: np.ndarray | None = None  # [C]

    def _standardise(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((x - self.mean) / self.scale, dtype=torch.float64)

    def objective(self, x: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor,
                  bias: torch.Tensor) -> torch.Tensor:
        """Sum over classes of the primal objective (``targets`` ±1, ``[V, C]``)."""
        margins = torch.clamp(1 - targets * (x @ weight + bias), min=0)
        return 0.5 * (weight**2).sum() + self.c * (margins**2).sum()

    def fit(self, features: np.ndarray, labels: np.ndarray, num_classes: int) -> LinearSVM:
        """Train on ``features [V, D]`` with integer ``labels [V]``."""
        self.mean = features.mean(axis=0)
        self.scale = features.std(axis=0) + 1e-8
        x = self._standardise(features)
        targets = -torch.ones(len(labels), num_classes, dtype=torch.float64)
        targets[torch.arange(len(labels)), torch.as_tensor(labels)] = 1.0
        weight = torch.zeros(x.shape[1], num_classes, dtype=torch.float64, requires_grad=True)
        bias = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
        optimiser = torch.optim.LBFGS([weight, bias], max_iter=self.max_iter, tolerance_grad=1e-9,
                                      tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            optimiser.zero_grad()
            loss = self.objective(x, targets, weight, bias)
            loss.backward()
            return loss

        optimiser.step(closure)
        self.weight = weight.detach().numpy()
        self.bias = bias.detach().numpy()
        return self

    def decision_function(self, features: np.ndarray) -> np.ndarray:
        """One-vs-rest decision values ``[V, C]`` (the class scores used for prediction and AP)."""
        if self.weight is None:
            raise RuntimeError("LinearSVM.decision_function called before fit")
        return (self._standardise(features).numpy() @ self.weight) + self.bias


def early_fusion(train_features: list[np.ndarray], train_labels: np.ndarray, test_features: list[np.ndarray],
                 num_classes: int, c: float = 1.0, max_iter: int = 500) -> np.ndarray:
    """Early fusion: concatenate the streams' video features and classify with a linear SVM.

    Returns the SVM's decision values ``[V_test, C]`` for the test videos.
    """
    svm = LinearSVM(c=c, max_iter=max_iter).fit(np.concatenate(train_features, axis=1), train_labels, num_classes)
    return svm.decision_function(np.concatenate(test_features, axis=1))
