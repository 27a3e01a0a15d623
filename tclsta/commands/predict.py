"""Classify videos with a model bundle (tclsta bundle): decode, TV-L1 flow, both streams, the fusion.

VIDEO can be a video file, a folder (its videos, recursively) or a .txt list (one path a line).
Every step is the pipeline's own code (extract, dump-features, the fusion as evaluate scores it),
so a video of the run's test set gets the top-1 of evaluation/predictions.csv; only the frames
the streams' test samples (and windows) read are kept, and TV-L1 runs only for their pairs. Writes
OUT/predictions.csv (path, video_id, prediction = label number, class_name, probability =
the fused score of that class, method = the metrics.json row served) and OUT/predictions.jsonl
(the top-k classes), and prints a table. A video that cannot be read is named in the log, the
others are still predicted, and the exit status is 1.

--windows SECONDS [--stride SECONDS] (long or untrimmed videos, e.g. THUMOS14): each video is
also scored window by window, each window sampled and cropped as a video of its own frames
(the last window ends at the last frame): OUT/windows.csv (start, end in seconds, the top-1)
and a "windows" list with the top-k in predictions.jsonl.

--fusion (default: the bundle's best [held-out] row): cln_heldout, awl_heldout,
cln_awl_heldout, paper (CLN + AWL), late, rgb, flow.

--explain DIR writes, per video, DIR/<video_id>.mp4 (640x480, 2 fps, one frame per sampled
frame: the paper's spatial map m-tilde blended on the frame as a heatmap with a colour bar,
softmax(gamma) of each sampled frame as bars under it, the top-3 classes of the fusion served
in the title), DIR/<video_id>.png (contact sheet of all sampled frames) and, with --gif,
DIR/<video_id>.gif (needs Pillow). --explain-stream flow draws the flow stream's attention
(its map over the RGB frame at each stack's position) instead of the RGB stream's. An
attention mode without spatial maps (none, temporal) gives the softmax(gamma) bars only.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tclsta.errors import TclstaError

if TYPE_CHECKING:
    from tclsta.inference.explain import Explainer

NAME = "predict"
HELP = "classify videos with a model bundle (top-k, predictions.csv)"
ORDER = 100
FUSIONS = ["cln_heldout", "awl_heldout", "cln_awl_heldout", "paper", "late", "rgb", "flow"]

log = logging.getLogger(__name__)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """VIDEO…, --model, --device, --batch-videos (shared with tclsta features)."""
    parser.add_argument("videos", nargs="+", metavar="VIDEO_OR_DIR_OR_LIST", help="video files, folders or .txt lists")
    parser.add_argument("--model", required=True, metavar="DIR", help="model bundle (<output_dir>/model/split<N>)")
    parser.add_argument("--device", help="cpu, cuda, cuda:N (default: the GPU when there is one)")
    parser.add_argument("--batch-videos", type=int, default=8, metavar="N",
                        help="videos extracted at a time into a temporary folder (default 8)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="folder for predictions.csv/.jsonl")
    parser.add_argument("--top-k", type=int, default=5, help="classes listed per video (default 5)")
    parser.add_argument("--fusion", choices=FUSIONS, help="fusion served (default: the best [held-out] row)")
    parser.add_argument("--windows", type=float, metavar="SECONDS",
                        help="also score sliding windows of SECONDS (long or untrimmed videos): OUT/windows.csv")
    parser.add_argument("--stride", type=float, metavar="SECONDS", help="window step (default: --windows)")
    parser.add_argument("--explain", metavar="DIR", help="write per video an attention MP4 and PNG contact sheet here")
    parser.add_argument("--gif", action="store_true", help="with --explain: also a GIF per video (needs Pillow)")
    parser.add_argument("--explain-stream", choices=["rgb", "flow"], default="rgb",
                        help="with --explain: whose attention is drawn (default rgb; flow: the flow stream's "
                             "map over the RGB frame at each stack's position)")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    from tclsta.atomic import atomic_path, atomic_write_text
    from tclsta.inference.bundle import load_bundle
    from tclsta.inference.predict import (choose_fusion, prediction_table, predict_videos, streams_for, top_k,
                                          video_paths, window_table)

    if args.stride is not None and args.windows is None:
        raise TclstaError("--stride needs --windows SECONDS")
    bundle = load_bundle(args.model)
    fusion = choose_fusion(bundle, args.fusion)
    method = bundle.rows()[fusion]["row"]
    log.info("%s: %s (test %s %.4f in the run)", bundle.folder, method, bundle.record["metric"],
             bundle.rows()[fusion][bundle.record["metric"]])
    explainer = _explainer(args, fusion, method, bundle.class_names, streams_for(fusion))
    results = predict_videos(bundle, video_paths(args.videos), [fusion], device=args.device,
                             batch_videos=args.batch_videos, on_batch=explainer,
                             windows=None if args.windows is None else (args.windows, args.stride))
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    table = prediction_table(results, bundle.class_names, fusion, method)
    with atomic_path(out / "predictions.csv") as tmp:
        table.to_csv(tmp, index=False)
    atomic_write_text(out / "predictions.jsonl", "".join(
        json.dumps(top_k(r, bundle.class_names, args.top_k, fusion, method)) + "\n" for r in results))
    if args.windows is not None:
        with atomic_path(out / "windows.csv") as tmp:
            window_table(results, bundle.class_names, fusion, method).to_csv(tmp, index=False)
    print(table[["video_id", "prediction", "class_name", "probability"]].to_string(index=False))
    log.info("wrote %s and %s", out / "predictions.csv", out / "predictions.jsonl")
    if explainer is not None:
        log.info("wrote %d explain files to %s", len(explainer.written), explainer.folder)
    failed = [r for r in results if r.error]
    if failed:
        raise TclstaError(f"{len(failed)} of {len(results)} videos could not be predicted: "
                          + ", ".join(str(r.path) for r in failed))


def _explainer(args: argparse.Namespace, fusion: str, method: str, class_names: list[str],
               streams: tuple[str, ...]) -> Explainer | None:
    """The --explain hook (None without --explain); its option errors before any video is decoded."""
    from tclsta.errors import ConfigError
    from tclsta.inference.explain import Explainer

    if args.explain is None:
        if args.gif:
            raise ConfigError("--gif needs --explain DIR")
        return None
    if args.explain_stream not in streams:
        raise ConfigError(f"--explain-stream {args.explain_stream}: --fusion {fusion} does not run that stream")
    return Explainer(Path(args.explain), args.explain_stream, fusion, method, class_names, args.gif)
