"""Feature-dump speed: the dump pipeline vs the bare model forward, and the paper's Table IX measure.

Three numbers, side by side in one run (same machine, same moment):

* bare forward   — frames/s of ``model(x)`` on one pre-built batch already in memory
  (eval mode, no_grad; bf16 autocast + channels_last on CUDA);
* dump pipeline  — frames/s of :func:`tclsta.features.dump.extract` over on-disk JPEG
  frames (read, crop, normalise, forward, copy to numpy), the same model and batch size;
  overhead = bare / pipeline;
* Table IX       — test-time frames/s of the two-stream model (paper: 89.6 on a TITAN X):
  every test frame costs one RGB forward and one 2L-channel flow-stack forward, so
  frames/s = 1 / (t_rgb + t_flow) per frame, attention ``both``, at the config's size and
  (``--paper``) at the paper's (ResNet-50, 224×224, L = 10, 25 frames per video).

Frames are generated on the fly (random JPEGs in the tclsta.data.layout format) unless
``--output-dir`` points at a run with ``manifest.csv``, ``frames_index.csv`` and ``frames/``.

    python benchmarks/features.py                  # config.yaml's model, CPU (CUDA if present)
    python benchmarks/features.py --paper          # adds the paper-size Table IX row
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from tclsta.config import load
from tclsta.data.frames_dataset import FramesDataset, VideoRecord, records, split_videos
from tclsta.data.layout import flow_names, rgb_name
from tclsta.device import resolve_device
from tclsta.data.transforms import normalise
from tclsta.features.dump import extract, feature_loader
from tclsta.models.stream import build_stream
from tclsta.training.runtime import autocast, prepare


def random_videos(root: Path, count: int, frames: int, height: int, width: int) -> list[VideoRecord]:
    """Write ``count`` videos of random JPEG frames and flow fields; return their records."""
    rng = np.random.default_rng(0)
    videos = []
    for v in range(count):
        folder = root / f"video{v:03d}"
        folder.mkdir(parents=True)
        for i in range(1, frames + 1):
            cv2.imwrite(str(folder / rgb_name(i)), rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
            if i < frames:
                for name in flow_names(i):
                    cv2.imwrite(str(folder / name), rng.integers(0, 256, (height, width), dtype=np.uint8))
        videos.append(VideoRecord(folder.name, v % 2, frames, frames - 1))
    return videos


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


@torch.no_grad()
def forward_seconds(model: torch.nn.Module, x: torch.Tensor, device: torch.device, repeats: int) -> float:
    """Best-of-``repeats`` seconds of one forward pass on ``x`` (after a warm-up pass)."""
    model.eval()
    x = x.to(device)
    times = []
    for _ in range(repeats + 1):
        sync(device)
        start = time.perf_counter()
        with autocast(device):
            model(x)
        sync(device)
        times.append(time.perf_counter() - start)
    return min(times[1:])


def table_ix(model_cfg: dict, size: int, frames: int, num_classes: int, device: torch.device,
             repeats: int) -> tuple[float, float, float]:
    """(rgb frames/s, flow stacks/s, two-stream test frames/s) for one video of ``frames`` frames."""
    seconds = {}
    for stream in ("rgb", "flow"):
        torch.manual_seed(0)
        model = prepare(build_stream(model_cfg, stream, "both", num_classes, pretrained=False), device)
        channels = 3 if stream == "rgb" else 2 * model_cfg["flow_stack"]
        seconds[stream] = forward_seconds(model, torch.randn(1, frames, channels, size, size), device, repeats)
    return frames / seconds["rgb"], frames / seconds["flow"], frames / (seconds["rgb"] + seconds["flow"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--output-dir", help="a run folder with manifest.csv, frames_index.csv, frames/")
    parser.add_argument("--videos", type=int, default=24, help="videos for the pipeline measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--paper", action="store_true", help="also time the paper-size model (slow on CPU)")
    args = parser.parse_args()
    config = load(args.config)
    device = resolve_device(config["device"])
    model_cfg, scfg, fcfg = config["model"], config["stream"], config["features"]
    size, frames, classes = scfg["crop_size"], fcfg["frames"], 6
    print(f"device: {device} ({torch.get_num_threads()} CPU threads)"
          + (f", {torch.cuda.get_device_name()}" if device.type == "cuda" else "; CUDA: unmeasured (no GPU here)"))
    print(f"model: ResNet-{model_cfg['depth']} width {model_cfg['base_width']}, crop {size}, "
          f"{frames} frames/video, batch {fcfg['batch_size']} frames, L = {model_cfg['flow_stack']}\n")

    with tempfile.TemporaryDirectory() as tmp:
        if args.output_dir:
            out = Path(args.output_dir)
            videos = records(split_videos(out / "manifest.csv", out / "frames_index.csv", 1))[: args.videos]
            frames_root = out / "frames"
        else:
            frames_root = Path(tmp)
            videos = random_videos(frames_root, args.videos, 32, 64, 80)
        print(f"{'stream':<7}{'bare forward fr/s':>19}{'dump pipeline fr/s':>20}{'overhead':>10}")
        for stream in ("rgb", "flow"):
            torch.manual_seed(0)
            model = prepare(build_stream(model_cfg, stream, "both", classes, pretrained=False), device)
            dataset = FramesDataset(frames_root, videos, stream=stream, segments=frames, crop_size=size,
                                    flow_stack=model_cfg["flow_stack"])
            loader = feature_loader(dataset, fcfg["batch_size"], fcfg["num_workers"], device)
            batch = normalise(next(iter(loader))[0], stream == "flow")
            bare = batch.shape[0] * batch.shape[1] / forward_seconds(model, batch, device, args.repeats)
            extract(model, loader, device)  # warm-up (file cache, allocator)
            start = time.perf_counter()
            extract(model, loader, device)
            sync(device)
            pipeline = len(videos) * frames / (time.perf_counter() - start)
            print(f"{stream:<7}{bare:>19.1f}{pipeline:>20.1f}{bare / pipeline:>9.2f}x")

    print("\nTable IX measure (two-stream test frames/s; paper: 89.6 on a TITAN X)")
    print(f"{'model':<40}{'rgb fr/s':>10}{'flow fr/s':>11}{'two-stream fr/s':>17}")
    rows = [(f"config: ResNet-{model_cfg['depth']}/w{model_cfg['base_width']}, {size}px", model_cfg, size)]
    if args.paper:
        paper = dict(model_cfg, depth=50, base_width=64, flow_stack=10, cam_channels=1024, lstm_hidden=512)
        rows.append(("paper: ResNet-50, 224px, L=10, 25 frames", paper, 224))
    for name, cfg, crop in rows:
        n = 25 if cfg is not model_cfg else frames
        rgb, flow, both = table_ix(cfg, crop, n, 101, device, args.repeats)
        print(f"{name:<40}{rgb:>10.1f}{flow:>11.1f}{both:>17.1f}")


if __name__ == "__main__":
    main()
