"""Train one spatial-temporal attention stream (paper Section III-A, IV-B1).

Reads the manifest, the frame index and the extracted frames; writes
<output_dir>/streams/split<N>/<stream>_<attention>.pt (or --output). A resume file next to
it is updated every stream.checkpoint_every iterations; rerunning the same command after
a crash or preemption continues from it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

NAME = "train-stream"
HELP = "train an RGB or flow attention stream (ResNet + spatial/temporal attention)"
ORDER = 40


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--split", type=int, required=True, help="split (or fold) number")
    parser.add_argument("--stream", choices=["rgb", "flow"], required=True)
    parser.add_argument("--attention", choices=["none", "spatial", "temporal", "both"], required=True)
    parser.add_argument("--manifest", help="manifest CSV (default <output_dir>/manifest.csv)")
    parser.add_argument("--frames-index", help="frame index CSV (default <output_dir>/frames_index.csv)")
    parser.add_argument("--frames", help="frames folder (default <output_dir>/frames)")
    parser.add_argument("--output", help="checkpoint (default <output_dir>/streams/split<N>/<stream>_<attention>.pt)")
    parser.add_argument("--stop-after", type=int, metavar="ITER",
                        help="stop after this iteration's checkpoint (time-sliced jobs); rerun to continue")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    from tclsta.training.trainer import StreamJob, train_stream

    out = Path(config["output_dir"])
    job = StreamJob(
        split=args.split, stream=args.stream, attention=args.attention,
        manifest=Path(args.manifest or out / "manifest.csv"),
        frames_index=Path(args.frames_index or out / "frames_index.csv"),
        frames_root=Path(args.frames or out / "frames"),
        output=Path(args.output or out / "streams" / f"split{args.split}" / f"{args.stream}_{args.attention}.pt"),
    )
    train_stream(config, job, stop_after=args.stop_after)
