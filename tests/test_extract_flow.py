"""The extraction stage with optical flow: flow JPEGs next to the frames, a one-frame video,
a corrupt video, resuming after a real SIGKILL, and the flow of chosen pairs only (inference)."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from tclsta.config import validate
from tclsta.data import layout, verify
from tclsta.data.frames_dataset import FramesDataset, VideoRecord
from tclsta.data.sampling import evenly_spaced_fields, evenly_spaced_positions
from tclsta.errors import VideoDecodeError
from tclsta.data.video import decode_video
from tclsta.extraction import Reads, chosen_chunks, extract_shard
from tclsta.flow import read_flow
from tclsta.flow.pipeline import flow_images

QUICK = {"nscales": 3, "warps": 2, "outer_iterations": 2, "inner_iterations": 15}


def write_panning_video(path: Path, frames: int, size: tuple[int, int] = (48, 36), seed: int = 0) -> None:
    """A real MJPG video of a smooth colour texture moving by (−1.5, +0.5) px per frame."""
    width, height = size
    rng = np.random.default_rng(seed)
    big = cv2.GaussianBlur(rng.uniform(0, 255, (height + 40, width + 40, 3)).astype(np.float32), (0, 0), 2.5)
    big = ((big - big.min()) / (big.max() - big.min()) * 255).astype(np.float32)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (width, height))
    assert writer.isOpened()
    for i in range(frames):
        m = np.float32([[1, 0, 20 + 1.5 * i], [0, 1, 20 - 0.5 * i]])
        frame = cv2.warpAffine(big, m, (width, height), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)
        writer.write(frame.round().astype(np.uint8))
    writer.release()


def manifest_for(root: Path, names: list[str]) -> pd.DataFrame:
    return pd.DataFrame({
        "video_id": names, "path": [f"A/{n}.avi" for n in names], "label": 0, "class_name": "A",
        "group": [str(i) for i in range(len(names))], "split1": "train",
    })


def settings(tvl1: dict | None = None, **extract: object) -> tuple[dict, dict]:
    config = validate({"extract": extract, "flow": {"device": "cpu", "compile": False, "tvl1": tvl1 or QUICK}})
    return config["extract"], config["flow"]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "A").mkdir(parents=True)
    write_panning_video(root / "A" / "four.avi", 4, seed=0)
    write_panning_video(root / "A" / "one.avi", 1, seed=1)
    (root / "A" / "corrupt.avi").write_bytes(b"RIFF\x00\x00\x00\x00AVI garbage" * 20)
    return root


def test_flow_jpegs_next_to_frames_and_one_frame_video(tmp_path: Path, dataset: Path, caplog) -> None:
    extract, flow = settings(skip_bad=True)
    frames = tmp_path / "frames"
    with caplog.at_level(logging.WARNING):
        table = extract_shard(manifest_for(dataset, ["four", "one"]), dataset, frames, extract, flow, tmp_path / "s.tsv")
    assert table[["n_frames", "n_flow", "status"]].values.tolist() == [[4, 3, "ok"], [0, 0, "too_short"]]
    four = frames / "four"
    expected = {layout.rgb_name(i) for i in range(1, 5)} | {n for i in range(1, 4) for n in layout.flow_names(i)}
    assert {p.name for p in four.iterdir()} == expected | {layout.META_NAME}
    # a one-frame video has no flow: the flow stream (and so fusion) cannot use it, it is dropped
    assert not (frames / "one").exists()
    assert "one.avi: only 1 frame: too short for optical flow" in caplog.text
    with pytest.raises(VideoDecodeError, match="one.avi: only 1 frame"):
        extract_shard(manifest_for(dataset, ["one"]), dataset, frames, *settings(skip_bad=False), tmp_path / "t.tsv")
    # the JPEGs hold the flow of the decoded frames, up to the quantisation + JPEG floor
    direct = flow_images([decode_video(dataset / "A" / "four.avi")], flow)[0]
    for i in range(1, 4):
        back = read_flow(four, i, flow["bound"])
        assert back.shape == (36, 48, 2)
        step = 2 * flow["bound"] / 255
        assert np.abs(back - (direct[i - 1] * step - flow["bound"])).mean() < step


def test_corrupt_video_with_flow(tmp_path: Path, dataset: Path) -> None:
    frames = tmp_path / "frames"
    rows = manifest_for(dataset, ["four", "corrupt", "one"])
    extract, flow = settings(skip_bad=True)
    table = extract_shard(rows, dataset, frames, extract, flow, tmp_path / "s.tsv")
    assert table["status"].tolist() == ["ok", "bad", "too_short"] and "corrupt.avi" in table["error"].iloc[1]
    assert not (frames / "corrupt").exists()
    extract, flow = settings(skip_bad=False)
    rows = manifest_for(dataset, ["four", "corrupt"])
    with pytest.raises(VideoDecodeError, match="corrupt.avi"):
        extract_shard(rows, dataset, tmp_path / "frames2", extract, flow, tmp_path / "s2.tsv")
    # the video decoded before the failure was finished, flow included
    assert layout.read_meta(tmp_path / "frames2" / "four")["n_flow"] == 3


SLOW = {"nscales": 1, "warps": 1, "outer_iterations": 5, "epsilon": 1e-9}  # every iteration runs: ~1 s per video
KILLED_JOB = f"""
import sys, pandas as pd
from tclsta.config import validate
from tclsta.extraction import extract_shard
root, frames, manifest = sys.argv[1:4]
config = validate({{"flow": {{"device": "cpu", "compile": False, "batch_pairs": 1, "tvl1": {SLOW!r}}}}})
extract_shard(pd.read_csv(manifest), root, frames, config["extract"], config["flow"], frames + "/shard.tsv")
"""


def test_resume_after_a_killed_extraction(tmp_path: Path, dataset: Path) -> None:
    """SIGKILL a real extraction while it computes the second video's flow, then run it again."""
    for seed, name in enumerate(("a", "b", "c")):
        write_panning_video(dataset / "A" / f"{name}.avi", 5, seed=seed)  # 4 pairs: one flow call per video
    rows = manifest_for(dataset, ["a", "b", "c"])
    rows.to_csv(tmp_path / "manifest.csv", index=False)
    frames = tmp_path / "frames"
    frames.mkdir()
    job = subprocess.Popen([sys.executable, "-c", KILLED_JOB, str(dataset), str(frames), str(tmp_path / "manifest.csv")])
    try:
        deadline = time.time() + 120
        while layout.read_meta(frames / "a") is None and job.poll() is None and time.time() < deadline:
            time.sleep(0.01)
        job.send_signal(signal.SIGKILL)
    finally:
        job.wait()
    assert job.returncode == -signal.SIGKILL, "the job finished before it could be killed"
    assert layout.read_meta(frames / "a")["n_flow"] == 4
    # the video being computed left nothing that looks complete, nor did the shard table
    assert layout.read_meta(frames / "b") is None and not (frames / "shard.tsv").exists()
    done = (frames / "a" / layout.flow_names(4)[1]).stat().st_mtime_ns
    # rerun with the same settings: the complete video is skipped, the others are made
    config = validate({"flow": {"device": "cpu", "compile": False, "batch_pairs": 1, "tvl1": SLOW}})
    table = extract_shard(rows, dataset, frames, config["extract"], config["flow"], tmp_path / "s.tsv")
    assert table["n_flow"].tolist() == [4, 4, 4] and table["status"].tolist() == ["ok"] * 3
    assert (frames / "a" / layout.flow_names(4)[1]).stat().st_mtime_ns == done
    assert not list(frames.glob(".*.tmp"))


def test_rgb_only_folder_is_redone_when_flow_is_enabled(tmp_path: Path, dataset: Path) -> None:
    rows = manifest_for(dataset, ["four"])
    rgb = validate({"flow": {"enabled": False}})
    extract_shard(rows, dataset, tmp_path / "frames", rgb["extract"], rgb["flow"], tmp_path / "s.tsv")
    assert layout.read_meta(tmp_path / "frames" / "four")["n_flow"] == 0
    extract, flow = settings()
    extract_shard(rows, dataset, tmp_path / "frames", extract, flow, tmp_path / "s.tsv")
    assert layout.read_meta(tmp_path / "frames" / "four")["n_flow"] == 3


def test_chunked_extraction_writes_the_same_files_as_whole_videos(tmp_path: Path, dataset: Path) -> None:
    """Chunks of 3 frames (flow pairs spanning chunks, batches mixing videos) vs each video in one piece."""
    write_panning_video(dataset / "A" / "eleven.avi", 11, seed=2)
    rows = manifest_for(dataset, ["eleven", "four", "one"])
    trees = {}
    for chunk in (3, 1000):
        extract, flow = settings({"nscales": 2, "warps": 1, "outer_iterations": 1, "inner_iterations": 5},
                                 chunk_frames=chunk)
        flow["batch_pairs"] = 4
        extract["skip_bad"] = True  # the one-frame video is too short for flow: dropped, in chunks as whole
        root = tmp_path / f"chunk{chunk}"
        table = extract_shard(rows, dataset, root, extract, flow, tmp_path / f"shard{chunk}.tsv")
        assert table["n_frames"].tolist() == [11, 4, 0] and table["n_flow"].tolist() == [10, 3, 0]
        assert table["status"].tolist() == ["ok", "ok", "too_short"]
        trees[chunk] = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    assert len(trees[3]) == 2 + (11 + 10 * 2) + (4 + 3 * 2)
    assert trees[3] == trees[1000]
    assert not list(tmp_path.glob("chunk3/.*"))  # no temporary folder left


@pytest.mark.parametrize("longest", [1, 2, 5])
def test_chosen_chunks_give_exactly_the_chosen_frames_and_pairs(longest: int) -> None:
    """Cut from chunks of 4 frames: the chosen RGB frames, and runs holding frames i … i+1 of every chosen field
    and nothing else; decoding stops after the last chunk needed."""
    frames = np.arange(23, dtype=np.uint8).reshape(23, 1, 1, 1).repeat(3, axis=-1)
    chosen = [1, 2, 3, 7, 8, 9, 10, 11, 12, 16]
    decoded = []

    def chunks():
        for i in range(0, 23, 4):
            decoded.append(i)
            yield frames[i:i + 4]

    got_frames, got_fields = [], []
    for numbers, kept, runs in chosen_chunks(chunks(), Reads([2, 4, 9, 18], chosen), longest, "v.avi"):
        assert kept[:, 0, 0, 0].tolist() == [n - 1 for n in numbers]  # frame i is value i-1
        got_frames += numbers.tolist()
        for first, run in runs:
            assert 2 <= len(run) <= longest + 1
            assert run[:, 0, 0, 0].tolist() == list(range(first - 1, first - 1 + len(run)))
            got_fields += range(first, first + len(run) - 1)
    assert got_frames == [2, 4, 9, 18] and got_fields == chosen
    assert decoded == [0, 4, 8, 12, 16]  # frame 18 is in the fifth chunk; the sixth is never decoded
    with pytest.raises(VideoDecodeError, match="v.avi: decoded 23 frames, too few for frame 24"):
        list(chosen_chunks([frames], Reads([], [23]), longest, "v.avi"))


@pytest.mark.parametrize("chunk", [3, 1000])
def test_chosen_flow_fields_are_the_pipelines_files(tmp_path: Path, dataset: Path, chunk: int) -> None:
    """Only the chosen frames are written and the chosen fields computed (one chunk, or decoded again), byte for
    byte those of a full extraction; the folder verifies, lists them, and both streams' test samples read from it
    as from the full."""
    write_panning_video(dataset / "A" / "eleven.avi", 11, seed=2)
    rows = manifest_for(dataset, ["eleven", "four"])
    extract, flow = settings({"nscales": 2, "warps": 1, "outer_iterations": 1, "inner_iterations": 5},
                             chunk_frames=chunk)
    full = tmp_path / "full"
    extract_shard(rows, dataset, full, extract, flow, tmp_path / "full.tsv")
    count, length = 2, 3
    chosen = {"eleven": [3, 4, 5, 7, 8, 9], "four": [1, 2, 3]}  # starts (k + 0.5) * 8 / 2 + 1; one start
    assert {v: evenly_spaced_fields(n, count, length).tolist() for v, n in (("eleven", 10), ("four", 3))} == chosen
    asked = []

    kept = {"eleven": [3, 9], "four": [1, 2, 3, 4]}  # RGB: centres of 2 parts of 11 frames; all 4 of "four"

    def reads(video_id: str, n_frames: int) -> Reads:
        asked.append((video_id, n_frames))
        frames = evenly_spaced_positions(n_frames, count) if n_frames > 4 else np.arange(1, n_frames + 1)
        return Reads(frames, evenly_spaced_fields(n_frames - 1, count, length))

    sparse = tmp_path / "sparse"
    table = extract_shard(rows, dataset, sparse, extract, flow, tmp_path / "sparse.tsv", reads)
    assert asked == [("eleven", 11), ("four", 4)]
    assert table["n_frames"].tolist() == [11, 4] and table["n_flow"].tolist() == [10, 3]
    for video, want in chosen.items():
        names = sorted(p.name for p in (sparse / video).glob("flow_*"))
        assert names == sorted(n for i in want for n in layout.flow_names(i))
        rgb = sorted(p.name for p in (sparse / video).glob("img_*"))
        assert rgb == [layout.rgb_name(i) for i in kept[video]]
        for name in names + rgb:
            assert (sparse / video / name).read_bytes() == (full / video / name).read_bytes()
        assert verify.folder_problems(sparse / video) == []
    meta = layout.read_meta(sparse / "eleven")
    assert meta["n_frames"] == 11 and meta[layout.FRAMES_KEY] == kept["eleven"]
    assert meta["n_flow"] == 10 and meta[layout.FIELDS_KEY] == chosen["eleven"]
    assert (meta["height"], meta["width"]) == (layout.read_meta(full / "eleven")["height"],
                                               layout.read_meta(full / "eleven")["width"])
    four = layout.read_meta(sparse / "four")
    assert layout.FIELDS_KEY not in four and layout.FRAMES_KEY not in four  # everything chosen: a full folder
    (sparse / "eleven" / "flow_x_00007.jpg").unlink()
    (sparse / "eleven" / "img_00009.jpg").unlink()
    assert verify.folder_problems(sparse / "eleven") == [f"{sparse / 'eleven'}/img_00009.jpg: missing",
                                                          f"{sparse / 'eleven'}/flow_x_00007.jpg: missing"]

    records = [VideoRecord("eleven", 0, 11, 10), VideoRecord("four", 0, 4, 3)]
    extract_shard(rows, dataset, tmp_path / "resparse", extract, flow, tmp_path / "again.tsv", reads)
    for stream in ("rgb", "flow"):
        views = [FramesDataset(root, records, stream=stream, segments=count, crop_size=16, flow_stack=length)
                 for root in (full, tmp_path / "resparse")]
        for item in range(2):
            assert torch.equal(views[0][item][0], views[1][item][0])
    extract_shard(rows, dataset, sparse, extract, flow, tmp_path / "dense.tsv")  # the pipeline redoes it whole
    assert layout.FIELDS_KEY not in layout.read_meta(sparse / "eleven")
    assert len(list((sparse / "eleven").glob("flow_x_*"))) == 10
    assert len(list((sparse / "eleven").glob("img_*"))) == 11
