"""Dump per-frame features, attention weights and per-head scores of a trained stream to HDF5.

Reads a checkpoint from train-stream and the split's train and test videos; writes
<output_dir>/features/split<N>/<stream>_<attention>.h5 (format: tclsta/features/cache.py),
features.frames evenly spaced frames per video.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

NAME = "dump-features"
HELP = "write a stream's per-frame features and attention to an HDF5 feature cache"
ORDER = 50


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--split", type=int, required=True, help="split (or fold) number")
    parser.add_argument("--stream", choices=["rgb", "flow"], required=True)
    parser.add_argument("--attention", choices=["none", "spatial", "temporal", "both"], required=True)
    parser.add_argument("--checkpoint", help="stream checkpoint (default <output_dir>/streams/split<N>/<stream>_<attention>.pt)")
    parser.add_argument("--manifest", help="manifest CSV (default <output_dir>/manifest.csv)")
    parser.add_argument("--frames-index", help="frame index CSV (default <output_dir>/frames_index.csv)")
    parser.add_argument("--frames", help="frames folder (default <output_dir>/frames)")
    parser.add_argument("--output", help="HDF5 file (default <output_dir>/features/split<N>/<stream>_<attention>.h5)")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    from tclsta.features.dump import dump_features

    out = Path(config["output_dir"])
    name = f"{args.stream}_{args.attention}"
    dump_features(
        config, split=args.split,
        checkpoint=args.checkpoint or out / "streams" / f"split{args.split}" / f"{name}.pt",
        manifest=args.manifest or out / "manifest.csv",
        frames_index=args.frames_index or out / "frames_index.csv",
        frames_root=args.frames or out / "frames",
        output=args.output or out / "features" / f"split{args.split}" / f"{name}.h5",
        expect=(args.stream, args.attention),
    )
