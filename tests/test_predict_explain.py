"""tclsta predict --explain on the tiny run's bundle: the MP4, GIF and PNG read back, and the heatmap really drawn."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image
from test_predict import split_test_videos, tclsta

from tclsta import paths
from tclsta.evaluation.overlays import draw_attention
from tclsta.features.cache import open_feature_cache
from tclsta.inference.bundle import bundle_dir, load_bundle
from tclsta.inference.explain import (FPS, FRAME_SIZE, SHEET_CELL, SHEET_COLUMNS, SHEET_TITLE, Explainer,
                                      VideoAttention, explain_frame, video_attention)
from tclsta.inference.predict import predict_videos


def read_mp4(path: Path) -> tuple[list[np.ndarray], float]:
    """Every frame (RGB) of a video file, decoded by OpenCV, and its frame rate."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while (frame := capture.read())[0]:
        frames.append(cv2.cvtColor(frame[1], cv2.COLOR_BGR2RGB))
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return frames, fps


def run_samples(out: Path, video_id: str) -> int:
    """How many frames the run's own RGB feature cache sampled from this test video."""
    bundle = load_bundle(bundle_dir(out, 1))
    with open_feature_cache(paths.feature_cache(out, 1, "rgb", bundle.settings["attention"])) as cache:
        return int(cache.lengths[cache.video_ids.index(video_id)])


def test_explain_writes_mp4_gif_png_and_skips_bad_videos(tiny_workflow: Path, tmp_path: Path) -> None:
    out = tiny_workflow / "out"
    test = split_test_videos(out).iloc[:2]
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"RIFF\x00\x00 not a video at all")
    explain = tmp_path / "explain"
    done = tclsta("predict", *test["file"], str(broken), "--model", str(bundle_dir(out, 1)),
                  "-o", str(tmp_path / "pred"), "--explain", str(explain), "--gif", "--batch-videos", "2")
    assert done.returncode == 1 and "broken.avi" in done.stderr
    assert sorted(p.name for p in explain.iterdir()) == sorted(f"{v}.{s}" for v in test["video_id"]
                                                               for s in ("mp4", "gif", "png"))
    for video_id in test["video_id"]:
        samples = run_samples(out, video_id)
        frames, fps = read_mp4(explain / f"{video_id}.mp4")
        assert len(frames) == samples and fps == pytest.approx(FPS)
        assert {f.shape for f in frames} == {(FRAME_SIZE[1], FRAME_SIZE[0], 3)}
        with Image.open(explain / f"{video_id}.gif") as gif:
            assert gif.n_frames == samples and gif.size == FRAME_SIZE
        columns = min(SHEET_COLUMNS, samples)
        with Image.open(explain / f"{video_id}.png") as sheet:
            assert sheet.size == (columns * SHEET_CELL[0], math.ceil(samples / columns) * SHEET_CELL[1] + SHEET_TITLE)


def test_explain_frames_carry_the_map(tiny_workflow: Path, tmp_path: Path) -> None:
    """The MP4 frames are the drawn frames, the map changes them, and it lands where the map is high."""
    out = tiny_workflow / "out"
    bundle = load_bundle(bundle_dir(out, 1))
    video = Path(split_test_videos(out)["file"].iloc[0])
    explainer = Explainer(tmp_path / "explain", "rgb", "late", bundle.rows()["late"]["row"], bundle.class_names)
    seen: dict[str, VideoAttention] = {}

    def hook(frames_root: Path, caches: dict[str, Path], scored: dict) -> None:
        explainer(frames_root, caches, scored)
        for stream in ("rgb", "flow"):
            with open_feature_cache(caches[stream]) as cache:
                seen[stream] = video_attention(cache, 0, frames_root)

    predict_videos(bundle, [video], ["late"], on_batch=hook)
    att = seen["rgb"]
    assert att.maps is not None, "the tiny run's attention mode has spatial maps"
    for stream, drawn in seen.items():  # only the sampled frames are kept: those at both streams' positions
        assert all(f.std() > 0 for f in drawn.frames), f"{stream}: real frames, not grey placeholders"
    assert set(seen["flow"].indices) - set(att.indices), "the flow stream samples other frames than the RGB stream"
    written, _ = read_mp4(tmp_path / "explain" / f"{att.video_id}.mp4")
    with_map = explain_frame(att, 0, "t").astype(float)
    without = explain_frame(replace(att, maps=None), 0, "t").astype(float)
    heat = np.abs(with_map - without).max(axis=2) > 30  # the pixels the heatmap (and its colour bar) changed
    assert heat.mean() > 0.1, heat.mean()
    assert np.abs(written[0] - with_map)[heat].mean() < 0.25 * np.abs(written[0] - without)[heat].mean()

    # the shared drawing, on the real frame: a map high in its top-left quarter reddens that quarter most
    frame = att.frames[0]
    height, width = frame.shape[:2]
    spatial = np.zeros((4, 4), np.float32)
    spatial[:2, :2] = 1
    fig = Figure(figsize=(width / 100, height / 100), dpi=100)
    canvas = FigureCanvasAgg(fig)
    draw_attention(fig.add_axes((0, 0, 1, 1)), frame, spatial, (0, width, height, 0), limits=(0, 1))
    canvas.draw()
    drawn = np.asarray(canvas.buffer_rgba())[..., :3].astype(float)
    redness = (drawn[..., 0] - drawn[..., 2]) - (frame[..., 0].astype(float) - frame[..., 2])
    high = redness[: height // 2 - 2, : width // 2 - 2].mean()
    low = redness[height // 2 + 2:, width // 2 + 2:].mean()
    assert high > 40 and low < 0


@pytest.mark.parametrize(("options", "message"), [
    (["--gif"], "--gif needs --explain DIR"),
    (["--explain", "x", "--explain-stream", "flow", "--fusion", "rgb"], "--fusion rgb does not run that stream"),
])
def test_explain_option_errors_before_any_video(tiny_workflow: Path, tmp_path: Path, options: list[str],
                                                message: str) -> None:
    video = split_test_videos(tiny_workflow / "out")["file"].iloc[0]
    done = tclsta("predict", video, "--model", str(bundle_dir(tiny_workflow / "out", 1)), "-o", str(tmp_path / "p"),
                  *options)
    assert done.returncode != 0 and message in done.stderr
    assert not (tmp_path / "p").exists()
