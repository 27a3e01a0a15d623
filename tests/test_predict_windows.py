"""tclsta predict --windows: the window layout by hand, and a long real video scored window by window."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from test_predict import split_test_videos, tclsta

from tclsta.data.video import decode_video
from tclsta.errors import ConfigError
from tclsta.inference.bundle import bundle_dir
from tclsta.inference.windows import window_bounds

FPS = 25


def test_window_bounds_by_hand() -> None:
    # 3 s windows every 2 s at 10 fps over 100 frames: starts 0, 20, 40, 60, then the tail window 70..100
    assert window_bounds(100, 10.0, 3.0, 2.0) == [(0, 30), (20, 50), (40, 70), (60, 90), (70, 100)]
    # stride defaults to the window: 0..40, 40..80, and the tail 60..100
    assert window_bounds(100, 10.0, 4.0) == [(0, 40), (40, 80), (60, 100)]
    # a video shorter than one window is one window; windows tile exactly when they fit
    assert window_bounds(20, 25.0, 5.0) == [(0, 20)]
    assert window_bounds(50, 25.0, 1.0) == [(0, 25), (25, 50)]
    with pytest.raises(ConfigError, match="positive"):
        window_bounds(50, 25.0, 1.0, 0.0)


def write_lossless(path: Path, frames: np.ndarray) -> None:
    """RGB frames as an FFV1 video (lossless: it decodes to exactly these frames)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), FPS, (frames.shape[2], frames.shape[1]))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def test_windows_of_a_long_video_score_as_its_parts(tiny_workflow: Path, tmp_path: Path) -> None:
    """A video made of two test videos of two classes end to end (each looped three times, so only the flow
    pairs their stacks read are computed): its two windows score exactly as the two videos alone, a half-stride
    window lies between them, and the whole video is scored too."""
    out = tiny_workflow / "out"
    test = split_test_videos(out)
    first = test.iloc[0]
    second = next(row for _, row in test.iterrows() if row["label"] != first["label"])
    parts = [decode_video(row["file"]) for row in (first, second)]
    n = min(len(p) for p in parts)
    parts = [np.concatenate([p[:n]] * 3) for p in parts]
    n *= 3
    videos = tmp_path / "videos"
    videos.mkdir()
    write_lossless(videos / "a.avi", parts[0])
    write_lossless(videos / "b.avi", parts[1])
    write_lossless(videos / "long.avi", np.concatenate(parts))
    done = tclsta("predict", *(str(videos / f"{v}.avi") for v in ("a", "b", "long")), "--model",
                  str(bundle_dir(out, 1)), "-o", str(tmp_path / "pred"), "--fusion", "late", "--top-k", "99",
                  "--windows", str(n / FPS), "--stride", str(n / 2 / FPS))
    assert done.returncode == 0, done.stderr
    records = {r["video_id"]: r for r in map(json.loads, (tmp_path / "pred" / "predictions.jsonl").open())}

    def scores(top: list[dict]) -> np.ndarray:
        return np.array([t["probability"] for t in sorted(top, key=lambda t: t["label"])])

    windows = records["long"]["windows"]
    starts = [0, n // 2, n]
    assert [w["start"] for w in windows] == pytest.approx([s / FPS for s in starts])
    assert [w["end"] for w in windows] == pytest.approx([(s + n) / FPS for s in starts])
    np.testing.assert_allclose(scores(windows[0]["top_k"]), scores(records["a"]["top_k"]), atol=1e-6)
    np.testing.assert_allclose(scores(windows[2]["top_k"]), scores(records["b"]["top_k"]), atol=1e-6)
    assert not np.allclose(scores(windows[1]["top_k"]), scores(windows[0]["top_k"]), atol=1e-6)
    # a video of exactly one window: that window is the video
    assert len(records["a"]["windows"]) == 1
    np.testing.assert_allclose(scores(records["a"]["windows"][0]["top_k"]), scores(records["a"]["top_k"]), atol=1e-6)

    table = pd.read_csv(tmp_path / "pred" / "windows.csv")
    long_rows = table[table["video_id"] == "long"]
    assert list(long_rows["first_frame"]) == [0, n // 2, n] and list(long_rows["stop_frame"]) == [n, n // 2 + n, 2 * n]
    assert list(long_rows["prediction"])[::2] == [records["a"]["top_k"][0]["label"], records["b"]["top_k"][0]["label"]]
    assert set(table["method"]) == {"Two-stream + STA"}


def test_stride_needs_windows(tiny_workflow: Path, tmp_path: Path) -> None:
    done = tclsta("predict", str(tmp_path), "--model", str(bundle_dir(tiny_workflow / "out", 1)), "-o",
                  str(tmp_path / "pred"), "--stride", "1")
    assert done.returncode != 0 and "--stride needs --windows" in done.stderr
