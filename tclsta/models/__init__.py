"""Models: the torchvision-compatible ResNet trunk, spatial/temporal attention, the attention stream."""

from tclsta.models.attention import SpatialAttention, TemporalAttention, normalise_map, temporal_weights, weighted_pool
from tclsta.models.resnet import ResNet, cross_modality_conv1, load_pretrained
from tclsta.models.stream import ATTENTIONS, AttentionStream, StreamOutput, build_stream, stream_loss

__all__ = [
    "ATTENTIONS", "AttentionStream", "ResNet", "SpatialAttention", "StreamOutput", "TemporalAttention",
    "build_stream", "cross_modality_conv1", "load_pretrained", "normalise_map", "stream_loss",
    "temporal_weights", "weighted_pool",
]
