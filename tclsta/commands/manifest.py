"""Build the manifest of a dataset from its official split files.

Writes a CSV with one row per video: video_id, path (relative to the root), label
(0-based), class_name, group, and one column per split/fold (train/test/unused).
Formats: synthetic and ucf101 (ucfTrainTestlist/), hmdb51 (testTrainMulti_7030_splits/),
ucf50 (25 leave-one-group-out folds from _gXX_), thumos14 (UCF101 + validation_set.mat
train, test_set_meta.mat test), list (dataset.train/test[/val] annotation lists, mmaction2 text
or CSV), folders (root/<class>/<video>, a seeded per-class split by dataset.test_fraction) and
kinetics (annotations/{train,val}.csv; train on train, test on val; videos missing from disk
are listed in --missing and left out).
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

NAME = "manifest"
HELP = "read a dataset's official split files into manifest.csv"
ORDER = 20

log = logging.getLogger(__name__)

FORMATS = ["synthetic", "ucf101", "hmdb51", "ucf50", "thumos14", "list", "folders", "kinetics"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS,
                        help="dataset format (default: dataset.format of the config)")
    parser.add_argument("--root", help="dataset folder (default: dataset.root of the config)")
    parser.add_argument("--out", required=True, help="manifest CSV to write")
    parser.add_argument("--missing", help="write listed videos missing from disk here (video_id<TAB>reason; "
                                          "Kinetics; empty for the other formats)")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    from tclsta.data.manifest import build_manifest, check_splits, write_manifest
    from tclsta.errors import ConfigError

    fmt = args.format or config["dataset"]["format"]
    root = args.root or config["dataset"]["root"]
    if root is None:
        raise ConfigError("no dataset root: pass --root or set dataset.root")
    table = build_manifest(fmt, root, config["dataset"])
    check_splits(table, config["dataset"]["splits"], root)
    write_manifest(table, args.out)
    if args.missing:
        from tclsta.atomic import atomic_write_text

        missing = table.attrs.get("missing", [])
        atomic_write_text(args.missing, "".join(f"{video}\t{reason}\n" for video, reason in missing))
    log.info("wrote %s (%d videos)", args.out, len(table))
