"""Export a bundle's streams as TorchScript (traced): input normalised clips, output the cache's fields.

Each exported module takes ``(B, T, C, S, S)`` float clips normalised as the pipeline normalises
them (:func:`tclsta.training.runtime.model_input`) and returns a tuple: per-frame features
``(B, T, D)``, temporal weights ``(B, T)``, then each head's class probabilities ``(B, C)`` in
the order of ``heads`` (recorded in the file's extra ``heads.json``). ONNX is not built.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from tclsta.atomic import atomic_path
from tclsta.inference.bundle import STREAM_FILES, Bundle
from tclsta.models.stream import AttentionStream
from tclsta.training.checkpoint import load_final


class StreamTensors(torch.nn.Module):
    """A stream whose output is a tuple of tensors (what tracing needs)."""

    def __init__(self, stream: AttentionStream) -> None:
        super().__init__()
        self.stream = stream
        self.heads = list(stream.heads)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        output = self.stream(x)
        probabilities = output.probabilities()
        return (output.features, output.temporal_weights, *(probabilities[h] for h in self.heads))


def example_input(meta: dict, segments: int) -> torch.Tensor:
    """A random normalised clip batch of the stream's input shape: one video of ``segments`` frames."""
    channels = 2 * meta["model"]["flow_stack"] if meta["stream"] == "flow" else 3
    size = meta["stream_config"]["crop_size"]
    return torch.randn(1, segments, channels, size, size, generator=torch.Generator().manual_seed(0))


def export_streams(bundle: Bundle, folder: str | Path) -> dict[str, Path]:
    """Trace each stream on CPU and save ``<folder>/<stream>.ts.pt``; returns the files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for stream, name in STREAM_FILES.items():
        model, meta = load_final(bundle.path(name))
        wrapper = StreamTensors(model.eval()).eval()
        with torch.no_grad():
            traced = torch.jit.trace(wrapper, example_input(meta, bundle.settings["features"]["frames"]))
        written[stream] = folder / f"{stream}.ts.pt"
        with atomic_path(written[stream]) as tmp:
            torch.jit.save(traced, str(tmp), _extra_files={"heads.json": json.dumps(wrapper.heads)})
    return written
