"""Train the collaborative learning network (paper Eq. 7–9, Algorithm 1) of one split.

Reads the split's two HDF5 feature caches (static = rgb, motion = flow, attention mode
cln.attention) — never the frames — and trains with alternating updates (cln.alternate:
per step or per epoch, the other side frozen). --variant paper fits every training video for
cln.epochs epochs; --variant heldout (ours) fits only the videos the streams fitted, stops
early on the streams' held-out groups (read from --manifest) and, with
cln.heldout.fused_head, adds a head over [O^s; O^m]. Writes a checkpoint (recording the
videos it fitted) and every head's softmax scores of every video:
<output_dir>/cln/split<N>/<variant>/cln.pt and scores.h5.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tclsta import paths
from tclsta.commands._arguments import add_cache_pair_arguments, add_split_argument

NAME = "train-cln"
HELP = "train the collaborative learning network on two feature caches"
ORDER = 60


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_split_argument(parser)
    add_cache_pair_arguments(parser)
    parser.add_argument("--variant", choices=["paper", "heldout"], default="paper",
                        help="paper: the paper's CLN; heldout: ours, early-stopped on the streams' held-out groups")
    parser.add_argument("--manifest", help="manifest CSV, for --variant heldout (default <output_dir>/manifest.csv)")
    parser.add_argument("--checkpoint", help="output checkpoint (default <output_dir>/cln/split<N>/<variant>/cln.pt)")
    parser.add_argument("--scores", help="output scores HDF5 (default <output_dir>/cln/split<N>/<variant>/scores.h5)")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    from tclsta.fusion.cln_training import run_train_cln

    out, attention = Path(config["output_dir"]), config["cln"]["attention"]
    run_train_cln(
        args.static or paths.feature_cache(out, args.split, "rgb", attention),
        args.motion or paths.feature_cache(out, args.split, "flow", attention),
        args.checkpoint or paths.cln_checkpoint(out, args.split, args.variant),
        args.scores or paths.cln_scores(out, args.split, args.variant),
        config,
        variant=args.variant,
        manifest=args.manifest or paths.manifest(out),
    )
