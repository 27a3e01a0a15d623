"""Command-line options shared by several stages (defaults follow :mod:`tclsta.paths`)."""

from __future__ import annotations

import argparse

STREAMS = ["rgb", "flow"]
ATTENTIONS = ["none", "spatial", "temporal", "both"]


def add_split_argument(parser: argparse.ArgumentParser) -> None:
    """``--split N``."""
    parser.add_argument("--split", type=int, required=True, help="split (or fold) number")


def add_stream_job_arguments(parser: argparse.ArgumentParser) -> None:
    """Which stream model (split, stream, attention) and where its frames are."""
    add_split_argument(parser)
    parser.add_argument("--stream", choices=STREAMS, required=True)
    parser.add_argument("--attention", choices=ATTENTIONS, required=True)
    parser.add_argument("--manifest", help="manifest CSV (default <output_dir>/manifest.csv)")
    parser.add_argument("--frames-index", help="frame index CSV (default <output_dir>/frames_index.csv)")
    parser.add_argument("--frames", help="frames folder (default <output_dir>/frames)")


def add_extraction_input_arguments(parser: argparse.ArgumentParser) -> None:
    """The manifest, the dataset folder it is relative to, and the frames folder extraction writes."""
    parser.add_argument("--manifest", required=True, help="manifest CSV (tclsta manifest)")
    parser.add_argument("--root", help="dataset folder the manifest paths are relative to (default: dataset.root)")
    parser.add_argument("--frames", required=True, help="folder receiving <video_id>/ frame folders")


def add_cache_pair_arguments(parser: argparse.ArgumentParser, note: str = "") -> None:
    """``--static`` / ``--motion``: the RGB and flow feature caches the fusion stages read."""
    default = "<output_dir>/features/split<N>/{}_<cln.attention>.h5"
    parser.add_argument("--static", help=f"{note}RGB feature cache (default {default.format('rgb')})")
    parser.add_argument("--motion", help=f"{note}flow feature cache (default {default.format('flow')})")


def add_results_arguments(parser: argparse.ArgumentParser) -> None:
    """The run folder and the metrics/predictions files that evaluate writes and report reads."""
    parser.add_argument("--output-dir", help="the run's output folder to read (default: output_dir)")
    parser.add_argument("--metrics", help="metrics JSON (default <output_dir>/metrics.json)")
    parser.add_argument("--predictions", help="per-video predictions CSV (default <output_dir>/evaluation/predictions.csv)")
