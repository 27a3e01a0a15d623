"""The UCF101 preset end to end at paper model size (ResNet-50, 224 crops, L = 10, 11-level TV-L1 pyramid at
340×256, ImageNet weights) on a tiny UCF101 in its distributed layout, with iterations, batch and frames at the minimum."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from snakemake_run import REPO, snakemake
from tclsta.models.resnet import ResNet
from weights_server import hashed_name, serve, state_dict_bytes

CLASSES = ["ApplyEyeMakeup", "Archery"]
GROUPS = {"train": (8, 9), "test": (1,)}

# Only sizes are cut: iterations, batch, frames, TV-L1 iteration counts (not its 11 levels), jobs' workers.
MINIMUM = {
    "flow": {"compile": False, "tvl1": {"warps": 1, "outer_iterations": 1, "inner_iterations": 1}},
    "stream": {"attentions": ["both"], "iterations": {"rgb": 1, "flow": 1}, "batch_size": 1, "segments": 1,
               "num_workers": 0},
    "features": {"frames": 1, "num_workers": 0},
    "cln": {"epochs": 1, "rounds": 1},
    "report": {"attention_videos": 1, "attention_frames": 1},
}


def write_video(path: Path, frames: int, seed: int) -> None:
    """A real MJPG video, 64×48, of a random texture drifting one pixel per frame."""
    path.parent.mkdir(parents=True, exist_ok=True)
    texture = np.random.default_rng(seed).integers(0, 256, (48, 64 + frames, 3), dtype=np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
    for i in range(frames):
        writer.write(np.ascontiguousarray(texture[:, i:i + 64]))
    writer.release()


def make_ucf101(root: Path, frames: int = 3) -> None:
    """UCF101 as its two archives unpack: ``UCF-101/<Class>/…avi`` beside ``ucfTrainTestlist/``."""
    lists = {"train": [], "test": []}
    for label, cls in enumerate(CLASSES, start=1):
        for subset, groups in GROUPS.items():
            for group in groups:
                name = f"{cls}/v_{cls}_g{group:02d}_c01.avi"
                write_video(root / "UCF-101" / name, frames=frames, seed=label * 100 + group)
                lists[subset].append(f"{name} {label}" if subset == "train" else name)
    split_dir = root / "ucfTrainTestlist"
    split_dir.mkdir()
    (split_dir / "classInd.txt").write_text("".join(f"{i} {c}\r\n" for i, c in enumerate(CLASSES, start=1)))
    for subset, lines in lists.items():
        (split_dir / f"{subset}list01.txt").write_text("\r\n".join(lines) + "\r\n")


@pytest.mark.slow
def test_ucf101_preset_runs_end_to_end_at_paper_size(tmp_path: Path) -> None:
    make_ucf101(tmp_path / "UCF101")
    overrides = {"output_dir": str(tmp_path / "out"), "dataset": {"root": str(tmp_path / "UCF101"), "splits": [1]},
                 **MINIMUM}
    (tmp_path / "minimum.yaml").write_text(yaml.safe_dump(overrides))
    torch_home = tmp_path / "torch_home"
    with serve() as server:
        data = state_dict_bytes(ResNet(depth=50).state_dict())  # torchvision's ResNet-50 keys and shapes
        name = hashed_name("resnet50", data)
        server.files[name] = data
        env = {"TORCH_HOME": str(torch_home), "TCLSTA_IMAGENET_URL": server.url + name, "CUDA_VISIBLE_DEVICES": ""}
        snakemake(tmp_path, "--cores", "2", "--configfile", str(REPO / "presets" / "ucf101.yaml"),
                  str(tmp_path / "minimum.yaml"), env=env, timeout=900)
        assert server.requests.count(name) >= 1
    out = tmp_path / "out"
    assert [p.name for p in (torch_home / "hub" / "checkpoints").iterdir()] == [name]
    meta = json.loads((out / "frames" / "v_Archery_g01_c01" / "frames.json").read_text())
    assert (meta["width"], meta["height"], meta["n_frames"], meta["n_flow"]) == (340, 256, 3, 2)
    train_log = (out / "logs").rglob("*.log")
    assert any("loaded pretrained weights" in p.read_text() for p in train_log)
    assert (out / "report" / "report.md").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics  # every method was evaluated on the test videos
