"""Peak RSS of the stages that load whole feature caches (evaluate, train_cln) as the dataset grows.

Writes synthetic HDF5 feature caches at paper size (ResNet-50: D = 2048 float16, 25 frames per
video, 7×7 spatial maps, 101 classes) for a fraction of UCF101's 13,320 videos, then measures
in a fresh process each: reading one cache; what ``evaluate`` holds for one split (4 caches:
rgb/flow × attention none/both); what ``train_cln`` holds before training (2 caches +
``pair_frames``' float32 copies). Peak RSS grows linearly with the videos; the last columns
extrapolate the fitted line to UCF101 (13,320 videos) and THUMOS14 (≤ 15,904 videos:
UCF101 + 1,010 validation + 1,574 test, 25 frames each).

    python benchmarks/cache_memory.py [--fractions 0.0625 0.125]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
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
    from tclsta.features.cache import read_feature_cache
    from tclsta.fusion.cln_training import pair_frames
    from tclsta.fusion.scores import paired_order

    if mode == "read":
        held = [read_feature_cache(folder / "rgb.h5")]
    elif mode == "evaluate":
        held = [read_feature_cache(folder / f"{s}.h5") for s in ("rgb", "flow", "rgb", "flow")]
    else:
        static, motion = read_feature_cache(folder / "rgb.h5"), read_feature_cache(folder / "flow.h5")
        held = [static, motion, pair_frames(static, motion, paired_order(static, motion, "rgb.h5", "flow.h5"))]
    print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "held": len(held)}))


def measure(mode: str, folder: Path) -> float:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(folder)], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["peak_mb"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.0625, 0.125], help="of UCF101's videos")
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
    print(f"peak RSS (MB), D = {DIM} float16, {FRAMES} frames/video")
    print(f"{'videos':>8}" + "".join(f"{m:>10}" for m in modes))
    for videos, peaks in results.items():
        print(f"{videos:>8}" + "".join(f"{peaks[m]:>10.0f}" for m in modes))
    if len(results) >= 2:
        xs = np.array(list(results))
        for target, name in ((UCF101, "UCF101"), (THUMOS14, "THUMOS14")):
            fits = [np.polyval(np.polyfit(xs, [results[x][m] for x in xs], 1), target) for m in modes]
            print(f"{name:>8}" + "".join(f"{f:>10.0f}" for f in fits) + "   (extrapolated)")


if __name__ == "__main__":
    main()
