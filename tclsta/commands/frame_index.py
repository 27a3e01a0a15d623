"""Merge the extraction shard tables into the frame index and the list of bad videos.

frames_index.csv: video_id, n_frames, n_flow, status, error. Status is ok, or bad
(undecodable), truncated (fewer frames than declared), too_short (one frame, no flow) or
damaged (an extracted folder whose files are missing or damaged, found by the same check as
`tclsta verify`). Later stages use only rows whose status is ok; bad_videos.txt lists the
others with the reason. A damaged folder stops this command unless extract.skip_bad is set.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

NAME = "frame-index"
HELP = "merge extraction shard tables into frames_index.csv and bad_videos.txt"
ORDER = 35

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shards", nargs="+", help="shard tables written by tclsta extract")
    parser.add_argument("--out", required=True, help="frame index CSV to write")
    parser.add_argument("--bad", required=True, help="bad video list to write")
    parser.add_argument("--missing", help="videos the manifest listed but found missing (copied into --bad)")
    parser.add_argument("--frames", help="frames folder to verify (default <output_dir>/frames)")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    from tclsta import paths
    from tclsta.data.frame_index import merge_shards

    frames = args.frames or paths.frames_root(config["output_dir"])
    index = merge_shards(args.shards, args.out, args.bad, frames, config["extract"]["skip_bad"], args.missing)
    bad = int((index["status"] != "ok").sum())
    if bad:
        log.warning("%d of %d videos are not used (undecodable, truncated, too short or damaged); see %s",
                    bad, len(index), args.bad)
    log.info("wrote %s (%d videos)", args.out, len(index))
