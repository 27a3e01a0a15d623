"""Peak RSS of the stages that go through whole feature caches (evaluate, train_cln) as the dataset grows.

Writes synthetic HDF5 feature caches at paper size (ResNet-50: D = 2048 float16, 25 frames per
video, 7×7 spatial maps, 101 classes) for a fraction of UCF101's 13,320 videos, then measures
in a fresh process each (peak RSS and wall time): ``read``, one cache read whole into memory
(``read_feature_cache``, for scale); ``evaluate``, what evaluate does with the caches of one
split (4 caches, rgb/flow × attention none/both, kept open: every stream's scores, the pooled
video features of the CLN's pair for early fusion, every test video's spatial maps as the
attention metrics read them); ``cln``, ``run_train_cln`` (paper variant, one epoch, CPU).
The last rows extrapolate a line fitted to the measurements to UCF101 (13,320 videos) and
THUMOS14 (≤ 15,904 videos: UCF101 + 1,010 validation + 1,574 test, 25 frames each).

    python benchmarks/cache_memory.py [--fractions 0.0625 0.125 0.25]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

UCF101, THUMOS14, FRAMES, DIM, CLASSES = 13320, 15904, 25, 2048, 101


def write_cache(path: Path, videos: int, seed: int) -> None:
    from tclsta.features.cache import FeatureCache, write_feature_cache

    rng = np.random.default_rng(seed)
    rows = videos * FRAMES
    cache = FeatureCache.from_videos(
        video_ids=[f"v{i:05d}" for i in range(videos)], labels=[i % CLASSES for i in range(videos)],
        splits=["train" if i % 4 else "test" for i in range(videos)],
        features=list(rng.standard_normal((videos, FRAMES, DIM), dtype=np.float32).astype(np.float16)),
        frame_indices=[np.arange(1, FRAMES + 1)] * videos, temporal_weights=[np.full(FRAMES, 1 / FRAMES)] * videos,
        scores={h: rng.dirichlet(np.ones(CLASSES), videos).astype(np.float32) for h in ("frame", "spatial", "temporal")},
        class_names=[f"c{i}" for i in range(CLASSES)], attrs={},
        spatial_maps=list(rng.random((videos, FRAMES, 7, 7), dtype=np.float32)),
    )
    assert cache.features.shape == (rows, DIM)
    write_feature_cache(path, cache, dtype="float16")


def child(mode: str, folder: Path) -> None:
    from contextlib import ExitStack

    from tclsta.config import validate
    from tclsta.features.cache import open_feature_cache, read_feature_cache
    from tclsta.fusion.cln_training import run_train_cln
    from tclsta.fusion.scores import stream_probabilities, video_features

    start = time.perf_counter()
    if mode == "read":
        held = [read_feature_cache(folder / "rgb.h5")]
    elif mode == "evaluate":
        with ExitStack() as files:
            caches = [files.enter_context(open_feature_cache(folder / f"{s}.h5")) for s in ("rgb", "flow", "rgb", "flow")]
            held = [stream_probabilities(c) for c in caches] + [video_features(c) for c in caches[:2]]
            for v in caches[0].subset("test"):
                held.append(float(caches[0].spatial_maps[caches[0].rows(int(v))].astype(np.float32).max()))
    else:
        config = validate({"device": "cpu", "cln": {"epochs": 1}})
        held = [run_train_cln(folder / "rgb.h5", folder / "flow.h5", folder / "cln.pt", folder / "scores.h5", config)]
    print(json.dumps({"peak_mb": peak_rss_mb(), "seconds": time.perf_counter() - start, "held": len(held)}))


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ``ru_maxrss``, not inherited from the parent across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def measure(mode: str, folder: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(folder)], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.0625, 0.125, 0.25],
                        help="of UCF101's videos")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], Path(args.child[1]))
    modes = ("read", "evaluate", "cln")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for fraction in args.fractions:
            videos = round(UCF101 * fraction)
            folder = Path(tmp) / f"{videos}"
            folder.mkdir()
            write_cache(folder / "rgb.h5", videos, 0)
            write_cache(folder / "flow.h5", videos, 1)
            results[videos] = {m: measure(m, folder) for m in modes}
            for path in folder.iterdir():
                path.unlink()
    print(f"peak RSS (MB) and wall time (s), D = {DIM} float16, {FRAMES} frames/video")
    print(f"{'videos':>8}" + "".join(f"{m:>10}{'s':>6}" for m in modes))
    for videos, runs in results.items():
        print(f"{videos:>8}" + "".join(f"{runs[m]['peak_mb']:>10.0f}{runs[m]['seconds']:>6.1f}" for m in modes))
    if len(results) >= 2:
        xs = np.array(list(results))
        for target, name in ((UCF101, "UCF101"), (THUMOS14, "THUMOS14")):
            fits = [np.polyval(np.polyfit(xs, [results[x][m]["peak_mb"] for x in xs], 1), target) for m in modes]
            print(f"{name:>8}" + "".join(f"{f:>10.0f}{'':>6}" for f in fits) + "   (extrapolated)")


if __name__ == "__main__":
    main()
