"""Dump per-frame features, attention weights and per-head scores of a trained stream to HDF5.

Reads a checkpoint from train-stream and the split's train and test videos; writes
<output_dir>/features/split<N>/<stream>_<attention>.h5 (format: tclsta/features/cache.py),
features.frames evenly spaced frames per video.
"""

from __future__ import annotations

import argparse
from typing import Any

from tclsta import paths
from tclsta.commands._arguments import add_stream_job_arguments

NAME = "dump-features"
HELP = "write a stream's per-frame features and attention to an HDF5 feature cache"
ORDER = 50


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_stream_job_arguments(parser)
    parser.add_argument("--checkpoint", help="stream checkpoint (default <output_dir>/streams/split<N>/<stream>_<attention>.pt)")
    parser.add_argument("--output", help="HDF5 file (default <output_dir>/features/split<N>/<stream>_<attention>.h5)")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    from tclsta.features.dump import dump_features

    out = config["output_dir"]
    dump_features(
        config, split=args.split,
        checkpoint=args.checkpoint or paths.stream_checkpoint(out, args.split, args.stream, args.attention),
        manifest=args.manifest or paths.manifest(out),
        frames_index=args.frames_index or paths.frames_index(out),
        frames_root=args.frames or paths.frames_root(out),
        output=args.output or paths.feature_cache(out, args.split, args.stream, args.attention),
        expect=(args.stream, args.attention),
    )
