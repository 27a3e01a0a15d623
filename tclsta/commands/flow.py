"""Frames and TV-L1 optical flow of any videos, denseflow-style: no manifest, no dataset layout.

Inputs are video files, folders (every video under them) or .txt lists of either (one per
line, relative to the list's folder). Each video gets OUT/<name>/ with img_00001.jpg …,
flow_x_00001.jpg / flow_y_00001.jpg … (flow from frame i to i+1, clipped to ±bound px and
mapped to 0..255) and frames.json: the pipeline's extract layout, made by the same code, so
the files are identical to what `tclsta extract` writes with the same settings. A rerun skips
videos already complete with the same settings. Unreadable videos are reported at the end
(exit status 1) without losing the others. Settings not given here come from the config's
`extract` and `flow` sections.

denseflow's options map as: -b BOUND, -a tvl1, -s 1 (flow of consecutive frames; -s 0 writes
frames only), -nw/-nh (fixed size), -ns (new short side), -cf (class folder), -o OUT, -v.

Example: tclsta flow videos/ list.txt clip.mp4 -o rawframes -b 20 -ns 256 --backend torch
"""

from __future__ import annotations

import argparse
import copy
import logging
import time
from pathlib import Path
from typing import Any

NAME = "flow"
HELP = "frames + TV-L1 flow JPEGs of any videos (denseflow-style)"
ORDER = 31

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="VIDEO_OR_LIST", help="video files, folders of videos, .txt lists")
    parser.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder (one sub-folder per video)")
    parser.add_argument("-a", "--algorithm", choices=["tvl1"], default="tvl1", help="optical flow algorithm (TV-L1)")
    parser.add_argument("-b", "--bound", type=_number, help="clip flow to ±BOUND px (default: flow.bound; denseflow's is 32)")
    parser.add_argument("-s", "--step", type=int, choices=[0, 1], default=1,
                        help="1: flow between consecutive frames (default); 0: RGB frames only")
    size = parser.add_argument_group("resizing (default: extract.resize)")
    size.add_argument("-ns", "--new-short", type=int, metavar="PX", help="resize so the shorter side is PX")
    size.add_argument("-nw", "--new-width", type=int, metavar="PX", help="fixed width (with -nh)")
    size.add_argument("-nh", "--new-height", type=int, metavar="PX", help="fixed height (with -nw)")
    parser.add_argument("-cf", "--class-folder", action="store_true", help="write OUT/<parent folder>/<name>/")
    parser.add_argument("--backend", choices=["torch", "opencv"], help="TV-L1 implementation (default: flow.backend)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help="torch backend's device (default: flow.device)")
    parser.add_argument("--batch-pairs", type=int, help="frame pairs per TV-L1 call (default: flow.batch_pairs)")


def _number(text: str) -> int | float:
    """``8`` → 8, ``7.5`` → 7.5: written as YAML would read it, so the settings recorded in
    frames.json (and the resume check) match a config that says the same."""
    value = float(text)
    return int(value) if value.is_integer() else value


def settings(args: argparse.Namespace, config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``extract`` and ``flow`` config sections with the command line's choices applied."""
    from tclsta.config import validate
    from tclsta.errors import ConfigError

    extract, flow = copy.deepcopy(config["extract"]), copy.deepcopy(config["flow"])
    if (args.new_width is None) != (args.new_height is None):
        raise ConfigError("-nw/--new-width and -nh/--new-height go together")
    if args.new_width is not None and args.new_short is not None:
        raise ConfigError("give either -ns/--new-short or -nw/-nh, not both")
    if args.new_short is not None:
        extract["resize"] = {**extract["resize"], "mode": "new_short", "short": args.new_short}
    elif args.new_width is not None:
        extract["resize"] = {**extract["resize"], "mode": "fixed", "width": args.new_width, "height": args.new_height}
    extract["skip_bad"] = True  # report bad videos at the end, keep going
    flow["enabled"] = args.step == 1
    for key, value in (("bound", args.bound), ("backend", args.backend), ("device", args.device),
                       ("batch_pairs", args.batch_pairs)):
        if value is not None:
            flow[key] = value
    validate({"extract": extract, "flow": flow})
    return extract, flow


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    import pandas as pd

    from tclsta.config import digest
    from tclsta.data import layout
    from tclsta.errors import DatasetError
    from tclsta.extraction import extract_shard, extraction_settings
    from tclsta.flow.videos import list_videos

    extract, flow = settings(args, config)
    videos = list_videos(args.inputs, args.class_folder)
    out = Path(args.out)
    settings_digest = digest(extraction_settings(extract, flow))
    # for the summary only (extraction verifies each folder before it skips it): made with these settings
    done_before = {(row.folder, row.video_id) for row in videos.itertuples()
                   if (layout.read_meta(layout.video_dir(out / row.folder, row.video_id)) or {}).get("settings")
                   == settings_digest}
    log.info("%d videos, %d already complete, writing to %s", len(videos), len(done_before), out)
    start = time.perf_counter()
    # one extraction per output folder (class folders with -cf): a video id stays one path component
    tables = []
    for folder, group in videos.groupby("folder", sort=False):
        table = extract_shard(group, "/", out / folder, extract, flow, out / folder / "flow_index.tsv")
        tables.append(table.assign(folder=folder))
    table = pd.concat(tables, ignore_index=True)
    seconds = time.perf_counter() - start
    fresh = pd.Series([key not in done_before for key in zip(table["folder"], table["video_id"])])
    new = table[fresh & (table["status"] == "ok")]
    pairs = int(new["n_flow"].sum())
    rate = f", {pairs / seconds:.2f} pairs/s" if pairs and seconds > 0 else ""
    log.info("%d videos done (%d skipped as complete), %d frames and %d flow pairs in %.1f s%s; index: flow_index.tsv "
             "in %s", len(new), len(done_before), int(new["n_frames"].sum()), pairs, seconds, rate,
             "each class folder" if args.class_folder else out)
    bad = table[table["status"] != "ok"]
    if len(bad):
        listing = "; ".join(f"{row.video_id}: {row.error}" for row in bad.itertuples())
        raise DatasetError(f"{len(bad)} of {len(table)} videos could not be read ({listing})")
