"""Merge the extraction shard tables into the frame index and the list of bad videos.

frames_index.csv: video_id, n_frames, n_flow, status (ok/bad), error. Later stages use
only manifest rows whose status is ok; bad_videos.txt lists the others with the reason.
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


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    from tclsta.data.frame_index import merge_shards

    index = merge_shards(args.shards, args.out, args.bad)
    bad = int((index["status"] != "ok").sum())
    if bad:
        log.warning("%d of %d videos could not be decoded; see %s", bad, len(index), args.bad)
    log.info("wrote %s (%d videos)", args.out, len(index))
