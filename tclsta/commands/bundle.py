"""Write the model bundle of one split: everything `tclsta predict` needs, in one folder.

Copies from a finished run (<output_dir>) both streams' checkpoints in the CLN's attention mode,
the held-out and the paper CLN, the AWL weights and fit records (temperatures), the class names,
the extract/flow/features/model settings, and writes bundle.json last (format version, SHA-256
of every file, the test metrics of the rows it serves). Default folder: <output_dir>/model/split<N>.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from tclsta.commands._arguments import add_split_argument

NAME = "bundle"
HELP = "the model bundle of one split (<output_dir>/model/split<N>) for tclsta predict"
ORDER = 95

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_split_argument(parser)
    parser.add_argument("--output-dir", help="the finished run's folder (default: output_dir)")
    parser.add_argument("--target", help="bundle folder to write (default <output_dir>/model/split<N>)")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    from tclsta.inference.bundle import write_bundle

    folder = write_bundle(Path(args.output_dir or config["output_dir"]), args.split, config, args.target)
    log.info("wrote %s", folder)
