"""tclsta predict on the tiny run's bundle: the pipeline's top-1 on its test videos, other videos, bad videos."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from tiny_variants import VARIANT

from tclsta import paths
from tclsta.fusion.scores import read_score_set
from tclsta.inference.bundle import bundle_dir, load_bundle
from tclsta.inference.predict import predict_videos

REPO = Path(__file__).resolve().parents[1]


def tclsta(*args: str) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess (this checkout first on the path)."""
    return subprocess.run([sys.executable, "-m", "tclsta.cli", *args], capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})


def split_test_videos(out: Path) -> pd.DataFrame:
    """The tiny run's split-1 test videos (manifest rows) with their file paths."""
    manifest = pd.read_csv(paths.manifest(out))
    test = manifest[manifest["split1"] == "test"].copy()
    test["file"] = [str(out / "dataset" / p) for p in test["path"]]
    return test


def write_video(path: Path, frames: int, size: tuple[int, int]) -> None:
    """A real MJPG-encoded video: a bright square moving over a gradient."""
    height, width = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (width, height))
    for t in range(frames):
        image = np.tile(np.linspace(0, 255, width, dtype=np.uint8)[None, :, None], (height, 1, 3))
        image[10:20, 2 * t:2 * t + 10] = (20, 200, 240)
        writer.write(image)
    writer.release()


def predict_test_videos(out: Path, tmp_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Predict a finished run's split-1 test videos with its bundle through the CLI, checking that every
    video gets the top-1 of ``evaluation/predictions.csv`` and the accuracy of ``metrics.json``;
    the test videos and the pipeline's predictions."""
    bundle = load_bundle(bundle_dir(out, 1))
    test = split_test_videos(out)
    listing = tmp_path / "videos.txt"
    listing.write_text("".join(f"{f}\n" for f in test["file"]))
    done = tclsta("predict", str(listing), "--model", str(bundle.folder), "-o", str(tmp_path / "pred"))
    assert done.returncode == 0, done.stderr
    ours = pd.read_csv(tmp_path / "pred" / "predictions.csv")
    method = bundle.rows()[bundle.best_heldout()]["row"]
    assert set(ours["method"]) == {method}
    pipeline = pd.read_csv(paths.predictions(out))
    expected = pipeline[pipeline["method"] == method].set_index("video_id")
    ids = dict(zip(test["file"], test["video_id"]))
    assert [expected.loc[ids[p], "prediction"] for p in ours["path"]] == list(ours["prediction"])
    labels = dict(zip(test["file"], test["label"]))
    metrics = json.loads(paths.metrics(out).read_text())
    accuracy = np.mean([labels[p] == q for p, q in zip(ours["path"], ours["prediction"])])
    assert accuracy == pytest.approx(metrics["rows"][method]["splits"]["1"])
    records = [json.loads(line) for line in (tmp_path / "pred" / "predictions.jsonl").read_text().splitlines()]
    assert [len(r["top_k"]) for r in records] == [min(5, len(bundle.class_names))] * len(test)
    return test, pipeline


def test_predict_agrees_with_the_pipeline(tiny_workflow: Path, tmp_path: Path) -> None:
    out = tiny_workflow / "out"
    bundle = load_bundle(bundle_dir(out, 1))
    test, pipeline = predict_test_videos(out, tmp_path)

    # every other fusion the bundle serves, on one extraction of the same videos
    fusions = list(bundle.rows())
    results = predict_videos(bundle, [Path(f) for f in test["file"]], fusions)
    for fusion in fusions:
        row = pipeline[pipeline["method"] == bundle.rows()[fusion]["row"]].set_index("video_id")
        expected_top1 = [row.loc[i, "prediction"] for i in test["video_id"]]
        assert [int(r.scores[fusion].argmax()) for r in results] == expected_top1, fusion
    # and the held-out CLN's scores themselves, against its score file
    cln = read_score_set(paths.cln_scores(out, 1, "heldout"))
    where = {v: i for i, v in enumerate(cln.video_ids)}
    head = "fused" if "fused" in cln.scores else None
    if head is not None:
        expected_scores = np.stack([cln.scores[head][where[v]] for v in test["video_id"]])
        np.testing.assert_allclose(np.stack([r.scores["cln_heldout"] for r in results]), expected_scores, atol=1e-5)


def test_other_videos_and_bad_ones(tiny_workflow: Path, tmp_path: Path) -> None:
    """A real video of another size and length is predicted; an unreadable and a one-frame one are named, exit 1."""
    out = tiny_workflow / "out"
    videos = tmp_path / "videos"
    videos.mkdir()
    write_video(videos / "other.avi", frames=13, size=(48, 64))
    write_video(videos / "single.avi", frames=1, size=(32, 40))
    (videos / "broken.avi").write_bytes(b"RIFF\x00\x00 not a video at all")
    good = split_test_videos(out)["file"].iloc[0]
    done = tclsta("predict", str(videos), good, "--model", str(bundle_dir(out, 1)), "-o", str(tmp_path / "pred"),
                  "--fusion", "late", "--top-k", "2", "--batch-videos", "2")
    assert done.returncode == 1
    assert "broken.avi" in done.stderr and "single.avi" in done.stderr
    table = pd.read_csv(tmp_path / "pred" / "predictions.csv")
    assert sorted(Path(p).name for p in table["path"]) == sorted(["other.avi", Path(good).name])
    assert set(table["method"]) == {"Two-stream + STA"}
    assert ((table["probability"] > 0) & (table["probability"] <= 1)).all()
    records = {Path(r["path"]).name: r for r in map(json.loads, (tmp_path / "pred" / "predictions.jsonl").open())}
    assert len(records["other.avi"]["top_k"]) == 2
    assert "error" in records["broken.avi"] and "error" in records["single.avi"]


def test_predict_agrees_on_the_translate_variant(variant_run: Path, tmp_path: Path) -> None:
    """The translating variant's run (conftest's ``variant_run``: square frames, 8 classes, frame attention,
    the paper's fusion rows only): predict still gives the pipeline's top-1 on every test video."""
    test, _ = predict_test_videos(variant_run, tmp_path)
    assert len(set(test["label"])) == VARIANT["synthetic"]["num_classes"]