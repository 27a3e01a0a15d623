"""TV-L1 accuracy and speed: our batched TV-L1 next to OpenCV's DualTVL1OpticalFlow, in one run.

Pairs are 340×256 and made from real photos (matplotlib's sample images, no download) with
known flow: ``smooth`` (affine + low-frequency waves, ≤ ~4 px), ``layered`` (a photo patch
moving over a differently moving background: motion boundaries and occlusions) and ``large``
(a 4–31 px pan plus waves). ``video`` is consecutive frames of a real MJPG video panning and
zooming over the photo, decoded with OpenCV: there is no ground truth, so it reports the
agreement (mean end-point difference) between ours and OpenCV.

Speed (pairs/s on the smooth + layered pairs, same thread count for both, ``--threads``) is
measured side by side, for OpenCV, the library API (``tvl1(prev, nxt, compiled=True)``) and the
pipeline (``flow_images``, the extract stage's flow with its default settings: nscales auto),
twice: on the machine as it is, and with one competing busy process (``while True: pass``)
started by this script. OMP_WAIT_POLICY is left as the caller's environment has it (normally
unset, as in a user's process). Compile warm-up is timed separately. It also measures the
memory bandwidth (a large numpy copy) and estimates the memory-bound limit of a pair. CUDA,
when present: a batch sweep at the pipeline's settings (nscales auto), with agreement to CPU.

    python benchmarks/flow.py [--pairs 6] [--threads 2] [--batch 8] [--quick] [--json FILE]

Targets (issues 3, 12): CPU, 2 cores: ≥ 4× OpenCV's pairs/s with EPE no worse, also with a busy
process beside it; GPU: ≥ 1,000 pairs/s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import cv2
import matplotlib.cbook as cbook
import numpy as np
import torch

from tclsta.config import validate
from tclsta.data.video import decode_video
from tclsta.flow import native, tvl1
from tclsta.flow.opencv_backend import tvl1_opencv
from tclsta.flow.pipeline import flow_images
from tclsta.flow.tvl1 import resolve_nscales

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
    """Flows ``[H, W, 2]`` and seconds spent (synchronised), ``batch`` pairs per library call."""
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


def run_pipeline(pairs: list, batch: int) -> float:
    """Seconds for the extract stage's flow (``flow_images``, default settings) on the pairs,
    each given as a two-frame RGB video."""
    settings = validate({"flow": {"device": "cpu", "batch_pairs": batch}})["flow"]
    videos = [np.repeat(np.stack(p)[..., None], 3, -1) for p in pairs]
    t0 = time.perf_counter()
    flow_images(videos, settings)
    return time.perf_counter() - t0


@contextmanager
def busy_process(enabled: bool):
    """One competing CPU-bound process (a Python busy loop) while the block runs."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if enabled else None
    try:
        time.sleep(0.5 if enabled else 0)
        yield
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


def native_build_seconds() -> float | None:
    """Seconds to build the native CPU loop into an empty cache (None without a C compiler)."""
    saved = os.environ.get("TCLSTA_CACHE_DIR")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TCLSTA_CACHE_DIR"] = tmp
        native._library = None
        t0 = time.perf_counter()
        ok = native.available()
        seconds = time.perf_counter() - t0
        native._library = None
    if saved is None:
        del os.environ["TCLSTA_CACHE_DIR"]
    else:
        os.environ["TCLSTA_CACHE_DIR"] = saved
    native.available()  # reload from the real cache
    return seconds if ok else None


def bandwidth_gb_s() -> float:
    """Memory bandwidth of a large copy (bytes read + written per second), best of 5."""
    src = np.ones(128 * 2**20 // 4, np.float32)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.nbytes / best / 1e9


def inner_loop_counts(pairs: list, **params) -> dict | None:
    """Inner-loop steps × pixels per pair and the CPU seconds spent in the loop per pixel-step,
    counted in the native loop (None without it)."""
    if not native.available():
        return None
    lib = native._load()
    counted = {"n": 0, "cpu": 0.0}

    class Counting:
        def __getattr__(self, name):
            return getattr(lib, name)

        @staticmethod
        def tvl1_inner(c, h, w, *args):
            t0 = time.thread_time()
            steps = lib.tvl1_inner(c, h, w, *args)
            counted["cpu"] += time.thread_time() - t0  # under the GIL: ctypes returns with it held
            counted["n"] += steps * h * w
            return steps

    native._library = Counting()
    try:
        run_ours(pairs, torch.device("cpu"), len(pairs), **params)
    finally:
        native._library = lib
    return {"pixel_steps_per_pair": counted["n"] / len(pairs), "cpu_ns_per_pixel_step": counted["cpu"] / counted["n"] * 1e9}


# Bytes per pixel and inner step that must move when a pair's planes do not stay in cache:
# reads u, p_x, p_y, a (2 channels each), |∇I1w|², ρ_c (10 floats), writes u, p_x, p_y (6).
BYTES_PER_PIXEL_STEP = 16 * 4


def speed(pairs: list, args, busy: bool) -> dict:
    """pairs/s of OpenCV, the library API and the pipeline, side by side, with or without a busy
    process: ``args.repeats`` rounds of each in turn; the medians of the rates and of each round's
    ratio to OpenCV (so that load changing between rounds hits both sides alike)."""
    contenders = {
        "opencv nscales=5": lambda: run_opencv(pairs, nscales=5)[1],
        "library nscales=5": lambda: run_ours(pairs, torch.device("cpu"), args.batch, nscales=5)[1],
        "opencv nscales=auto": lambda: run_opencv(pairs, nscales="auto")[1],
        "library nscales=auto": lambda: run_ours(pairs, torch.device("cpu"), args.batch, nscales="auto")[1],
        "pipeline nscales=auto": lambda: run_pipeline(pairs, args.batch),
    }
    rates: dict[str, list[float]] = {k: [] for k in contenders}
    cpu: dict[str, list[float]] = {k: [] for k in contenders}
    loads = []
    with busy_process(busy):
        for _ in range(args.repeats):
            for key, run in contenders.items():
                c0 = time.process_time()
                rates[key].append(len(pairs) / run())
                cpu[key].append((time.process_time() - c0) / len(pairs))
            loads.append(os.getloadavg()[0])

    def ratio(key: str) -> float:
        ref = rates["opencv nscales=" + key.rsplit("=", 1)[1]]
        return float(np.median([r / o for r, o in zip(rates[key], ref)]))

    return {"busy_process": busy, "load_average_1min": loads, "repeats": args.repeats,
            "pairs_per_s": {k: float(np.median(v)) for k, v in rates.items()},
            "cpu_s_per_pair": {k: float(np.median(v)) for k, v in cpu.items()},
            "x_opencv": {k: ratio(k) for k in contenders}}


def cuda_sweep(pairs: list, batches: list[int], cpu_flows: list[np.ndarray]) -> list[dict]:
    """pairs/s on CUDA at the pipeline's settings (nscales auto) per batch size, and the mean
    end-point difference to the CPU result of the same pairs."""
    gpu = torch.device("cuda")
    out = []
    for batch in batches:
        work = (pairs * (batch // len(pairs) + 1))[:batch]
        t0 = time.perf_counter()
        run_ours(work, gpu, batch, nscales="auto")  # compile for this batch shape
        warm = time.perf_counter() - t0
        flows, seconds = run_ours(work, gpu, batch, nscales="auto")
        diff = float(np.mean([epe(a, b) for a, b in zip(flows[:len(cpu_flows)], cpu_flows)]))
        out.append({"batch": batch, "pairs_per_s": batch / seconds, "warm_up_s": warm, "epe_vs_cpu": diff})
        print(f"| CUDA batch {batch} | {batch / seconds:.1f} pairs/s | warm-up {warm:.0f} s | EPE vs CPU {diff:.4f} |",
              flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=6, help="pairs per set (default 6)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for both (default 2)")
    parser.add_argument("--batch", type=int, default=8, help="pairs per call of our TV-L1 on CPU")
    parser.add_argument("--cuda-batches", default="32,64,128,256", help="CUDA batch sweep (pairs per call)")
    parser.add_argument("--repeats", type=int, default=3, help="speed rounds per condition (median; default 3)")
    parser.add_argument("--quick", action="store_true", help="2 pairs per set, 1 speed round (a smoke run)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    n = 2 if args.quick else args.pairs
    if args.quick:
        args.repeats = 1
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    cpu = torch.device("cpu")
    sets = make_sets(n)
    auto = resolve_nscales("auto", H, W, 0.8)
    result: dict = {"threads": args.threads, "torch": torch.__version__, "opencv": cv2.__version__, "pairs_per_set": n,
                    "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset"), "nscales_auto": auto,
                    "native_loop": native.available(), "cpu_count": os.cpu_count()}
    print(f"# TV-L1 at {W}×{H}, {n} pairs per set, {args.threads} CPU threads, torch {torch.__version__}, "
          f"OpenCV {cv2.__version__}; nscales auto = {auto}; OMP_WAIT_POLICY={result['omp_wait_policy']}; "
          f"native CPU loop: {result['native_loop']}; load average {os.getloadavg()[0]:.1f}")

    timed = [(p[0], p[1]) for name in ("smooth", "layered") for p in sets[name]]
    result["native_build_s"] = native_build_seconds()
    t0 = time.perf_counter()
    for nscales in (5, "auto"):  # builds the native loop / compiles each level's shape once
        run_ours(timed[:args.batch], cpu, args.batch, nscales=nscales)
    result["warm_up_s"] = time.perf_counter() - t0
    build = result["native_build_s"]
    print(f"native CPU loop build (C compiler, empty cache): {'n/a' if build is None else f'{build:.1f} s'}; "
          f"warm-up (first calls at nscales 5 and auto: build or load, torch.compile where used; excluded from "
          f"timings): {result['warm_up_s']:.1f} s\n")

    print("| set | nscales | EPE OpenCV | EPE ours | ours vs OpenCV |")
    print("|---|---|---|---|---|")
    result["accuracy"] = []
    for name, triples in sets.items():
        pairs = [(p[0], p[1]) for p in triples]
        for nscales in ([5, "auto"] if name == "large" else [5]):
            ref, _ = run_opencv(pairs, nscales=nscales)
            ours, _ = run_ours(pairs, cpu, args.batch, nscales=nscales)
            e_ref = float(np.mean([epe(f, p[2]) for f, p in zip(ref, triples)]))
            e_ours = float(np.mean([epe(f, p[2]) for f, p in zip(ours, triples)]))
            agree = float(np.mean([epe(a, b) for a, b in zip(ours, ref)]))
            result["accuracy"].append({"set": name, "nscales": nscales, "epe_opencv": e_ref, "epe_ours": e_ours,
                                       "ours_vs_opencv": agree})
            print(f"| {name} | {nscales} | {e_ref:.3f} | {e_ours:.3f} | {agree:.4f} |", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        pairs = video_pairs(n, Path(tmp))
    for nscales in (5, "auto"):
        ref, _ = run_opencv(pairs, nscales=nscales)
        ours, _ = run_ours(pairs, cpu, args.batch, nscales=nscales)
        agree = float(np.mean([epe(a, b) for a, b in zip(ours, ref)]))
        result["accuracy"].append({"set": "video", "nscales": nscales, "ours_vs_opencv": agree})
        print(f"| video (no truth) | {nscales} | – | – | {agree:.4f} |")

    result["speed"] = [speed(timed, args, busy) for busy in (False, True)]
    print(f"\n| speed (smooth + layered, {len(timed)} pairs, {args.threads} threads, median of {args.repeats}) "
          "| pairs/s | × OpenCV | CPU s/pair | with 1 busy process: pairs/s | × OpenCV |")
    print("|---|---|---|---|---|---|")
    quiet, busy = result["speed"]
    for key in quiet["pairs_per_s"]:
        print(f"| {key} | {quiet['pairs_per_s'][key]:.2f} | {quiet['x_opencv'][key]:.2f} | "
              f"{quiet['cpu_s_per_pair'][key]:.3f} | {busy['pairs_per_s'][key]:.2f} | {busy['x_opencv'][key]:.2f} |")
    print("load average (1 min) after each round: "
          f"{' '.join(f'{x:.1f}' for x in quiet['load_average_1min'])} / "
          f"{' '.join(f'{x:.1f}' for x in busy['load_average_1min'])} (with the busy process)")

    counts = inner_loop_counts(timed[:args.batch], nscales="auto")
    bandwidth = bandwidth_gb_s()
    result["memory"] = {"copy_bandwidth_gb_s": bandwidth, "bytes_per_pixel_step": BYTES_PER_PIXEL_STEP}
    if counts is not None:
        steps = counts["pixel_steps_per_pair"]
        floor = steps * BYTES_PER_PIXEL_STEP / (bandwidth * 1e9)
        achieved = 1 / quiet["pairs_per_s"]["library nscales=auto"]
        loop_rate = BYTES_PER_PIXEL_STEP / counts["cpu_ns_per_pixel_step"]
        result["memory"].update(counts, memory_bound_s_per_pair=floor, achieved_s_per_pair=achieved,
                                inner_loop_gb_s_per_thread=loop_rate)
        print(f"\nmemory: copy bandwidth {bandwidth:.1f} GB/s (read + write); {steps / (H * W):.0f} full-size inner "
              f"steps per pair (nscales auto) × {BYTES_PER_PIXEL_STEP} B/pixel → memory-bound limit {floor:.3f} s/pair "
              f"({1 / floor:.1f} pairs/s) if no plane stayed in cache; achieved {achieved:.3f} s/pair. The inner loop "
              f"itself: {counts['cpu_ns_per_pixel_step']:.2f} CPU ns per pixel-step = {loop_rate:.1f} GB/s per thread")

    if torch.cuda.is_available():
        print(f"\n# CUDA: {torch.cuda.get_device_name()}, nscales auto (the pipeline's)")
        cpu_flows, _ = run_ours(timed, cpu, args.batch, nscales="auto")
        batches = [int(b) for b in args.cuda_batches.split(",")]
        result["cuda"] = {"device": torch.cuda.get_device_name(),
                          "sweep": cuda_sweep(timed, batches, cpu_flows)}
    else:
        result["cuda"] = "unmeasured: no GPU on this machine"
        print("\nCUDA: unmeasured (no GPU on this machine)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
