"""Video decoding (real codecs), resize modes, and the RGB side of the extraction stage."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from tclsta.config import validate
from tclsta.data import layout
from tclsta.data.frame_index import merge_shards, usable_videos
from tclsta.data.manifest import write_manifest
from tclsta.data.video import count_frames, decode_video, output_size
from tclsta.errors import VideoDecodeError
from tclsta.extraction import extract_shard


def write_video(path: Path, frames: int = 6, size: tuple[int, int] = (40, 30), fourcc: str = "MJPG") -> np.ndarray:
    """Write a real encoded video whose frames are distinguishable; return the frames (RGB)."""
    rng = np.random.default_rng(len(path.name))
    width, height = size
    images = []
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 25, (width, height))
    assert writer.isOpened()
    for i in range(frames):
        image = np.full((height, width, 3), (40 * i) % 256, np.uint8)
        image[:, : width // 2, 0] = 200  # a red half: checks RGB order
        image[5:15, 5:15] = rng.integers(0, 256, 3)
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        images.append(image)
    writer.release()
    return np.stack(images)


@pytest.mark.parametrize("fourcc,suffix", [("MJPG", ".avi"), ("XVID", ".avi"), ("mp4v", ".mp4")])
def test_decode_real_codecs(tmp_path: Path, fourcc: str, suffix: str) -> None:
    path = tmp_path / f"clip{suffix}"
    expected = write_video(path, fourcc=fourcc)
    frames = decode_video(path)
    assert frames.shape == (6, 30, 40, 3) and frames.dtype == np.uint8
    # lossy codecs: close to what was written, and red stays in channel 0
    assert np.abs(frames.astype(int) - expected.astype(int)).mean() < 12
    assert frames[0, :, :10, 0].mean() > frames[0, :, :10, 2].mean() + 100
    assert count_frames(path) == 6 and count_frames(path, max_frames=4) == len(decode_video(path, max_frames=4)) == 4


def test_resize_modes(tmp_path: Path) -> None:
    assert output_size(320, 240, {"mode": "none"}) == (320, 240)
    assert output_size(320, 240, {"mode": "new_short", "short": 120}) == (160, 120)
    assert output_size(240, 320, {"mode": "new_short", "short": 120}) == (120, 160)
    assert output_size(320, 240, {"mode": "fixed", "width": 340, "height": 256}) == (340, 256)
    path = tmp_path / "clip.avi"
    write_video(path)
    assert decode_video(path, {"mode": "new_short", "short": 15}).shape == (6, 15, 20, 3)
    assert decode_video(path, {"mode": "fixed", "width": 34, "height": 26}, max_frames=4).shape == (4, 26, 34, 3)


def test_corrupt_and_missing_videos_name_the_file(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.avi"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00AVI garbage" * 20)
    with pytest.raises(VideoDecodeError, match="corrupt.avi"):
        decode_video(corrupt)
    with pytest.raises(VideoDecodeError, match="missing.avi: video file not found"):
        decode_video(tmp_path / "missing.avi")
    with pytest.raises(VideoDecodeError, match="corrupt.avi"):
        count_frames(corrupt)
    with pytest.raises(VideoDecodeError, match="missing.avi: video file not found"):
        count_frames(tmp_path / "missing.avi")


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    root = tmp_path / "data"
    (root / "A").mkdir(parents=True)
    write_video(root / "A" / "v_A_g01_c01.avi", frames=5)
    write_video(root / "A" / "v_A_g02_c01 [x]!.avi", frames=4)
    (root / "A" / "v_A_g03_c01.avi").write_bytes(b"not a video")
    manifest = pd.DataFrame({
        "video_id": ["v_A_g01_c01", "v_A_g02_c01 [x]!", "v_A_g03_c01"],
        "path": ["A/v_A_g01_c01.avi", "A/v_A_g02_c01 [x]!.avi", "A/v_A_g03_c01.avi"],
        "label": [0, 0, 0], "class_name": ["A"] * 3, "group": ["1", "2", "3"],
        "split1": ["train", "test", "train"],
    })
    return root, manifest


def rgb_only(**extract: object) -> tuple[dict, dict]:
    config = validate({"extract": extract, "flow": {"enabled": False}})
    return config["extract"], config["flow"]


def test_extract_skip_bad_records_and_keeps_going(tmp_path: Path, dataset: tuple[Path, pd.DataFrame]) -> None:
    root, manifest = dataset
    extract, flow = rgb_only(skip_bad=True)
    table = extract_shard(manifest, root, tmp_path / "frames", extract, flow, tmp_path / "shard_0.tsv")
    assert table["status"].tolist() == ["ok", "ok", "bad"]
    assert "v_A_g03_c01.avi" in table["error"].iloc[2]
    folder = layout.video_dir(tmp_path / "frames", "v_A_g02_c01 [x]!")
    assert sorted(p.name for p in folder.iterdir()) == sorted([layout.rgb_name(i) for i in range(1, 5)] + [layout.META_NAME])
    image = cv2.imread(str(folder / layout.rgb_name(1)))
    assert image.shape == (30, 40, 3) and image[:, :10, 2].mean() > 150  # BGR on disk: red in channel 2
    write_manifest(manifest, tmp_path / "manifest.csv")
    index = merge_shards([tmp_path / "shard_0.tsv"], tmp_path / "frames_index.csv", tmp_path / "bad.txt",
                         tmp_path / "frames")
    assert len(index) == 3
    assert (tmp_path / "bad.txt").read_text().startswith("v_A_g03_c01\t")
    usable = usable_videos(tmp_path / "manifest.csv", tmp_path / "frames_index.csv", 1)
    assert usable["video_id"].tolist() == ["v_A_g01_c01", "v_A_g02_c01 [x]!"]
    assert usable["subset"].tolist() == ["train", "test"] and usable["n_frames"].tolist() == [5, 4]


def test_extract_without_skip_bad_fails_naming_the_video(tmp_path: Path, dataset: tuple[Path, pd.DataFrame]) -> None:
    root, manifest = dataset
    extract, flow = rgb_only(skip_bad=False)
    with pytest.raises(VideoDecodeError, match="v_A_g03_c01.avi"):
        extract_shard(manifest, root, tmp_path / "frames", extract, flow, tmp_path / "shard_0.tsv")
    assert not (tmp_path / "shard_0.tsv").exists()
    # what was computed before the failure is kept, and complete
    assert layout.read_meta(tmp_path / "frames" / "v_A_g01_c01")["n_frames"] == 5


def test_extract_resumes_and_ignores_partial_folders(tmp_path: Path, dataset: tuple[Path, pd.DataFrame]) -> None:
    root, manifest = dataset
    frames = tmp_path / "frames"
    extract, flow = rgb_only(skip_bad=True)
    extract_shard(manifest.iloc[:1], root, frames, extract, flow, tmp_path / "s.tsv")
    done = frames / "v_A_g01_c01" / layout.rgb_name(1)
    stamp = done.stat().st_mtime_ns
    # a killed job leaves a temporary folder, and a folder without frames.json is not complete
    (frames / ".v_A_g02_c01 [x]!.abc.tmp").mkdir()
    partial = frames / "v_A_g02_c01 [x]!"
    partial.mkdir()
    (partial / layout.rgb_name(1)).write_bytes(b"half")
    extract_shard(manifest, root, frames, extract, flow, tmp_path / "s.tsv")
    assert done.stat().st_mtime_ns == stamp  # skipped: complete with the same settings
    assert layout.read_meta(partial)["n_frames"] == 4
    # other settings make the folder stale: it is redone
    extract2, _ = rgb_only(skip_bad=True, jpeg_quality=50)
    extract_shard(manifest.iloc[:1], root, frames, extract2, flow, tmp_path / "s.tsv")
    assert done.stat().st_mtime_ns != stamp
