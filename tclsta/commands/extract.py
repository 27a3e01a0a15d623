"""Decode one shard of videos to RGB JPEGs and compute their TV-L1 optical flow.

Shard k holds manifest rows [k·S, (k+1)·S) with S = extract.shard_size. Output layout
(denseflow/mmaction2 rawframes): FRAMES/<video_id>/img_00001.jpg …, flow_x_00001.jpg,
flow_y_00001.jpg … (N frames → N−1 flow pairs). A rerun skips videos already complete
with the same settings. Writes a shard table (video_id, n_frames, n_flow, status, error).
With extract.skip_bad, unreadable (bad), truncated (fewer frames than declared) and, with flow,
one-frame (too_short) videos are recorded with that status instead of failing the job.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from tclsta.commands._arguments import add_extraction_input_arguments

NAME = "extract"
HELP = "decode a shard of videos to RGB frames + TV-L1 flow JPEGs"
ORDER = 30

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_extraction_input_arguments(parser)
    parser.add_argument("--shard", type=int, default=0, help="shard number (default 0)")
    parser.add_argument("--shard-size", type=int, help="videos per shard (default: extract.shard_size)")
    parser.add_argument("--out", required=True, help="shard table (TSV) to write")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    # Idle OpenMP threads sleep instead of spinning. TV-L1's native CPU path has no OpenMP
    # regions inside a level and does not need this; its torch fallback (no C compiler) does.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from tclsta.data.manifest import read_manifest
    from tclsta.errors import ConfigError
    from tclsta.extraction import extract_shard, shard_rows

    root = args.root or config["dataset"]["root"]
    if root is None:
        raise ConfigError("no dataset root: pass --root or set dataset.root")
    size = args.shard_size or config["extract"]["shard_size"]
    rows = shard_rows(read_manifest(args.manifest), args.shard, size)
    table = extract_shard(rows, root, args.frames, config["extract"], config["flow"], args.out)
    bad = int((table["status"] != "ok").sum())
    log.info("shard %d: %d videos extracted, %d bad", args.shard, len(table) - bad, bad)
