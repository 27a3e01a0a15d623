"""Data-loader throughput per worker at paper size, and the workers a GPU would need.

Writes a few videos of extracted frames as extraction does (340×256 JPEGs at quality 95: RGB
frames and x/y flow images of a smooth random field), then times the training item of
:class:`tclsta.data.frames_dataset.FramesDataset` in this one process (= one DataLoader
worker): TSN sampling, JPEG decode, multi-scale crop + flip, resize to 224, uint8. The
figure is CPU seconds (``time.process_time``), so a loaded machine does not distort it.
Split into decode (``FramesDataset.load``) and transform.

    python benchmarks/loader.py [--items 40] [--gpu-rate 2500] [--threads 1]

``--gpu-rate``: images/s one GPU trains ResNet-50 at (≈ 2,500 on an H100 with bf16 and
channels_last); a flow stack of L = 10 fields counts as one image. Workers needed =
gpu-rate / (items/s of one worker).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from tclsta.data.frames_dataset import FramesDataset, VideoRecord
from tclsta.data.layout import flow_names, rgb_name

WIDTH, HEIGHT, QUALITY = 340, 256, 95
SCALES = (1.0, 0.875, 0.75, 0.66)


def smooth(rng: np.random.Generator, channels: int, sigma: float, low: int = 0, high: int = 255) -> np.ndarray:
    """A smooth random uint8 image with values in low..high."""
    field = cv2.GaussianBlur(rng.uniform(0, 255, (HEIGHT, WIDTH, channels)).astype(np.float32), (0, 0), sigma)
    return cv2.normalize(field, None, low, high, cv2.NORM_MINMAX).astype(np.uint8).reshape(HEIGHT, WIDTH, channels)


def write_videos(root: Path, videos: int, frames: int) -> list[VideoRecord]:
    """Frame folders in the extraction layout (every frame a distinct file, so no decode is cached).

    RGB: fine texture; flow: smooth fields within ±4.4 px of 0 at bound 20 (values 100..156),
    as most of a real video's flow.
    """
    rng = np.random.default_rng(0)
    params = [cv2.IMWRITE_JPEG_QUALITY, QUALITY]
    records = []
    for v in range(videos):
        folder = root / f"video{v}"
        folder.mkdir(parents=True)
        for i in range(1, frames + 1):
            cv2.imwrite(str(folder / rgb_name(i)), smooth(rng, 3, sigma=1.5), params)
            if i < frames:
                for name in flow_names(i):
                    cv2.imwrite(str(folder / name), smooth(rng, 1, sigma=6.0, low=100, high=156)[..., 0], params)
        records.append(VideoRecord(f"video{v}", 0, frames, frames - 1))
    for kind, pattern in (("RGB", "img_*.jpg"), ("flow", "flow_x_*.jpg")):
        files = list(root.glob(f"video0/{pattern}"))
        print(f"{kind} JPEGs: {sum(f.stat().st_size for f in files) / len(files) / 1024:.0f} KB on average")
    return records


def per_item(dataset: FramesDataset, items: int) -> tuple[float, float]:
    """CPU seconds per item: (decode, decode + transform)."""
    rng = np.random.default_rng(1)
    keys = [(int(rng.integers(len(dataset))), int(rng.integers(2**31))) for _ in range(items)]
    dataset[keys[0]]  # warm-up
    start = time.process_time()
    for index, seed in keys:
        video = dataset.videos[index]
        dataset.load(video, np.array([1 + seed % (video.n_flow - dataset.length)]))
    decode = (time.process_time() - start) / items
    start = time.process_time()
    for key in keys:
        dataset[key]
    return decode, (time.process_time() - start) / items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=40, help="training items timed per stream")
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--frames", type=int, default=40, help="frames per video")
    parser.add_argument("--gpu-rate", type=float, default=2500.0, help="images/s the GPU consumes")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (a DataLoader worker has 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        videos = write_videos(Path(tmp), args.videos, args.frames)
        print(f"{WIDTH}x{HEIGHT} JPEG q{QUALITY} → multi-scale crop → 224, one worker, CPU time per item "
              f"(torch {args.threads} thread); GPU at {args.gpu_rate:g} images/s")
        print(f"{'stream':<16}{'decode ms':>10}{'total ms':>10}{'items/s':>9}{'workers needed':>16}")
        for stream, length in (("rgb", 1), ("flow", 10)):
            dataset = FramesDataset(tmp, videos, stream=stream, segments=1, crop_size=224, flow_stack=length,
                                    scales=SCALES, train=True)
            decode, total = per_item(dataset, args.items)
            rate = 1 / total
            name = "rgb frame" if stream == "rgb" else f"flow stack L={length}"
            print(f"{name:<16}{decode * 1e3:>10.1f}{total * 1e3:>10.1f}{rate:>9.0f}{args.gpu_rate / rate:>16.1f}")


if __name__ == "__main__":
    main()
