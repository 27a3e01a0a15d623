"""Export a bundle's streams as TorchScript (traced) or ONNX: input normalised clips, output the cache's fields.

Each exported module takes ``(B, T, C, S, S)`` float clips normalised as the pipeline normalises
them (:func:`tclsta.training.runtime.model_input`) and returns a tuple: per-frame features
``(B, T, D)``, temporal weights ``(B, T)``, then each head's class probabilities ``(B, C)`` in
the order of ``heads`` (TorchScript: the file's extra ``heads.json``; ONNX: the metadata entry
``heads``, and the outputs are named). TorchScript takes any B and T; ONNX (``torch.onnx``'s
exporter, needs the ``onnx`` extra) any B, and T = the bundle's ``features.frames``, what predict feeds.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from tclsta.atomic import atomic_path
from tclsta.errors import TclstaError
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


SUFFIXES = {"torchscript": ".ts.pt", "onnx": ".onnx"}


def output_names(heads: list[str]) -> list[str]:
    """The exported outputs' names, in order."""
    return ["features", "temporal_weights", *(f"probabilities_{h}" for h in heads)]


def _torchscript(wrapper: StreamTensors, clips: torch.Tensor, path: Path) -> None:
    with torch.no_grad():
        traced = torch.jit.trace(wrapper, clips)
    torch.jit.save(traced, str(path), _extra_files={"heads.json": json.dumps(wrapper.heads)})


def _onnx(wrapper: StreamTensors, clips: torch.Tensor, path: Path) -> None:
    try:
        import onnx
    except ImportError as err:
        raise TclstaError("--format onnx needs the onnx extra: pip install 'tclsta[onnx]'") from err
    batch = torch.export.Dim("batch")
    with torch.no_grad():
        # an example batch of 2: torch.export would fix a dimension of size 1
        program = torch.onnx.export(wrapper, (torch.cat([clips, clips]),), dynamo=True, input_names=["clips"],
                                    output_names=output_names(wrapper.heads), dynamic_shapes=({0: batch},))
    model = program.model_proto
    onnx.helper.set_model_props(model, {"heads": json.dumps(wrapper.heads)})
    onnx.save(model, str(path))


def export_streams(bundle: Bundle, folder: str | Path, fmt: str = "torchscript") -> dict[str, Path]:
    """Export each stream on CPU as ``<folder>/<stream>.ts.pt`` (TorchScript) or ``.onnx``; returns the files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write = {"torchscript": _torchscript, "onnx": _onnx}[fmt]
    written = {}
    for stream, name in STREAM_FILES.items():
        model, meta = load_final(bundle.path(name))
        written[stream] = folder / f"{stream}{SUFFIXES[fmt]}"
        with atomic_path(written[stream]) as tmp:
            write(StreamTensors(model.eval()).eval(), example_input(meta, bundle.settings["features"]["frames"]), tmp)
    return written
