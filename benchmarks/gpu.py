"""One command for a GPU machine's first minutes: TV-L1, stream training and feature dump throughput, as JSON.

What the UCF101 preset runs (``presets/ucf101.yaml``: 11-level TV-L1 with OpenCV's iteration
counts at 340×256, compiled; ResNet-50 streams at 224 in bf16 + channels_last, batch 8 videos ×
8 segments, L = 10; 25 test frames per video), measured on the device:

* ``tvl1``: pairs/s over a sweep of ``batch_pairs``, and the agreement with the CPU result on the
  same pairs (mean end-point difference in px, and of the quantised uint8 images);
* ``train``: stream training iterations/s with in-memory uint8 tensors and with the real data
  loader over JPEG folders (``input_bound`` when the loader is < 90 % of the in-memory rate);
* ``dump``: feature-dump frames/s over the real loader (``infer``, eval mode);
* ``ddp``: stream training under ``torchrun`` on 1, 2, 4, … and all N GPUs of the machine (the real ``tclsta
  train-stream``, flow stream, the preset's batch of 8 videos *per GPU*): iterations/s, images/s and
  the scaling efficiency, images/s at N over N × images/s at 1 (``benchmarks/ddp.py``). Without CUDA:
  1 and 2 gloo CPU ranks of the tiny model;
* ``predict``: ``tclsta predict`` end to end at the paper's settings against the batch pipeline's
  extract + dump for the same videos, quiet and beside a busy process, and its parts
  (``benchmarks/predict.py``; the paper's Table IX; skipped with ``--quick``).

    python benchmarks/gpu.py [--out gpu.json] [--quick] [--workers N] [--budget 420]

On a CUDA machine the defaults finish within ~8 minutes (``--budget`` seconds are shared by
the sections; each stops its sweep when its share is spent). Without CUDA it runs on the CPU:
``--quick`` shrinks everything (ResNet-18/8 at 64 px, 2-level TV-L1, 1 step, no warm-up) so the script
itself can be tested; those figures say nothing about a GPU and the JSON says ``"device": "cpu"``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).parent))

from ddp import TINY, per_iteration  # noqa: E402
from frames_factory import make_dataset  # noqa: E402
from loader import write_videos  # noqa: E402
from predict import make_bundle, make_videos, measure  # noqa: E402

from tclsta.config import validate  # noqa: E402
from tclsta.data.frames_dataset import FramesDataset, TrainBatches  # noqa: E402
from tclsta.features.dump import extract, feature_loader  # noqa: E402
from tclsta.flow.quantize import quantise  # noqa: E402
from tclsta.flow.tvl1 import tvl1  # noqa: E402
from tclsta.models.stream import build_stream, stream_loss  # noqa: E402
from tclsta.training.runtime import autocast, loader_options, model_input, prepare  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
log = logging.getLogger("gpu")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def preset(quick: bool) -> dict[str, Any]:
    """The UCF101 preset's validated config; ``quick`` shrinks it to a CPU smoke size."""
    raw = yaml.safe_load((REPO / "presets" / "ucf101.yaml").read_text())
    raw["dataset"]["root"] = "/unused"
    if quick:
        raw["flow"]["tvl1"] = {"nscales": 2, "warps": 1, "outer_iterations": 1, "inner_iterations": 2}
        raw["flow"]["compile"] = False
        raw["model"].update(depth=18, base_width=8, cam_channels=16, lstm_hidden=16, flow_stack=3)
        raw["stream"].update(crop_size=64, batch_size=2, segments=2)
        raw["features"].update(frames=3, batch_size=6)
    return validate(raw)


def moving_pairs(n: int, height: int, width: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` grayscale pairs of a smooth random texture shifted by (1.5, −0.5) px, 0..255 float."""
    gen = torch.Generator().manual_seed(seed)
    base = torch.rand(n, 1, height // 8 + 2, width // 8 + 2, generator=gen) * 255
    big = torch.nn.functional.interpolate(base, size=(height + 8, width + 8), mode="bicubic", align_corners=False)
    return big[:, 0, 4:4 + height, 4:4 + width].contiguous(), big[:, 0, 3:3 + height, 5:5 + width].contiguous()


def bench_tvl1(cfg: dict, device: torch.device, sweep: list[int], seconds: float) -> dict[str, Any]:
    """Pairs/s per batch size at 340×256 and device-vs-CPU agreement."""
    params, compiled = dict(cfg["flow"]["tvl1"]), bool(cfg["flow"]["compile"])
    height, width = cfg["extract"]["resize"]["height"], cfg["extract"]["resize"]["width"]
    out: dict[str, Any] = {"size": [width, height], "params": params, "compiled": compiled, "pairs_per_s": {}}
    deadline = time.perf_counter() + seconds
    for batch in sweep:
        prev, nxt = (t.to(device) for t in moving_pairs(batch, height, width))
        tvl1(prev, nxt, compiled=compiled, **params)  # compile / warm-up
        sync(device)
        start, calls = time.perf_counter(), 0
        while calls < 2 or (calls < 5 and time.perf_counter() - start < 10):
            tvl1(prev, nxt, compiled=compiled, **params)
            calls += 1
        sync(device)
        out["pairs_per_s"][batch] = round(batch * calls / (time.perf_counter() - start), 1)
        log.info("TV-L1 batch %d: %.1f pairs/s", batch, out["pairs_per_s"][batch])
        if time.perf_counter() > deadline:
            out["sweep_cut_at"] = batch
            break
    if device.type == "cuda":  # the same 2 pairs on the CPU (eager: what the CPU fallback computes)
        prev, nxt = moving_pairs(2, height, width, seed=1)
        cpu = tvl1(prev, nxt, compiled=False, **params)
        gpu = tvl1(prev.to(device), nxt.to(device), compiled=compiled, **params).float().cpu()
        bound = float(cfg["flow"]["bound"])
        out["agreement"] = {
            "mean_epe_px": float((gpu - cpu).norm(dim=1).mean()),
            "max_epe_px": float((gpu - cpu).norm(dim=1).max()),
            "quantised_max_level_diff": int((quantise(gpu, bound).int() - quantise(cpu, bound).int()).abs().max()),
        }
    else:
        out["agreement"] = "not measured (the device is the CPU)"
    return out


def train_steps(model, optimizer, batches, device, flow: bool, weights, steps: int, warmup: int) -> float:
    """Iterations/s of ``steps`` SGD steps fed from the iterator ``batches`` (after ``warmup`` steps)."""
    model.train()

    def step(clips, labels):
        with autocast(device):
            output = model(model_input(clips, device, flow))
            loss = stream_loss(output, labels.to(device, non_blocking=True), weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step(*next(batches)[:2])
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step(*next(batches)[:2])
    sync(device)
    return steps / (time.perf_counter() - start)


def bench_train_and_dump(cfg: dict, device: torch.device, frames_root: Path, videos, steps: int,
                         workers: int, warmup: int) -> dict[str, Any]:
    scfg, mcfg, fcfg = cfg["stream"], cfg["model"], cfg["features"]
    result: dict[str, Any] = {}
    for stream in ("rgb", "flow"):
        torch.manual_seed(0)
        model = prepare(build_stream(dict(mcfg, pretrained="none"), stream, "both", 101), device)
        optimizer = torch.optim.SGD(model.parameters(), lr=scfg["lr"], momentum=scfg["momentum"])
        common = dict(stream=stream, crop_size=scfg["crop_size"], flow_stack=mcfg["flow_stack"])
        dataset = FramesDataset(frames_root, videos, segments=scfg["segments"], scales=scfg["scales"], train=True,
                                **common)
        batch = scfg["batch_size"]
        channels = 3 if stream == "rgb" else 2 * mcfg["flow_stack"]
        size = scfg["crop_size"]
        memory = torch.randint(0, 256, (batch, scfg["segments"], channels, size, size), dtype=torch.uint8)
        memory = memory.pin_memory() if device.type == "cuda" else memory
        labels = torch.randint(0, 101, (batch,))

        def forever():
            while True:
                yield memory, labels

        flow, weights = stream == "flow", scfg["loss_weights"]
        in_memory = train_steps(model, optimizer, forever(), device, flow, weights, steps, warmup)
        loader = DataLoader(dataset, batch_sampler=TrainBatches(len(dataset), batch, 0, 0, steps + warmup),
                            **loader_options(device, workers))
        with_loader = train_steps(model, optimizer, iter(loader), device, flow, weights, steps, warmup)
        images = batch * scfg["segments"]
        result[stream] = {
            "iterations_per_s_in_memory": round(in_memory, 3), "iterations_per_s_loader": round(with_loader, 3),
            "images_per_s_in_memory": round(in_memory * images, 1), "images_per_s_loader": round(with_loader * images, 1),
            "input_bound": with_loader < 0.9 * in_memory, "loader_workers": workers,
        }
        log.info("train %s: %s", stream, result[stream])
        test = FramesDataset(frames_root, videos, segments=fcfg["frames"], **common)
        dump_loader = feature_loader(test, fcfg["batch_size"], workers, device)
        if warmup:
            extract(model, dump_loader, device)  # warm-up
        sync(device)
        start = time.perf_counter()
        extract(model, dump_loader, device)
        sync(device)
        result[f"dump_{stream}_frames_per_s"] = round(len(test) * fcfg["frames"] / (time.perf_counter() - start), 1)
        log.info("dump %s: %.1f frames/s", stream, result[f"dump_{stream}_frames_per_s"])
    return result


def bench_ddp(cfg: dict, device: torch.device, quick: bool) -> dict[str, Any]:
    """Iterations/s, images/s and scaling efficiency of ``tclsta train-stream`` on 1…N ranks, per-rank batch fixed."""
    per_rank, segments = cfg["stream"]["batch_size"], cfg["stream"]["segments"]
    if device.type == "cuda":
        count = torch.cuda.device_count()  # 1, 2, 4, … and all of them
        ranks = sorted({n for n in (2 ** k for k in range(count.bit_length())) if n <= count} | {count})
        short, long, size = 5, 15, (256, 340)
        options: dict[str, Any] = {"device": "cuda", "preset": REPO / "presets" / "ucf101.yaml"}
    else:  # gloo CPU ranks of benchmarks/ddp.py's tiny model, 4 videos a rank
        ranks, per_rank, segments = (1, 2), 4, TINY["stream"]["segments"]
        (short, long), size = (1, 4) if quick else (10, 30), (80, 96)
        options = {"device": "cpu"}
    threads = max(1, (os.cpu_count() or 1) // max(ranks))
    out: dict[str, Any] = {"per_rank_batch": per_rank, "iterations": [short, long], "threads_per_rank": threads,
                           "ranks": {}}
    with tempfile.TemporaryDirectory() as tmp:
        data = make_dataset(Path(tmp) / "data", classes=3, train_per_class=6, test_per_class=1, frames=24,
                            height=size[0], width=size[1])
        for n in ranks:
            step, startup = per_iteration(data, Path(tmp), n, short, long, threads, batch_size=per_rank * n,
                                          **options)
            out["ranks"][n] = {"iterations_per_s": round(1 / step, 3),
                               "images_per_s": round(per_rank * n * segments / step, 1), "startup_s": round(startup, 1)}
            log.info("DDP %d rank(s): %s", n, out["ranks"][n])
    base = out["ranks"][1]["images_per_s"]
    out["scaling_efficiency"] = {n: round(row["images_per_s"] / (n * base), 3) for n, row in out["ranks"].items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="gpu.json", help="JSON file written")
    parser.add_argument("--quick", action="store_true", help="smoke size (for CPU runs and tests)")
    parser.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1), help="DataLoader workers")
    parser.add_argument("--budget", type=float, default=420, help="seconds for the TV-L1 sweep and training")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        log.warning("no CUDA device: running on the CPU%s; these figures are not GPU figures",
                    "" if args.quick else " (slow at paper size: use --quick)")
    cfg = preset(args.quick)
    started = time.perf_counter()
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__, "quick": args.quick, "preset": "presets/ucf101.yaml",
    }
    sweep = [2] if args.quick else [32, 64, 128, 256]
    report["tvl1"] = bench_tvl1(cfg, device, sweep, args.budget * 0.5)
    with tempfile.TemporaryDirectory() as tmp:
        n_videos, n_frames = (2, 12) if args.quick else (16, 60)
        videos = write_videos(Path(tmp), n_videos, n_frames)
        steps, warmup, workers = (1, 0, 0) if args.quick else (20, 2, args.workers)
        report["train"] = bench_train_and_dump(cfg, device, Path(tmp), videos, steps, workers, warmup)
    report["ddp"] = bench_ddp(cfg, device, args.quick)
    if not args.quick:
        with tempfile.TemporaryDirectory() as tmp:
            bundle = make_bundle("paper", Path(tmp), tvl1_full=True)
            videos = make_videos(Path(tmp) / "videos", "paper", 8, 60)
            report["predict"] = measure(bundle, videos, 8 * 60, 2, device.type)
    report["seconds"] = round(time.perf_counter() - started, 1)
    Path(args.out).write_text(json.dumps(report, indent=1))
    log.info("wrote %s (%.0f s)", args.out, report["seconds"])


if __name__ == "__main__":
    main()
