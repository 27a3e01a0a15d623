"""Peak memory of extracting one long video: chunked streaming (today) against decoding it whole (before).

Writes synthetic MJPG videos of a textured scene panning at 340×256, 25 fps (default 1 and 10
minutes), then extracts each in a fresh process (``tclsta.extraction.extract_shard``, RGB
JPEGs plus TV-L1 flow at the cheapest setting: the flow's cost is not the point here) and
reports the process's peak RSS and CPU time. ``whole decode`` is the peak RSS of
``decode_video`` on the same file: what extraction held before it streamed (all frames at once).

    python benchmarks/long_video.py [--minutes 1 10] [--no-flow] [--whole-up-to 3]

Peak RSS must not grow with the video's length (issue 11).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT, FPS = 340, 256, 25
CHEAP_TVL1 = {"nscales": 1, "warps": 1, "outer_iterations": 1, "inner_iterations": 3}


def write_video(path: Path, frames: int) -> None:
    """A smooth random texture panning 1 px right and 0.5 px down per frame (MJPG)."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (HEIGHT * 2, WIDTH * 2, 3)).astype(np.float32), (0, 0), 3)
    texture = cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (WIDTH, HEIGHT))
    for i in range(frames):
        x, y = i % WIDTH, (i // 2) % HEIGHT
        writer.write(np.ascontiguousarray(texture[y:y + HEIGHT, x:x + WIDTH]))
    writer.release()


def child(args: argparse.Namespace) -> None:
    """Run one measurement in this (fresh) process; print JSON."""
    import pandas as pd

    from tclsta.config import validate
    from tclsta.data.video import decode_video
    from tclsta.extraction import extract_shard

    video = Path(args.video)
    start = time.process_time()
    if args.mode == "whole":
        n = len(decode_video(video))
    else:
        config = validate({"extract": {"resize": {"mode": "none"}},
                           "flow": {"enabled": args.flow, "device": "cpu", "compile": False, "tvl1": CHEAP_TVL1}})
        rows = pd.DataFrame({"video_id": ["long"], "path": [video.name], "label": [0], "class_name": ["A"],
                             "group": [""], "split1": ["train"]})
        out = Path(args.out)
        n = int(extract_shard(rows, video.parent, out / "frames", config["extract"], config["flow"],
                              out / "shard.tsv")["n_frames"][0])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"frames": n, "peak_rss_mb": round(peak), "cpu_s": round(time.process_time() - start, 1)}))


def measure(video: Path, mode: str, flow: bool, out: Path) -> dict:
    command = [sys.executable, __file__, "--child", mode, "--video", str(video), "--out", str(out)]
    command += ["--flow"] if flow else []
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10], help="video lengths to measure")
    parser.add_argument("--no-flow", action="store_true", help="RGB frames only")
    parser.add_argument("--whole-up-to", type=float, default=3,
                        help="measure the whole-video decode only up to this many minutes (it holds every frame)")
    parser.add_argument("--child", choices=["chunked", "whole"], help=argparse.SUPPRESS)
    parser.add_argument("--video", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--flow", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.mode = args.child
        return child(args)
    flow = not args.no_flow
    print(f"{WIDTH}x{HEIGHT} @ {FPS} fps, flow {'on (cheapest TV-L1)' if flow else 'off'}")
    print(f"{'minutes':>8}{'frames':>8}{'chunked peak RSS MB':>21}{'CPU s':>8}{'whole decode peak RSS MB':>26}")
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in args.minutes:
            video = Path(tmp) / f"long_{minutes:g}.avi"
            write_video(video, int(minutes * 60 * FPS))
            chunked = measure(video, "chunked", flow, Path(tmp) / f"out_{minutes:g}")
            whole = measure(video, "whole", False, Path(tmp)) if minutes <= args.whole_up_to else None
            print(f"{minutes:>8g}{chunked['frames']:>8}{chunked['peak_rss_mb']:>21}{chunked['cpu_s']:>8}"
                  f"{whole['peak_rss_mb'] if whole else 'not run':>26}", flush=True)
            subprocess.run(["rm", "-rf", str(video), str(Path(tmp) / f"out_{minutes:g}")], check=True)


if __name__ == "__main__":
    main()
