"""Features of any videos with a model bundle: one stream's HDF5 feature cache (the dump stage's layout).

Per frame: the pooled feature alpha_t, the temporal weight softmax(gamma)_t, the spatial map;
per video: each head's class probabilities and video_features (frames pooled with their temporal
weights). Video ids are the file names without suffix. A video that cannot be read is named in
the log and left out, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from tclsta.commands.predict import add_model_arguments
from tclsta.errors import TclstaError

NAME = "features"
HELP = "per-frame TCLSTA features of any videos (HDF5, the feature cache's layout)"
ORDER = 101

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("-o", "--output", required=True, metavar="FILE.h5", help="HDF5 file to write")
    parser.add_argument("--stream", choices=["rgb", "flow"], default="rgb", help="which stream (default rgb)")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    from tclsta.inference.bundle import load_bundle
    from tclsta.inference.features import write_video_features
    from tclsta.inference.predict import video_paths

    bundle = load_bundle(args.model)
    bad = write_video_features(bundle, video_paths(args.videos), args.stream, Path(args.output), args.device)
    log.info("wrote %s", args.output)
    if bad:
        raise TclstaError(f"{len(bad)} videos could not be read: "
                          + "; ".join(f"{vid} ({why})" for vid, why in bad.items()))
