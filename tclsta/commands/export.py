"""Export a model bundle's two streams as TorchScript or ONNX (on CPU), for use without tclsta.

Writes <OUT>/rgb.ts.pt and <OUT>/flow.ts.pt, or rgb.onnx and flow.onnx (default OUT:
<bundle>/export). Each takes (B, T, C, S, S) normalised clips and returns (features (B, T, D),
temporal weights (B, T), then each head's probabilities (B, C)); the head names are in the
TorchScript file's extra heads.json, or the ONNX model's metadata "heads". TorchScript takes any
B and T; ONNX any B and T = the bundle's features.frames (pip install 'tclsta[onnx]').
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

NAME = "export"
HELP = "export a bundle's streams as TorchScript or ONNX"
ORDER = 102

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="DIR", help="model bundle (<output_dir>/model/split<N>)")
    parser.add_argument("--format", choices=["torchscript", "onnx"], default="torchscript", help="export format")
    parser.add_argument("-o", "--output", metavar="OUT", help="folder to write (default <bundle>/export)")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    from tclsta.inference.bundle import load_bundle
    from tclsta.inference.export import export_streams

    bundle = load_bundle(args.model)
    for stream, path in export_streams(bundle, Path(args.output or bundle.folder / "export"), args.format).items():
        log.info("%s stream: wrote %s", stream, path)
