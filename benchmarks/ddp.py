"""CPU cost of data-parallel stream training: 2 gloo ranks × batch B/2 against 1 process × batch B.

Each setting trains the same tiny flow stream (ResNet-18 of width 8, 64-px crops) on synthetic
frames twice, for ``--short`` and ``--long`` iterations, through the real ``tclsta train-stream``
(under ``torchrun`` for 2 ranks); the difference of the two wall times over the difference of
iterations is the time per iteration without start-up. Every process gets ``--threads`` threads.

    python benchmarks/ddp.py [--short 10] [--long 30] [--threads 1] [--out ddp.json]

On a machine with fewer cores than 2 × threads the ranks share cores, and the overhead includes that.
``per_iteration`` also gives the DDP row of ``benchmarks/gpu.py`` (the UCF101 preset on 1…N GPUs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from frames_factory import make_dataset  # noqa: E402


TINY = {"model": {"depth": 18, "base_width": 8, "flow_stack": 3, "cam_channels": 16, "lstm_hidden": 16},
        "stream": {"segments": 4, "crop_size": 64, "num_workers": 0}}


def config(out: Path, iterations: int, gpus: int, batch_size: int, device: str, tiny: bool) -> dict:
    """The run's settings over the preset (or the tiny model): the flow stream, no held-out set, no checkpoints."""
    stream = {"batch_size": batch_size, "iterations": {"flow": iterations}, "holdout_fraction": 0.0,
              "checkpoint_every": 10_000, "gpus": gpus}
    run = {"output_dir": str(out), "device": device, "seed": 0}
    if tiny:
        return {**run, "model": TINY["model"], "stream": {**TINY["stream"], **stream}}
    return {**run, "model": {"pretrained": "none"}, "stream": stream}


def wall_time(data: dict, out: Path, iterations: int, gpus: int, threads: int, *, batch_size: int = 8,
              device: str = "cpu", preset: Path | None = None) -> float:
    """Seconds of one ``tclsta train-stream`` run (torchrun when ``gpus`` > 1), on ``preset``'s settings when
    given, else on the tiny model."""
    launch = ["torchrun", "--standalone", f"--nproc-per-node={gpus}", "--no-python"] if gpus > 1 else []
    output = out / f"g{gpus}_i{iterations}.pt"
    settings = config(out, iterations, gpus, batch_size, device, tiny=preset is None)
    command = [*launch, "tclsta", "train-stream", *(["--config", str(preset)] if preset else []),
               "--config-json", json.dumps(settings),
               "--split", "1", "--stream", "flow", "--attention", "both", "--manifest", str(data["manifest"]),
               "--frames-index", str(data["frames_index"]), "--frames", str(data["frames"]), "--output", str(output)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    run = subprocess.run(command, env=env, capture_output=True, text=True)
    if run.returncode:
        raise RuntimeError(f"{' '.join(command[:6])} ... failed:\n{run.stderr[-3000:]}")
    return time.perf_counter() - start


def per_iteration(data: dict, out: Path, gpus: int, short: int, long: int, threads: int,
                  **options: Any) -> tuple[float, float]:
    """Seconds per iteration without start-up (from a ``short`` and a ``long`` run), and the start-up seconds."""
    short_s, long_s = (wall_time(data, out, n, gpus, threads, **options) for n in (short, long))
    step = (long_s - short_s) / (long - short)
    return step, short_s - short * step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", type=int, default=10)
    parser.add_argument("--long", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1, help="threads per process")
    parser.add_argument("--out", type=Path, help="write the JSON here too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        data = make_dataset(out / "data", classes=3, train_per_class=6, test_per_class=1, frames=12,
                            height=80, width=96)
        result = {"cores": os.cpu_count(), "threads_per_process": args.threads, "global_batch": 8}
        for gpus in (1, 2):
            step, startup = per_iteration(data, out, gpus, args.short, args.long, args.threads)
            result[f"{gpus}_rank_s_per_iteration"] = round(step, 4)
            result[f"{gpus}_rank_startup_s"] = round(startup, 2)
    result["overhead_2_vs_1"] = round(result["2_rank_s_per_iteration"] / result["1_rank_s_per_iteration"] - 1, 3)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
