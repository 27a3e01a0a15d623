"""Spatial-level (Eq. 1–3) and temporal-level (Eq. 4–6) attention of the TCLSTA streams."""

from __future__ import annotations

import torch
from torch import nn


def normalise_map(m: torch.Tensor) -> torch.Tensor:
    """Eq. 3: m̃ = g · softmax(m) over the g grid cells of each map; ``m`` is (N, h, w), m̃ sums to g."""
    n, h, w = m.shape
    dtype = torch.promote_types(m.dtype, torch.float32)
    return ((h * w) * torch.softmax(m.reshape(n, h * w), dim=1, dtype=dtype)).reshape(n, h, w).to(m.dtype)


def weighted_pool(conv5: torch.Tensor, m_tilde: torch.Tensor) -> torch.Tensor:
    """Weighted pooling: mean over cells of m̃ · conv5 = Σ softmax(m) · conv5; (N, K, h, w) × (N, h, w) → (N, K).

    With a uniform map (m̃ ≡ 1) this is exactly global average pooling.
    """
    return (conv5 * m_tilde.unsqueeze(1)).mean(dim=(2, 3))


class SpatialAttention(nn.Module):
    """CAM branch (Table III): CAM_conv 3×3 → ReLU → GAP → linear; attention map of the predicted class.

    ``forward`` returns the branch's logits s (N, classes) and m̃ (N, h, w): Eq. 2's
    m_c(x, y) = Σ_k w_k^c a_k(x, y) for the class c this branch predicts (argmax, no
    gradient through the choice), normalised by Eq. 3.
    """

    def __init__(self, *, in_channels: int, cam_channels: int = 1024, num_classes: int) -> None:
        super().__init__()
        self.cam_conv = nn.Conv2d(in_channels, cam_channels, kernel_size=3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(cam_channels, num_classes)

    def forward(self, conv5: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.relu(self.cam_conv(conv5))
        logits = self.fc(a.mean(dim=(2, 3)))
        predicted = logits.detach().argmax(dim=1)
        m = torch.einsum("nkhw,nk->nhw", a, self.fc.weight[predicted].to(a.dtype))
        return logits, normalise_map(m)


def temporal_weights(h: torch.Tensor) -> torch.Tensor:
    """Eq. 4–5 and the softmax of Eq. 6: C = tanh(HᵀH), γ = 1ᵀC, weights = softmax(γ); ``h`` is (B, T, n)."""
    c = torch.tanh(torch.bmm(h, h.transpose(1, 2)))
    gamma = c.sum(dim=1)
    return torch.softmax(gamma, dim=1, dtype=torch.promote_types(gamma.dtype, torch.float32))


TEMPORAL_SCORINGS = ("paper", "frame")


class FrameScorer(nn.Module):
    """The ``frame`` variant's γ: γ_t = vᵀ tanh(W α_t + b), from frame t's own pooled feature only.

    Unlike Eq. 4–5, γ_t cannot see the frame's position or the rest of the sequence, so
    softmax(γ) can only prefer frames by what they show.
    """

    def __init__(self, in_features: int, hidden: int) -> None:
        super().__init__()
        self.project = nn.Linear(in_features, hidden)
        self.score = nn.Linear(hidden, 1, bias=False)

    def forward(self, alpha: torch.Tensor) -> torch.Tensor:
        """α (B, T, D) → softmax(γ) (B, T)."""
        gamma = self.score(torch.tanh(self.project(alpha))).squeeze(-1)
        return torch.softmax(gamma, dim=1, dtype=torch.promote_types(gamma.dtype, torch.float32))


class TemporalAttention(nn.Module):
    """LSTM branch (Table IV): LSTM over the frames' pooled features α_t and a linear head.

    ``forward`` maps α (B, T, D) to the head's logits (B, classes), classifying
    Σ_t softmax(γ)_t h_t, and the temporal weights softmax(γ) (B, T); Eq. 6's
    β_t = α_t · softmax(γ)_t. ``scoring`` chooses γ: ``paper`` = Eq. 4–5 on the LSTM states
    (γ = 1ᵀ tanh(HᵀH)); ``frame`` = :class:`FrameScorer` on α_t (a labelled variant).
    """

    def __init__(self, *, in_features: int, hidden: int = 512, num_classes: int, scoring: str = "paper") -> None:
        super().__init__()
        if scoring not in TEMPORAL_SCORINGS:
            raise ValueError(f"temporal attention {scoring!r}: expected one of {TEMPORAL_SCORINGS}")
        self.lstm = nn.LSTM(in_features, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, num_classes)
        self.scorer = FrameScorer(in_features, hidden) if scoring == "frame" else None

    def forward(self, alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, _ = self.lstm(alpha)
        weights = temporal_weights(h) if self.scorer is None else self.scorer(alpha.to(h.dtype))
        logits = self.fc((weights.unsqueeze(-1).to(h.dtype) * h).sum(dim=1))
        return logits, weights
