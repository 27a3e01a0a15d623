"""TV-L1 optical flow: batched PyTorch implementation, OpenCV reference, 8-bit flow images."""

from tclsta.flow.quantize import dequantise, quantise, read_flow
from tclsta.flow.tvl1 import tvl1

__all__ = ["tvl1", "quantise", "dequantise", "read_flow"]
