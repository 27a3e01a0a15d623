"""Collaborative learning network (paper Section III-B.1, Eq. 7–9, Algorithm 1).

Inputs are the aligned per-frame features of one video from the two streams,
``V^s`` (static / RGB) and ``V^m`` (motion / flow), as tensors ``[B, N, D]``.
The static coefficients start uniform, ``z^s = 1/N``; each round then computes ::

    O^s = Σ_i z^s_i v^s_i                                   (Algorithm 1, line 3)
    H   = tanh(W^m V^m + (W^s_o O^s) 1ᵀ)                   (Eq. 7)
    z^m = softmax(w^mᵀ_h H)                                 (Eq. 8)
    O^m = Σ_i z^m_i v^m_i                                   (Eq. 9)
    z^s = softmax(w^sᵀ_h tanh(W^s V^s + (W^m_o O^m) 1ᵀ))   (symmetric, line 6)

and after the last round ``O^s = Σ z^s_i v^s_i`` (line 8, with the final ``z^s``). Two
linear heads (softmax in the loss / at prediction) classify ``O^s`` and ``O^m``. As in
the co-attention of Lu et al. (the paper's [40]) the three matrices carry no bias.

Parameters are split into a *static side* (``W^s``, ``W^m_o``, ``w^s_h`` and the static
head) and a *motion side* (``W^m``, ``W^s_o``, ``w^m_h`` and the motion head): the
alternating training updates one side while the other is frozen.

Not in the paper (``fused_head=True``): a third linear head on ``[O^s; O^m]``, which can
tell classes apart only by the two streams together (appearance × motion). It belongs to
neither side and is updated at every step.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

SIDES = ("static", "motion")


class GuidedAttention(nn.Module):
    """Eq. 7–9 for one stream: coefficients over its frames guided by the other stream's video feature.

    ``z = softmax(w_hᵀ tanh(W V + (W_o O_guide) 1ᵀ))`` and ``O = Σ_i z_i v_i``.
    """

    def __init__(self, *, feature_dim: int, guide_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.features = nn.Linear(feature_dim, hidden_dim, bias=False)  # W^m in Eq. 7
        self.guide = nn.Linear(guide_dim, hidden_dim, bias=False)  # W^s_o in Eq. 7
        self.score = nn.Linear(hidden_dim, 1, bias=False)  # w^m_h in Eq. 8

    def coefficients(self, v: Tensor, guide: Tensor, mask: Tensor) -> Tensor:
        """z ``[B, N]`` from frame features ``v [B, N, D]`` and the guide ``[B, D']`` (Eq. 7–8)."""
        hidden = torch.tanh(self.features(v) + self.guide(guide).unsqueeze(1))
        logits = self.score(hidden).squeeze(-1)
        return torch.softmax(logits.masked_fill(~mask, float("-inf")), dim=1)

    def forward(self, v: Tensor, guide: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Return the merged video feature ``O [B, D]`` (Eq. 9) and the coefficients ``z``."""
        z = self.coefficients(v, guide, mask)
        return merge(v, z), z


def merge(v: Tensor, z: Tensor) -> Tensor:
    """``O = Σ_i z_i v_i`` for a batch: ``v [B, N, D]``, ``z [B, N]`` → ``[B, D]``."""
    return torch.einsum("bn,bnd->bd", z, v)


def uniform_coefficients(mask: Tensor, dtype: torch.dtype) -> Tensor:
    """Algorithm 1, line 1: every valid frame gets 1/N."""
    weights = mask.to(dtype)
    return weights / weights.sum(dim=1, keepdim=True)


class CollaborativeLearningNetwork(nn.Module):
    """Collaborative learning layer (Algorithm 1) plus a static and a motion classifier."""

    def __init__(
        self,
        *,
        static_dim: int,
        motion_dim: int,
        num_classes: int,
        hidden_dim: int = 512,
        rounds: int = 2,
        fused_head: bool = False,
    ) -> None:
        super().__init__()
        if rounds < 1:
            raise ValueError(f"rounds must be >= 1, got {rounds}")
        self.rounds = rounds
        self.motion_attention = GuidedAttention(feature_dim=motion_dim, guide_dim=static_dim, hidden_dim=hidden_dim)
        self.static_attention = GuidedAttention(feature_dim=static_dim, guide_dim=motion_dim, hidden_dim=hidden_dim)
        self.static_head = nn.Linear(static_dim, num_classes)
        self.motion_head = nn.Linear(motion_dim, num_classes)
        self.fused_head = nn.Linear(static_dim + motion_dim, num_classes) if fused_head else None

    def side_parameters(self, side: str) -> list[nn.Parameter]:
        """Parameters of the ``static`` or ``motion`` side (see the module docstring)."""
        if side == "static":
            return [*self.static_attention.parameters(), *self.static_head.parameters()]
        if side == "motion":
            return [*self.motion_attention.parameters(), *self.motion_head.parameters()]
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")

    def forward_features(
        self, v_static: Tensor, v_motion: Tensor, mask: Tensor | None = None
    ) -> dict[str, Tensor]:
        """Run Algorithm 1 for ``self.rounds`` rounds.

        ``v_static``, ``v_motion``: ``[B, N, D_s]``, ``[B, N, D_m]`` aligned frame features;
        ``mask`` ``[B, N]`` (bool) marks real frames (default: all). Returns the video
        features ``O^s``, ``O^m`` and the final coefficients ``z^s``, ``z^m``.
        """
        if mask is None:
            mask = torch.ones(v_static.shape[:2], dtype=torch.bool, device=v_static.device)
        z_static = uniform_coefficients(mask, v_static.dtype)
        for _ in range(self.rounds):
            o_static = merge(v_static, z_static)
            o_motion, z_motion = self.motion_attention(v_motion, o_static, mask)
            z_static = self.static_attention.coefficients(v_static, o_motion, mask)
        o_static = merge(v_static, z_static)
        return {"o_static": o_static, "o_motion": o_motion, "z_static": z_static, "z_motion": z_motion}

    def head_logits(self, v_static: Tensor, v_motion: Tensor, mask: Tensor | None = None) -> dict[str, Tensor]:
        """Class logits ``[B, num_classes]`` of every head: ``static``, ``motion`` and (if built) ``fused``."""
        out = self.forward_features(v_static, v_motion, mask)
        logits = {"static": self.static_head(out["o_static"]), "motion": self.motion_head(out["o_motion"])}
        if self.fused_head is not None:
            logits["fused"] = self.fused_head(torch.cat([out["o_static"], out["o_motion"]], dim=1))
        return logits

    def forward(self, v_static: Tensor, v_motion: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Class logits of the static and the motion head, each ``[B, num_classes]``."""
        logits = self.head_logits(v_static, v_motion, mask)
        return logits["static"], logits["motion"]
