"""A tiny extracted-frames dataset on disk (real JPEGs in the tclsta.data.layout format) for stream tests.

Class k: a bright square whose colour is k's and which moves in direction k; the flow
JPEGs hold that motion quantised 0..255 ↔ ±bound, as extraction writes them.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from tclsta.data.layout import flow_names, rgb_name, write_meta

COLOURS = [(230, 40, 40), (40, 230, 40), (40, 40, 230), (230, 230, 40)]
DIRECTIONS = [(1, 0), (-1, 0), (0, 1), (0, -1)]


def quantise(flow: np.ndarray, bound: float) -> np.ndarray:
    """Flow in pixels → uint8, clipped to ±bound and mapped linearly to 0..255."""
    return np.round((np.clip(flow, -bound, bound) + bound) * 255.0 / (2 * bound)).astype(np.uint8)


def make_dataset(root: Path, *, classes: int = 4, train_per_class: int = 4, test_per_class: int = 2,
                 frames: int = 8, height: int = 40, width: int = 48, bound: float = 20.0,
                 seed: int = 0) -> dict[str, Path]:
    """Write frames, manifest.csv and frames_index.csv under ``root``; return their paths."""
    rng = np.random.default_rng(seed)
    frames_root = root / "frames"
    rows, index = [], []
    side = min(height, width) // 4
    if min(height, width) < side + 2 * frames:
        raise ValueError("frames too small for the moving square")
    for label in range(classes):
        for i in range(train_per_class + test_per_class):
            video_id = f"v_class{label}_g{i + 1:02d}_c01"
            folder = frames_root / video_id
            folder.mkdir(parents=True)
            dx, dy = DIRECTIONS[label]
            y0 = rng.integers(frames, height - side - frames + 1)
            x0 = rng.integers(frames, width - side - frames + 1)
            for t in range(frames):
                image = rng.integers(0, 60, size=(height, width, 3), dtype=np.uint8)
                y, x = y0 + dy * t, x0 + dx * t
                image[y:y + side, x:x + side] = COLOURS[label]
                cv2.imwrite(str(folder / rgb_name(t + 1)), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
                if t + 1 < frames:
                    fx = rng.normal(0, 0.5, size=(height, width))
                    fy = rng.normal(0, 0.5, size=(height, width))
                    fx[y:y + side, x:x + side] += 8 * dx
                    fy[y:y + side, x:x + side] += 8 * dy
                    x_name, y_name = flow_names(t + 1)
                    cv2.imwrite(str(folder / x_name), quantise(fx, bound))
                    cv2.imwrite(str(folder / y_name), quantise(fy, bound))
            write_meta(folder, {"n_frames": frames, "n_flow": frames - 1, "bound": bound})
            subset = "train" if i < train_per_class else "test"
            rows.append({"video_id": video_id, "path": f"class{label}/{video_id}.avi", "label": label,
                         "class_name": f"class{label}", "group": f"g{i + 1:02d}", "split1": subset})
            index.append({"video_id": video_id, "n_frames": frames, "n_flow": frames - 1, "status": "ok",
                          "error": ""})
    paths = {"frames": frames_root, "manifest": root / "manifest.csv", "frames_index": root / "frames_index.csv"}
    pd.DataFrame(rows).to_csv(paths["manifest"], index=False)
    pd.DataFrame(index).to_csv(paths["frames_index"], index=False)
    return paths
