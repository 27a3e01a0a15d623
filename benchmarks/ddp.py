"""CPU cost of data-parallel stream training: 2 gloo ranks × batch B/2 against 1 process × batch B.

Each setting trains the same tiny flow stream (ResNet-18 of width 8, 64-px crops) on synthetic
frames twice, for ``--short`` and ``--long`` iterations, through the real ``tclsta train-stream``
(under ``torchrun`` for 2 ranks); the difference of the two wall times over the difference of
iterations is the time per iteration without start-up. Every process gets ``--threads`` threads.

    python benchmarks/ddp.py [--short 10] [--long 30] [--threads 1] [--out ddp.json]

On a machine with fewer cores than 2 × threads the ranks share cores, and the overhead includes that.
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from frames_factory import make_dataset  # noqa: E402


def config(out: Path, iterations: int, gpus: int) -> dict:
    return {"output_dir": str(out), "device": "cpu", "seed": 0,
            "model": {"depth": 18, "base_width": 8, "flow_stack": 3, "cam_channels": 16, "lstm_hidden": 16},
            "stream": {"segments": 4, "crop_size": 64, "batch_size": 8, "iterations": {"flow": iterations},
                       "holdout_fraction": 0.0, "checkpoint_every": 10_000, "num_workers": 0, "gpus": gpus}}


def wall_time(data: dict, out: Path, iterations: int, gpus: int, threads: int) -> float:
    """Seconds of one ``tclsta train-stream`` run (torchrun when ``gpus`` > 1)."""
    launch = ["torchrun", "--standalone", f"--nproc-per-node={gpus}", "--no-python"] if gpus > 1 else []
    output = out / f"g{gpus}_i{iterations}.pt"
    command = [*launch, "tclsta", "train-stream", "--config-json", json.dumps(config(out, iterations, gpus)),
               "--split", "1", "--stream", "flow", "--attention", "both", "--manifest", str(data["manifest"]),
               "--frames-index", str(data["frames_index"]), "--frames", str(data["frames"]), "--output", str(output)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, capture_output=True)
    return time.perf_counter() - start


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
            short, long = (wall_time(data, out, n, gpus, args.threads) for n in (args.short, args.long))
            result[f"{gpus}_rank_s_per_iteration"] = round((long - short) / (args.long - args.short), 4)
            result[f"{gpus}_rank_startup_s"] = round(short - args.short * (long - short) / (args.long - args.short), 2)
    result["overhead_2_vs_1"] = round(result["2_rank_s_per_iteration"] / result["1_rank_s_per_iteration"] - 1, 3)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
