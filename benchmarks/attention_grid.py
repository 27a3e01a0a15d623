"""Cost of the attention grid: one training step of an RGB + STA stream per ``model.output_stride``.

The default config's model (``config.yaml``: ResNet-18 of width 8, CAM and LSTM widths 64,
``max_dilation``, ``temporal_attention``) with only the output stride changed, built as
``train-stream`` builds it (:func:`tclsta.models.stream.build_stream`). One step = forward,
the three heads' losses, backward, SGD with momentum, on a batch of ``--batch`` videos ×
``--segments`` frames at the default 64-px crops (stride 32 at 56 px, the old 2×2 grid).
Median wall and CPU seconds over ``--steps`` steps after 10 warm-up steps, on the machine as it
is and with one competing busy process (``benchmarks/flow.py``'s), side by side.

    python benchmarks/attention_grid.py [--threads 2] [--steps 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from flow import busy_process  # noqa: E402

from tclsta.config import load  # noqa: E402
from tclsta.models.stream import build_stream, stream_loss  # noqa: E402

GRIDS = ((4, 64), (8, 64), (32, 56))  # output stride, crop size: 16×16, 8×8, 2×2


def step_seconds(output_stride: int, crop: int, args: argparse.Namespace) -> tuple[float, float]:
    """Median (wall, CPU) seconds of one training step."""
    config = load(REPO / "config.yaml")
    torch.manual_seed(0)
    model = build_stream({**config["model"], "output_stride": output_stride}, "rgb", "both", num_classes=6,
                         pretrained=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(args.batch, args.segments, 3, crop, crop)
    labels = torch.randint(0, 6, (args.batch,))
    weights = config["stream"]["loss_weights"]
    walls, cpus = [], []
    for step in range(10 + args.steps):
        wall, cpu = time.perf_counter(), time.process_time()
        optimizer.zero_grad()
        stream_loss(model(x), labels, weights).backward()
        optimizer.step()
        if step >= 10:
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--segments", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print("| grid | output stride, crop | quiet: wall s / CPU s per step | one busy process: wall s / CPU s |")
    print("|---|---|---|---|")
    for output_stride, crop in GRIDS:
        quiet = step_seconds(output_stride, crop, args)
        with busy_process(True):
            busy = step_seconds(output_stride, crop, args)
        grid = -(-crop // output_stride)  # conv5 rounds up: 56 px at stride 32 give 2×2
        print(f"| {grid}×{grid} | {output_stride}, {crop} px | {quiet[0]:.3f} / {quiet[1]:.3f} | {busy[0]:.3f} / {busy[1]:.3f} |",
              flush=True)


if __name__ == "__main__":
    main()
