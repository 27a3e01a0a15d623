"""End to end: the real Snakemake workflow on tiny synthetic data, from videos to the report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from snakemake_run import TINY, snakemake
from tclsta.data import layout
from tclsta.data.manifest import read_manifest
from tclsta.features.cache import read_feature_cache
from tclsta.flow import read_flow

pytestmark = pytest.mark.slow

SYN = TINY["synthetic"]
N_CLASSES = SYN["num_classes"]
N_VIDEOS = N_CLASSES * (SYN["train_per_class"] + SYN["test_per_class"])


@pytest.fixture(scope="module")
def out(tiny_workflow: Path) -> Path:
    return tiny_workflow / "out"


def test_manifest_and_frames(out: Path) -> None:
    manifest = read_manifest(out / "manifest.csv")
    assert len(manifest) == N_VIDEOS and manifest["label"].nunique() == N_CLASSES
    assert set(manifest["split1"]) == {"train", "test"}
    index = pd.read_csv(out / "frames_index.csv")
    assert (index["status"] == "ok").all() and len(index) == N_VIDEOS
    assert (out / "bad_videos.txt").read_text() == ""
    for video_id in manifest["video_id"]:
        folder = layout.video_dir(out / "frames", video_id)
        meta = layout.read_meta(folder)
        assert meta["n_frames"] == SYN["frames"] and meta["n_flow"] == SYN["frames"] - 1
        names = {p.name for p in folder.iterdir()}
        assert layout.rgb_name(SYN["frames"]) in names and layout.flow_names(SYN["frames"] - 1)[1] in names
        assert layout.flow_names(SYN["frames"])[0] not in names
    flow = read_flow(layout.video_dir(out / "frames", manifest["video_id"][0]), 1)
    assert flow.shape == (SYN["height"], SYN["width"], 2) and np.abs(flow).max() <= 20


def test_feature_caches(out: Path) -> None:
    manifest = read_manifest(out / "manifest.csv").set_index("video_id")
    for stream in TINY["stream"]["streams"]:
        for attention in TINY["stream"]["attentions"]:
            cache = read_feature_cache(out / "features" / "split1" / f"{stream}_{attention}.h5")
            assert len(cache) == N_VIDEOS
            assert (cache.lengths == TINY["features"]["frames"]).all()
            assert cache.features.shape[0] == cache.lengths.sum()
            assert cache.labels.tolist() == manifest.loc[cache.video_ids, "label"].tolist()
            assert cache.splits == manifest.loc[cache.video_ids, "split1"].tolist()
            weights = [cache.temporal_weights[cache.rows(v)].sum() for v in range(len(cache))]
            np.testing.assert_allclose(weights, 1.0, atol=1e-5)
            for head, scores in cache.scores.items():
                assert scores.shape == (N_VIDEOS, N_CLASSES), head
                np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-4)


def test_fusion_weights_are_lp_vertices(out: Path) -> None:
    for source in ("stream", "cln"):
        weights = pd.read_csv(out / "awl" / "split1" / source / "weights.csv")
        assert list(weights.columns) == ["class_name", "w_static", "w_motion"] and len(weights) == N_CLASSES
        np.testing.assert_allclose(weights["w_static"] + weights["w_motion"], 1.0)
        assert set(np.round(weights["w_static"], 6)) <= {0.0, 1.0}  # ε = 0: all weight on one stream


def test_metrics_and_report(out: Path) -> None:
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["metric"] == "accuracy" and metrics["splits"] == [1]
    for row in ("Frame + STA", "Optical flow + STA", "Two-stream + STA + Late", "Two-stream + STA + Early",
                "Two-stream + STA + MKL", "Two-stream + STA + CLN", "Two-stream + STA + AWL",
                "Two-stream + STA + CLN + AWL", "Two-stream + STA + Late [calibrated]",
                "Two-stream + STA + MKL [held-out]", "Two-stream + STA + AWL [held-out]",
                "Two-stream + STA + CLN [held-out]", "Two-stream + STA + CLN + AWL [held-out]"):
        value = metrics["rows"][row]
        assert 0.0 <= value["mean"] <= 1.0 and value["splits"]["1"] == value["mean"]
    # attention measured against the synthetic boxes, for each stream with an attention component
    attention = metrics["attention"]
    assert set(attention) == {"rgb_both", "flow_both"}
    for entry in attention.values():
        assert entry["videos"] == N_CLASSES * SYN["test_per_class"] and entry["spatial_frames"] > 0
        assert 0 <= entry["spatial_pointing"] <= 1 and 0 < entry["spatial_pointing_chance"] <= 1
        assert 0 <= entry["temporal_mass"] <= 1 and 0 < entry["temporal_mass_uniform"] <= 1
    report = (out / "report" / "report.md").read_text()
    assert "Table VI" in report and "Table VIII" in report and "| rgb_both |" in report
    assert "held-out groups" in report and "Diagnostics" in report and "reliability.png" in report
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert len(figures) >= 3
    for name in figures:
        assert (out / "report" / name).stat().st_size > 1000


def test_no_test_video_fits_anything(out: Path) -> None:
    """Each fitted stage records the videos it fitted; per the manifest none is a test video of its split."""
    import torch

    manifest = read_manifest(out / "manifest.csv")
    test = set(manifest.loc[manifest["split1"] == "test", "video_id"])
    train = set(manifest.loc[manifest["split1"] == "train", "video_id"])
    fitted: dict[str, list[str]] = {}
    stream_fit: set[str] = set()
    for checkpoint in sorted((out / "streams" / "split1").glob("*.pt")):
        fitted[f"stream {checkpoint.stem}"] = ids = torch.load(checkpoint, weights_only=True)["meta"]["fit_videos"]
        stream_fit |= set(ids)
    for variant in ("paper", "heldout"):
        cln = torch.load(out / "cln" / "split1" / variant / "cln.pt", weights_only=True)
        fitted[f"CLN {variant}"] = cln["fit_videos"] + cln["validation_videos"]
    for record in sorted((out / "awl" / "split1").glob("*/fit.json")):  # the LPs and their temperatures
        fitted[f"AWL {record.parent.name}"] = json.loads(record.read_text())["fitted_on"]
    for name, ids in json.loads((out / "evaluation" / "fitted_on.json").read_text())["1"].items():
        fitted[name] = ids  # early fusion's SVM, MKL
    assert len(fitted) == 2 + 2 + 4 + 3, sorted(fitted)
    for name, ids in fitted.items():
        assert ids and set(ids) <= train and not set(ids) & test, name
    # the held-out fits read only videos no stream fitted; the held-out CLN stopped on them (then refitted)
    held = set(fitted["AWL stream_heldout"])
    assert held == set(fitted["MKL [held-out]"]) and not held & stream_fit
    cln = torch.load(out / "cln" / "split1" / "heldout" / "cln.pt", weights_only=True)
    assert set(cln["validation_videos"]) == held and set(cln["fit_videos"]) == stream_fit | held


def test_nothing_left_to_do_and_html_report(tiny_workflow: Path) -> None:
    dry = snakemake(tiny_workflow, "-n").stdout
    assert "Nothing to be done" in dry
    snakemake(tiny_workflow, "--report", "report.html")
    html = (tiny_workflow / "report.html").read_text(errors="replace")
    assert "confusion" in html.lower()
