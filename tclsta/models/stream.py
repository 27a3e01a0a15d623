"""One TCLSTA stream: connection network + spatial and temporal attention branches, three heads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tclsta.models.attention import SpatialAttention, TemporalAttention, weighted_pool
from tclsta.models.pretrained import initialise_backbone
from tclsta.models.resnet import ResNet

ATTENTIONS = ("none", "spatial", "temporal", "both")
HEADS = ("frame", "spatial", "temporal")


@dataclass
class StreamOutput:
    """What a stream computes for B videos of T frames each.

    ``features`` α_t (B, T, D); ``temporal_weights`` softmax(γ) (B, T), uniform without
    temporal attention; ``logits`` per head: frame (B, T, C), spatial (B, T, C),
    temporal (B, C); ``spatial_maps`` m̃ (B, T, h, w) or None without spatial attention.
    """

    features: torch.Tensor
    temporal_weights: torch.Tensor
    logits: dict[str, torch.Tensor]
    spatial_maps: torch.Tensor | None = None

    def attended(self) -> torch.Tensor:
        """Eq. 6: β_t = α_t · softmax(γ)_t, shape (B, T, D)."""
        return self.features * self.temporal_weights.unsqueeze(-1).to(self.features.dtype)

    def video_logits(self) -> dict[str, torch.Tensor]:
        """Per-head video logits (B, C): per-frame heads take the mean over frames (TSN's segmental consensus)."""
        return {head: logits.mean(dim=1) if logits.dim() == 3 else logits for head, logits in self.logits.items()}

    def probabilities(self) -> dict[str, torch.Tensor]:
        """Per-head video class probabilities (B, C): softmax of :meth:`video_logits`."""
        return {head: torch.softmax(logits.float(), dim=-1) for head, logits in self.video_logits().items()}

    def prediction(self) -> torch.Tensor:
        """The stream's video probabilities: mean over its heads (B, C)."""
        return torch.stack(list(self.probabilities().values())).mean(dim=0)


class AttentionStream(nn.Module):
    """The spatial-temporal attention model of one stream (paper Fig. 3, Section III-A).

    ``attention`` switches the branches (paper Table VI): ``none`` = plain ResNet with global
    average pooling and the frame head; ``spatial`` adds the CAM branch whose map drives
    the weighted pooling; ``temporal`` adds the LSTM branch; ``both`` has all three heads.
    ``backbone`` is a torchvision-compatible ResNet whose ``fc`` is the frame head;
    ``output_stride`` its conv5 stride (32 = the paper's), ``max_dilation`` the cap on the
    dilation that replaces the stride (None: torchvision's), ``temporal_attention`` the form of γ
    (``paper`` = Eq. 4–5; ``frame`` = a labelled variant, see :class:`TemporalAttention`).
    ``detach_spatial_map``: the weighted pooling uses m̃ as given weights (a labelled variant), so
    only the CAM head's loss shapes the map; by default (False) the frame and temporal heads'
    losses also reach it through the pooling.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        attention: str = "both",
        depth: int = 50,
        base_width: int = 64,
        in_channels: int = 3,
        cam_channels: int = 1024,
        lstm_hidden: int = 512,
        output_stride: int = 32,
        max_dilation: int | None = None,
        temporal_attention: str = "paper",
        detach_spatial_map: bool = False,
    ) -> None:
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"attention={attention!r}: expected one of {ATTENTIONS}")
        self.attention = attention
        self.detach_spatial_map = detach_spatial_map
        self.backbone = ResNet(depth=depth, base_width=base_width, in_channels=in_channels, num_classes=num_classes,
                               output_stride=output_stride, max_dilation=max_dilation)
        dim = self.backbone.num_features
        self.spatial = (
            SpatialAttention(in_channels=dim, cam_channels=cam_channels, num_classes=num_classes)
            if attention in ("spatial", "both") else None
        )
        self.temporal = (
            TemporalAttention(in_features=dim, hidden=lstm_hidden, num_classes=num_classes,
                              scoring=temporal_attention)
            if attention in ("temporal", "both") else None
        )

    @property
    def heads(self) -> tuple[str, ...]:
        """Names of the heads this stream has."""
        return tuple(h for h, on in zip(HEADS, (True, self.spatial, self.temporal)) if on)

    def forward(self, x: torch.Tensor) -> StreamOutput:
        """``x``: (B, T, C, H, W) frames or flow stacks of B videos."""
        b, t = x.shape[:2]
        frames = x.flatten(0, 1)
        if frames.is_cuda:
            frames = frames.contiguous(memory_format=torch.channels_last)
        conv5 = self.backbone.forward_features(frames)
        logits: dict[str, torch.Tensor] = {}
        maps = None
        if self.spatial is not None:
            cam_logits, maps = self.spatial(conv5)
            alpha = weighted_pool(conv5, maps.detach() if self.detach_spatial_map else maps)
            logits["spatial"] = cam_logits.view(b, t, -1)
            maps = maps.view(b, t, *maps.shape[1:])
        else:
            alpha = conv5.mean(dim=(2, 3))
        logits = {"frame": self.backbone.fc(alpha).view(b, t, -1), **logits}
        alpha = alpha.view(b, t, -1)
        if self.temporal is not None:
            logits["temporal"], weights = self.temporal(alpha)
        else:
            weights = torch.full((b, t), 1.0 / t, device=x.device)
        return StreamOutput(features=alpha, temporal_weights=weights, logits=logits, spatial_maps=maps)


def stream_loss(output: StreamOutput, labels: torch.Tensor, weights: dict[str, float]) -> torch.Tensor:
    """Sum of the heads' cross-entropies on the video logits, weighted by ``weights[head]``.

    The per-frame heads (frame, CAM) are scored on the mean of their frames' logits (TSN's
    segmental consensus): a frame that shows nothing of the class is not forced to predict it.
    """
    total = labels.new_zeros((), dtype=torch.float32)
    for head, logits in output.video_logits().items():
        total = total + weights[head] * F.cross_entropy(logits.float(), labels)
    return total


def input_channels(stream: str, flow_stack: int) -> int:
    """3 for RGB, 2L for a stack of L flow fields."""
    return 3 if stream == "rgb" else 2 * flow_stack


def build_stream(model_cfg: dict[str, Any], stream: str, attention: str, num_classes: int,
                 pretrained: bool = True) -> AttentionStream:
    """An :class:`AttentionStream` from the ``model`` config section (ImageNet weights when configured)."""
    model = AttentionStream(
        num_classes=num_classes,
        attention=attention,
        depth=model_cfg["depth"],
        base_width=model_cfg["base_width"],
        in_channels=input_channels(stream, model_cfg["flow_stack"]),
        cam_channels=model_cfg["cam_channels"],
        lstm_hidden=model_cfg["lstm_hidden"],
        output_stride=model_cfg.get("output_stride", 32),  # checkpoints from before these keys: the paper's
        max_dilation=model_cfg.get("max_dilation"),
        temporal_attention=model_cfg.get("temporal_attention", "paper"),
        detach_spatial_map=model_cfg.get("detach_spatial_map", False),
    )
    if pretrained:
        initialise_backbone(model.backbone, model_cfg)
    return model
