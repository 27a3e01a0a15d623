"""Train one spatial-temporal attention stream (paper Section III-A, IV-B1).

Reads the manifest, the frame index and the extracted frames; writes
<output_dir>/streams/split<N>/<stream>_<attention>.pt (or --output). A resume file next to
it is updated every stream.checkpoint_every iterations; rerunning the same command after
a crash or preemption continues from it.

With stream.gpus N > 1, start it in N processes (one per GPU; with device cpu, N CPU processes):
  torchrun --standalone --nproc-per-node N --no-python tclsta train-stream ...
or, inside a SLURM job, srun --ntasks=N tclsta train-stream ... (docs/multi-gpu.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tclsta import paths
from tclsta.commands._arguments import add_stream_job_arguments

NAME = "train-stream"
HELP = "train an RGB or flow attention stream (ResNet + spatial/temporal attention)"
ORDER = 40


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_stream_job_arguments(parser)
    parser.add_argument("--output", help="checkpoint (default <output_dir>/streams/split<N>/<stream>_<attention>.pt)")
    parser.add_argument("--stop-after", type=int, metavar="ITER",
                        help="stop after this iteration's checkpoint (time-sliced jobs); rerun to continue")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    from tclsta.training.trainer import StreamJob, train_stream

    out = config["output_dir"]
    job = StreamJob(
        split=args.split, stream=args.stream, attention=args.attention,
        manifest=Path(args.manifest or paths.manifest(out)),
        frames_index=Path(args.frames_index or paths.frames_index(out)),
        frames_root=Path(args.frames or paths.frames_root(out)),
        output=Path(args.output or paths.stream_checkpoint(out, args.split, args.stream, args.attention)),
    )
    train_stream(config, job, stop_after=args.stop_after)
