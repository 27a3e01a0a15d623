"""Estimate the frame store before extraction and stop if the output file system lacks the room.

A few videos spread over the manifest are extracted (8 frames each, at extract.resize,
extract.jpeg_quality and the flow settings) into a temporary folder of the system's;
bytes per frame x frames per video x videos not yet extracted is the need. It is logged and
written to --out (JSON); if it exceeds the free space the command fails with one line naming
both. extract.check_disk: false skips the check (the JSON then says so).
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from tclsta.commands._arguments import add_extraction_input_arguments

NAME = "disk-check"
HELP = "estimate the frame store from a sample of videos; stop if the disk lacks the room"
ORDER = 29

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_extraction_input_arguments(parser)
    parser.add_argument("--out", required=True, help="estimate (JSON) to write")
    parser.add_argument("--check-disk", type=str.lower, choices=["true", "false"],
                        help="overrides extract.check_disk (the workflow passes it here, not in --config-json, so "
                             "that turning the check off or on does not rerun the estimate nor extraction)")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    from tclsta.atomic import atomic_write_text
    from tclsta.data.manifest import read_manifest
    from tclsta.disk_estimate import check, estimate_need, size_text
    from tclsta.errors import ConfigError

    if not (config["extract"]["check_disk"] if args.check_disk is None else args.check_disk == "true"):
        log.info("extract.check_disk is false: frame store not estimated")
        atomic_write_text(args.out, json.dumps({"checked": False}) + "\n")
        return
    root = args.root or config["dataset"]["root"]
    if root is None:
        raise ConfigError("no dataset root: pass --root or set dataset.root")
    estimate = estimate_need(read_manifest(args.manifest), root, args.frames, config["extract"], config["flow"])
    if estimate["bytes_per_frame"] is None:
        log.info("frame store: nothing to estimate (%d videos, %d not yet extracted, none of the sample readable)",
                 estimate["videos"], estimate["remaining"])
    else:
        log.info("frame store estimate: %s for %d videos not yet extracted (%.0f frames x %.1f KiB each); "
                 "%s free at %s", size_text(estimate["need_bytes"]), estimate["remaining"],
                 estimate["frames_per_video"], estimate["bytes_per_frame"] / 1024, size_text(estimate["free_bytes"]),
                 estimate["mount"])
    check(estimate, args.frames)
    atomic_write_text(args.out, json.dumps({"checked": True, **estimate}, indent=1) + "\n")
