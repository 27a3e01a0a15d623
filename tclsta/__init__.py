"""tclsta: Two-stream Collaborative Learning with Spatial-Temporal Attention, as a pipeline."""

__version__ = "0.1.0"
