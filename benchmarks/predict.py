"""Test-time efficiency (the paper's Table IX): ``tclsta predict`` end to end, its parts, and the batch pipeline.

For each setting, a real workflow run at minimum iterations makes a model bundle (weights do not
change speed), then the same real MJPG videos are, side by side in one process and alternating:

* ``predict``: :func:`tclsta.inference.predict.predict_videos` as users call it (decode, the RGB frames and
  the TV-L1 of the pairs the streams read, both streams, the fusion served by default);
* ``pipeline``: what the extract (TV-L1 of every pair) and dump-features stages run for those videos
  (:func:`~tclsta.extraction.extract_shard`, then :func:`~tclsta.features.dump.stream_cache` and
  :func:`~tclsta.features.cache.write_feature_cache` per stream), in-process, no Snakemake;

quiet, and beside a busy process (one core spinning). The parts are timed one by one on the same
videos: ``decode`` (OpenCV decode + resize only), ``flow`` (extract minus decode: TV-L1 of the pairs
the stacks read, quantising and writing the JPEGs of the frames and pairs read, and the count and second decode of a
video longer than ``extract.chunk_frames``), ``rgb stream`` and ``flow stream`` (sampling, crops, the
network; reading the JPEGs back), ``fusion``.

Settings: ``paper`` = ``presets/ucf101.yaml`` (340×256, ResNet-50 at 224, L = 10, 25 test frames;
TV-L1 at the minimum iterations unless ``--tvl1-full``), on 320×240 videos; ``default`` =
``config.yaml`` (80×64, ResNet-18/8, 8 frames) on 80×64 videos.

    python benchmarks/predict.py [--settings paper default] [--videos 4] [--length 60] [--repeats 2]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from snakemake_run import snakemake  # noqa: E402
from test_predict import write_video  # noqa: E402
from test_presets import MINIMUM, make_ucf101  # noqa: E402
from weights_server import hashed_name, serve, state_dict_bytes  # noqa: E402

from tclsta.config import deep_merge  # noqa: E402
from tclsta.data.video import iter_frames  # noqa: E402
from tclsta.extraction import extract_shard  # noqa: E402
from tclsta.features.cache import write_feature_cache  # noqa: E402
from tclsta.features.dump import stream_cache  # noqa: E402
from tclsta.inference.bundle import STREAM_FILES, Bundle, bundle_dir, load_bundle  # noqa: E402
from tclsta.inference.predict import (choose_fusion, extract_videos, fusion_scores, predict_videos,  # noqa: E402
                                      stream_caches, stream_reads, video_ids)
from tclsta.models.resnet import ResNet  # noqa: E402
from tclsta.training.checkpoint import load_final  # noqa: E402

log = logging.getLogger("predict-benchmark")

SETTINGS = {  # configfile, the videos' size (h, w), a small synthetic set for the default run
    "paper": (REPO / "presets" / "ucf101.yaml", (240, 320)),
    "default": (REPO / "config.yaml", (64, 80)),
}
SMALL_SYNTHETIC = {"synthetic": {"num_classes": 4, "train_per_class": 2, "test_per_class": 1, "clips_per_group": 1}}


def make_bundle(setting: str, workdir: Path, tvl1_full: bool) -> Bundle:
    """A real minimum-iteration run of ``setting`` to its model bundle (the test frames kept at the setting's)."""
    configfile, _ = SETTINGS[setting]
    minimum = deep_merge(MINIMUM, {"output_dir": str(workdir / "out"), "device": "cpu"})
    minimum["features"].pop("frames")
    if tvl1_full:
        minimum["flow"].pop("tvl1")
    if setting == "paper":
        make_ucf101(workdir / "UCF101")
        minimum["dataset"] = {"root": str(workdir / "UCF101"), "splits": [1]}
    else:
        minimum = deep_merge(minimum, SMALL_SYNTHETIC)
    (workdir / "minimum.yaml").write_text(yaml.safe_dump(minimum))
    with serve() as server:
        data = state_dict_bytes(ResNet(depth=50).state_dict())
        name = hashed_name("resnet50", data)
        server.files[name] = data
        env = {"TORCH_HOME": str(workdir / "torch_home"), "TCLSTA_IMAGENET_URL": server.url + name,
               "CUDA_VISIBLE_DEVICES": ""}
        snakemake(workdir, "--cores", "2", "--configfile", str(configfile), str(workdir / "minimum.yaml"),
                  "--until", "bundle", env=env, timeout=3600)
    return load_bundle(bundle_dir(workdir / "out", 1))


def make_videos(folder: Path, setting: str, count: int, length: int) -> list[Path]:
    """``count`` real MJPG videos of ``length`` frames at the setting's source size."""
    folder.mkdir(parents=True)
    videos = [folder / f"video{i}.avi" for i in range(count)]
    for video in videos:
        write_video(video, length, SETTINGS[setting][1])
    return videos


def pipeline(bundle: Bundle, videos: list[Path], folder: Path, device: str) -> None:
    """The extract and dump-features stages' work for ``videos``."""
    rows = pd.DataFrame({"video_id": video_ids(videos), "path": [str(p) for p in videos]})
    extract = {**bundle.settings["extract"], "skip_bad": False}
    flow = {**bundle.settings["flow"], "device": device}
    table = extract_shard(rows, "/", folder / "frames", extract, flow, folder / "index.tsv")
    table = table.assign(label=-1, subset="test")[["video_id", "label", "n_frames", "n_flow", "subset"]]
    features = bundle.settings["features"]
    for stream in ("rgb", "flow"):
        model, meta = load_final(bundle.path(STREAM_FILES[stream]))
        cache = stream_cache(model, meta, table, folder / "frames", features, device, bundle.class_names, {})
        write_feature_cache(folder / f"{stream}.h5", cache, dtype=features["dtype"])


def timed(action: Callable[[Path], Any]) -> float:
    """Wall seconds of ``action`` run in a fresh temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        action(Path(tmp))
        return time.perf_counter() - start


def parts(bundle: Bundle, videos: list[Path], fusion: str, device: str) -> dict[str, float]:
    """Seconds of each part of predict on ``videos``, timed one by one."""
    resize = bundle.settings["extract"]["resize"]
    start = time.perf_counter()
    for video in videos:
        for _ in iter_frames(video, resize):
            pass
    decode = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        extracted = extract_videos(videos, video_ids(videos), bundle.settings, folder, device,
                                   stream_reads(bundle.settings, ("rgb", "flow")), True)
        out = {"decode": decode, "flow": time.perf_counter() - start - decode}
        caches = {}
        for stream in ("rgb", "flow"):
            start = time.perf_counter()
            caches.update(stream_caches(bundle, extracted, [stream], device, folder))
            sync(device)
            out[f"{stream} stream"] = time.perf_counter() - start
        start = time.perf_counter()
        fusion_scores(bundle, fusion, caches, torch.device(device), folder)
        out["fusion"] = time.perf_counter() - start
    return out


@contextlib.contextmanager
def busy(on: bool) -> Iterator[None]:
    """One CPU core kept spinning by another process while the block runs (when ``on``)."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if on else None
    try:
        yield
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure(bundle: Bundle, videos: list[Path], frames: int, repeats: int, device: str = "cpu") -> dict[str, Any]:
    """Predict against the pipeline, alternating, quiet and busy, and predict's parts (quiet)."""
    fusion = choose_fusion(bundle, None)
    report: dict[str, Any] = {"videos": len(videos), "frames": frames, "fusion": bundle.rows()[fusion]["row"],
                              "threads": torch.get_num_threads(), "device": device}
    # each path once first (its time reported): compiled TV-L1 kernels, model load, allocator, file cache
    report["first_call_s"] = {
        "predict": timed(lambda _: predict_videos(bundle, videos, [fusion], device=device)),
        "pipeline": timed(lambda tmp: pipeline(bundle, videos, tmp, device))}
    for condition in ("quiet", "busy"):
        times: dict[str, list[float]] = {"predict": [], "pipeline": []}
        with busy(condition == "busy"):
            for _ in range(repeats):
                times["predict"].append(timed(lambda _: predict_videos(bundle, videos, [fusion], device=device)))
                times["pipeline"].append(timed(lambda tmp: pipeline(bundle, videos, tmp, device)))
        best = {k: statistics.median(v) for k, v in times.items()}
        report[condition] = {
            "predict_s": best["predict"], "pipeline_s": best["pipeline"], "ratio": best["predict"] / best["pipeline"],
            "videos_per_s": len(videos) / best["predict"], "frames_per_s": frames / best["predict"],
            "all_s": times}
    report["parts_s"] = parts(bundle, videos, fusion, device)
    return report


def table(setting: str, report: dict[str, Any]) -> str:
    rows = [f"{setting}: {report['videos']} videos, {report['frames']} frames, {report['fusion']}, "
            f"{report['device']}, {report['threads']} threads"]
    for condition in ("quiet", "busy"):
        r = report[condition]
        rows.append(f"  {condition:<6} predict {r['predict_s']:7.2f} s ({r['videos_per_s']:.2f} videos/s, "
                    f"{r['frames_per_s']:.1f} frames/s)  pipeline {r['pipeline_s']:7.2f} s  ratio {r['ratio']:.3f}")
    first = report["first_call_s"]
    rows.append(f"  first calls: predict {first['predict']:.2f} s, pipeline {first['pipeline']:.2f} s")
    total = sum(report["parts_s"].values())
    rows.append("  parts: " + ", ".join(f"{k} {v:.2f} s ({v / total:.0%})" for k, v in report["parts_s"].items()))
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--videos", type=int, default=4, help="videos predicted")
    parser.add_argument("--length", type=int, help="frames per video (default: 60 paper, 20 default)")
    parser.add_argument("--repeats", type=int, default=2, help="alternating repeats per condition (median)")
    parser.add_argument("--tvl1-full", action="store_true", help="the paper setting's full TV-L1 iterations")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    results = {}
    for setting in args.settings:
        with tempfile.TemporaryDirectory(prefix=f"predict-bench-{setting}-") as tmp:
            workdir = Path(tmp)
            bundle = make_bundle(setting, workdir, args.tvl1_full)
            length = args.length or (60 if setting == "paper" else 20)
            videos = make_videos(workdir / "videos", setting, args.videos, length)
            results[setting] = measure(bundle, videos, args.videos * length, args.repeats, args.device)
            print(table(setting, results[setting]), flush=True)
            shutil.rmtree(workdir / "out" / "frames", ignore_errors=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
