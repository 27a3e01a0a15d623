"""How fast the frame verification (tclsta.data.verify) checks extracted videos, per JPEG.

Writes videos of UCF101's size (320x240, 180 frames: 180 RGB + 2x179 flow JPEGs) with the real
writer (tclsta.data.frame_writer.write_video) into a temporary folder, then times verify_index over
them, warm page cache (the files were just written) and CPU time. Compare: decoding each JPEG.

    python benchmarks/verify.py [--videos 20] [--frames 180]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from tclsta.data import layout
from tclsta.data.verify import expected_names, verify_index
from tclsta.data.frame_writer import write_video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=20)
    parser.add_argument("--frames", type=int, default=180)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        frames = rng.integers(0, 255, (args.frames, 240, 320, 3), dtype=np.uint8)
        flow = np.full((args.frames - 1, 240, 320, 2), 128, dtype=np.uint8)
        ids = [f"v{i:04d}" for i in range(args.videos)]
        for video_id in ids:
            write_video(layout.video_dir(root, video_id), frames, flow, 95, "bench")
        index = pd.DataFrame({"video_id": ids, "n_frames": args.frames, "n_flow": args.frames - 1,
                              "status": "ok", "error": ""})
        files = args.videos * len(expected_names({"n_frames": args.frames, "n_flow": args.frames - 1}))
        wall, cpu = time.perf_counter(), time.process_time()
        checked = verify_index(index, root)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert (checked["status"] == "ok").all()
        names = expected_names({"n_frames": args.frames, "n_flow": args.frames - 1})[:200]
        folder = layout.video_dir(root, ids[0])
        decode = time.process_time()
        for name in names:
            cv2.imread(str(folder / name), cv2.IMREAD_UNCHANGED)
        decode = (time.process_time() - decode) / len(names)
    print(f"{files} JPEGs in {args.videos} videos: verify {wall:.2f} s wall, {cpu:.2f} s CPU "
          f"= {1e6 * cpu / files:.1f} us CPU per JPEG; full decode {1e6 * decode:.0f} us CPU per JPEG")


if __name__ == "__main__":
    main()
