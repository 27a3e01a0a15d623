"""TV-L1 accuracy and speed: our batched PyTorch TV-L1 next to OpenCV's DualTVL1OpticalFlow, in one run.

Pairs are 340×256 and made from real photos (matplotlib's sample images, no download) with
known flow: ``smooth`` (affine + low-frequency waves, ≤ ~4 px), ``layered`` (a photo patch
moving over a differently moving background: motion boundaries and occlusions) and ``large``
(a 4–31 px pan plus waves). ``video`` is consecutive frames of a real MJPG video panning and
zooming over the photo, decoded with OpenCV: there is no ground truth, so it reports the
agreement (mean end-point difference) between ours and OpenCV. Speed is pairs/s on the
smooth + layered pairs with the same thread count for both (``--threads``, default 2);
CUDA is measured too when a GPU is present.

    python benchmarks/flow.py [--pairs 6] [--threads 2] [--batch 8] [--quick]

Targets (issue 3): CPU, 2 cores: ≥ 4× OpenCV's pairs/s with EPE no worse; GPU: ≥ 1,000 pairs/s.
"""

from __future__ import annotations

import os

# On a shared machine OpenMP threads that spin while waiting slow every fused kernel down
# many times over; passive waiting must be chosen before torch loads its OpenMP runtime.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import matplotlib.cbook as cbook  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from tclsta.data.video import decode_video  # noqa: E402
from tclsta.flow import tvl1  # noqa: E402
from tclsta.flow.opencv_backend import tvl1_opencv  # noqa: E402
from tclsta.flow.tvl1 import resolve_nscales  # noqa: E402

H, W = 256, 340


def photo(name: str) -> np.ndarray:
    """A sample photo shipped with matplotlib, as float32 grayscale 0..255."""
    path = cbook.get_sample_data(name, asfileobj=False)
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        sys.exit(f"{path}: cannot read the sample photo")
    return image.astype(np.float32)


def sample(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    return cv2.remap(image, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_CUBIC,
                     borderMode=cv2.BORDER_REFLECT101)


def smooth_field(rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """Affine motion plus a few low-frequency waves: ``[H, W, 2]``."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    xc, yc = (xx - W / 2) / W, (yy - H / 2) / H
    flow = np.zeros((H, W, 2), np.float32)
    for c in range(2):
        a = rng.uniform(-1, 1, 3) * amplitude / 2
        flow[..., c] = a[0] + a[1] * xc * 2 + a[2] * yc * 2
        for _ in range(3):
            k = rng.uniform(0.5, 2.5, 2) * 2 * np.pi
            flow[..., c] += rng.uniform(0, amplitude / 4) * np.sin(k[0] * xc + k[1] * yc + rng.uniform(0, 6.3))
    return flow


def warped_pair(big: np.ndarray, flow: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(I0, I1) with ``I1(x + flow(x)) = I0(x)``: I1 is a crop of ``big``, I0 samples it along the flow."""
    oy, ox = rng.integers(40, big.shape[0] - H - 40), rng.integers(40, big.shape[1] - W - 40)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    i1 = big[oy:oy + H, ox:ox + W]
    i0 = sample(big, xx + ox + flow[..., 0], yy + oy + flow[..., 1])
    return np.clip(i0, 0, 255).round().astype(np.uint8), np.clip(i1, 0, 255).round().astype(np.uint8)


def layered_pair(bg: np.ndarray, fg: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A photo patch (ellipse) moving by its own translation over a smoothly moving background."""
    flow_bg = smooth_field(rng, 3.0)
    d_fg = rng.uniform(-4, 4, 2).astype(np.float32)
    i0, i1 = warped_pair(bg, flow_bg, rng)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    cx, cy = rng.uniform(0.35, 0.65) * W, rng.uniform(0.35, 0.65) * H
    rx, ry = rng.uniform(0.15, 0.25) * W, rng.uniform(0.2, 0.3) * H
    fy, fx = rng.integers(0, fg.shape[0] - H), rng.integers(0, fg.shape[1] - W)
    patch = fg[fy:fy + H, fx:fx + W]
    inside1 = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1
    inside0 = ((xx + d_fg[0] - cx) / rx) ** 2 + ((yy + d_fg[1] - cy) / ry) ** 2 <= 1
    patch0 = sample(patch, xx + d_fg[0], yy + d_fg[1])
    i1 = np.where(inside1, np.clip(patch, 0, 255).round(), i1).astype(np.uint8)
    i0 = np.where(inside0, np.clip(patch0, 0, 255).round(), i0).astype(np.uint8)
    flow = np.where(inside0[..., None], d_fg, flow_bg)
    return i0, i1, flow


def make_sets(n: int) -> dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    rng = np.random.default_rng(0)
    big = cv2.resize(photo("grace_hopper.jpg"), None, fx=1.0, fy=1.0)
    fg = cv2.resize(photo("Minduka_Present_Blue_Pack.png"), (W + 60, H + 60))
    sets: dict[str, list] = {"smooth": [], "layered": [], "large": []}
    for _ in range(n):
        flow = smooth_field(rng, 4.0)
        sets["smooth"].append((*warped_pair(big, flow, rng), flow))
        sets["layered"].append(layered_pair(big, fg, rng))
        pan = rng.uniform(4, 31) * np.array([np.cos(a := rng.uniform(0, 2 * np.pi)), np.sin(a)], np.float32)
        flow = smooth_field(rng, 2.0) + pan
        big_padded = cv2.copyMakeBorder(big, 40, 40, 40, 40, cv2.BORDER_REFLECT101)
        sets["large"].append((*warped_pair(big_padded, flow, rng), flow))
    return sets


def video_pairs(n: int, folder: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """Consecutive frames of a real MJPG video (pan + slow zoom over the photo), decoded by OpenCV."""
    big = cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    path = folder / "pan.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (W, H))
    for i in range(n + 1):
        zoom = 1.0 + 0.01 * i
        m = np.float32([[zoom, 0, -60 - 2.5 * i], [0, zoom, -80 - 1.5 * i]])
        writer.write(cv2.warpAffine(big, m, (W, H), flags=cv2.INTER_LINEAR))
    writer.release()
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in decode_video(path)]
    return list(zip(gray[:-1], gray[1:]))


def epe(flow: np.ndarray, truth: np.ndarray) -> float:
    return float(np.linalg.norm(flow - truth, axis=-1).mean())


def run_ours(pairs: list, device: torch.device, batch: int, **params) -> tuple[list[np.ndarray], float]:
    """Flows ``[H, W, 2]`` and seconds spent (synchronised), ``batch`` pairs per call."""
    flows, seconds = [], 0.0
    for start in range(0, len(pairs), batch):
        chunk = pairs[start:start + batch]
        prev = torch.from_numpy(np.stack([p[0] for p in chunk])).to(device).float()
        nxt = torch.from_numpy(np.stack([p[1] for p in chunk])).to(device).float()
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = tvl1(prev, nxt, compiled=True, **params)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds += time.perf_counter() - t0
        flows += list(out.permute(0, 2, 3, 1).cpu().numpy())
    return flows, seconds


def run_opencv(pairs: list, **params) -> tuple[list[np.ndarray], float]:
    t0 = time.perf_counter()
    flows = [tvl1_opencv(p[0], p[1], **params) for p in pairs]
    return flows, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=6, help="pairs per set (default 6)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for both (default 2)")
    parser.add_argument("--batch", type=int, default=8, help="pairs per call of our TV-L1 on CPU")
    parser.add_argument("--cuda-batch", type=int, default=128, help="pairs per call on CUDA")
    parser.add_argument("--quick", action="store_true", help="2 pairs per set (a smoke run)")
    args = parser.parse_args()
    n = 2 if args.quick else args.pairs
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    cpu = torch.device("cpu")
    sets = make_sets(n)
    auto = resolve_nscales("auto", H, W, 0.8)
    print(f"# TV-L1 at {W}×{H}, {n} pairs per set, {args.threads} CPU threads, torch {torch.__version__}, "
          f"OpenCV {cv2.__version__}; nscales auto = {auto}")

    t0 = time.perf_counter()
    run_ours([(p[0], p[1]) for p in sets["smooth"]], cpu, args.batch)  # compiles each level's shape once
    print(f"torch.compile warm-up (excluded from timings): {time.perf_counter() - t0:.1f} s; "
          f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}\n")

    print("| set | nscales | EPE OpenCV | EPE ours | ours vs OpenCV |")
    print("|---|---|---|---|---|")
    timed = {"opencv": 0.0, "ours": 0.0, "pairs": 0}
    for name, triples in sets.items():
        pairs = [(p[0], p[1]) for p in triples]
        for nscales in ([5, "auto"] if name == "large" else [5]):
            ref, t_ref = run_opencv(pairs, nscales=nscales)
            ours, t_ours = run_ours(pairs, cpu, args.batch, nscales=nscales)
            if name != "large":
                timed["opencv"] += t_ref
                timed["ours"] += t_ours
                timed["pairs"] += len(pairs)
            e_ref = np.mean([epe(f, p[2]) for f, p in zip(ref, triples)])
            e_ours = np.mean([epe(f, p[2]) for f, p in zip(ours, triples)])
            agree = np.mean([epe(a, b) for a, b in zip(ours, ref)])
            print(f"| {name} | {nscales} | {e_ref:.3f} | {e_ours:.3f} | {agree:.4f} |")
    with tempfile.TemporaryDirectory() as tmp:
        pairs = video_pairs(n, Path(tmp))
    for nscales in (5, "auto"):
        ref, _ = run_opencv(pairs, nscales=nscales)
        ours, _ = run_ours(pairs, cpu, args.batch, nscales=nscales)
        print(f"| video (no truth) | {nscales} | – | – | {np.mean([epe(a, b) for a, b in zip(ours, ref)]):.4f} |")

    ref_rate = timed["pairs"] / timed["opencv"]
    ours_rate = timed["pairs"] / timed["ours"]
    print(f"\n| speed (smooth + layered, nscales 5, {args.threads} threads) | pairs/s | s/pair | × OpenCV |")
    print("|---|---|---|---|")
    print(f"| OpenCV DualTVL1 (CPU) | {ref_rate:.2f} | {1 / ref_rate:.3f} | 1.00 |")
    print(f"| ours, CPU, batch {args.batch} | {ours_rate:.2f} | {1 / ours_rate:.3f} | {ours_rate / ref_rate:.2f} |")
    if torch.cuda.is_available():
        gpu = torch.device("cuda")
        pairs = [(p[0], p[1]) for name in ("smooth", "layered") for p in sets[name]]
        pairs = (pairs * (args.cuda_batch // len(pairs) + 1))[:args.cuda_batch]
        run_ours(pairs, gpu, args.cuda_batch)  # warm-up / compile
        _, seconds = run_ours(pairs, gpu, args.cuda_batch)
        rate = len(pairs) / seconds
        print(f"| ours, CUDA ({torch.cuda.get_device_name()}), batch {args.cuda_batch} | {rate:.1f} | "
              f"{1 / rate:.4f} | {rate / ref_rate:.1f} |")
    else:
        print("| ours, CUDA | unmeasured: no GPU on this machine | | |")


if __name__ == "__main__":
    main()
