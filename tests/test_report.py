"""train-cln → solve-awl → evaluate → report through the CLI on small real HDF5 caches and JPEG frames."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest
from cache_factory import CLASS_NAMES, make_pair, write_manifest

from tclsta.cli import main
from tclsta.data.layout import rgb_name
from tclsta.features.cache import read_feature_cache


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    features = out / "features" / "split1"
    features.mkdir(parents=True)
    make_pair(features, attention="none", seed=1)
    rgb, _ = make_pair(features, attention="both", seed=2)
    write_manifest(out / "manifest.csv", rgb)
    cache = read_feature_cache(rgb)
    rng = np.random.default_rng(0)
    for v in cache.subset("test"):
        folder = out / "frames" / cache.video_ids[v]
        folder.mkdir(parents=True, exist_ok=True)
        for index in cache.frame_indices[cache.rows(v)]:
            cv2.imwrite(str(folder / rgb_name(int(index))), rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
    settings = ["--set", f"output_dir={out}", "--set", "device=cpu", "--set", "stream.attentions=[none, both]",
                "--set", "cln.epochs=30", "--set", "cln.hidden_dim=8", "--set", "cln.lr=0.01",
                "--set", "cln.batch_size=8", "--set", "report.attention_videos=2",
                "--set", "fusion.heldout=false", "-q"]  # the paper's rows only (test_fusion_heldout: ours)
    for command in (["train-cln", "--split", "1"], ["solve-awl", "--split", "1", "--source", "cln"],
                    ["solve-awl", "--split", "1", "--source", "stream"], ["evaluate"], ["report"]):
        assert main(command + settings) == 0, command
    return out


def test_metrics_rows_named_as_the_paper(run_dir) -> None:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["metric"] == "accuracy" and metrics["splits"] == [1]
    assert list(metrics["rows"]) == [
        "Frame", "Frame + STA", "Frame + STA (frame head only)", "Optical flow", "Optical flow + STA",
        "Optical flow + STA (frame head only)", "Two-stream", "Two-stream + STA",
        "Two-stream + STA + Late", "Two-stream + STA + Early", "Two-stream + STA + MKL", "Two-stream + STA + CLN",
        "Two-stream + STA + AWL", "Two-stream + STA + CLN + AWL"]
    for row in metrics["rows"].values():
        assert row["mean"] == row["splits"]["1"]
        assert 0 <= row["mean"] <= 1
    rows = metrics["rows"]
    # the factory's streams each confuse pairs of classes; fusing them must help
    assert rows["Two-stream + STA"]["mean"] > max(rows["Frame + STA"]["mean"], rows["Optical flow + STA"]["mean"])
    assert rows["Two-stream + STA + Late"] == rows["Two-stream + STA"]
    # the matched control: the STA stream scored by its frame head alone
    predictions = pd.read_csv(run_dir / "evaluation" / "predictions.csv")
    cache = read_feature_cache(run_dir / "features" / "split1" / "rgb_both.h5")
    test = cache.subset("test")
    expected = (cache.scores["frame"][test].argmax(axis=1) == cache.labels[test]).mean()
    assert rows["Frame + STA (frame head only)"]["mean"] == pytest.approx(expected)
    assert len(predictions[predictions["method"] == "Frame + STA (frame head only)"]) == len(test)
    assert metrics["secondary"]["metric"] == "mAP"


def test_weights_csv_lists_every_class(run_dir) -> None:
    for source in ("stream", "cln"):
        lines = (run_dir / "awl" / "split1" / source / "weights.csv").read_text().splitlines()
        assert lines[0] == "class_name,w_static,w_motion"
        assert [line.split(",")[0] for line in lines[1:]] == CLASS_NAMES


def test_report_files(run_dir) -> None:
    report = run_dir / "report"
    for name in ("report.md", "confusion.png", "attention.png", "fusion_weights.png", "reliability.png"):
        assert (report / name).stat().st_size > 0, name
        if name.endswith(".png"):
            assert cv2.imread(str(report / name)) is not None
    text = (report / "report.md").read_text()
    for needle in ("Table VI", "Table VII", "Table VIII", "Two-stream + STA + CLN + AWL", "at a vertex",
                   "![attention](attention.png)", "cln:", "orderings", "ECE", "chosen",
                   "Frame + STA (frame head only) > Frame", "No attention ground truth"):
        assert needle in text, needle
    assert "RGB frames missing" not in text
    assert (run_dir / "evaluation" / "predictions.csv").is_file()


def test_report_names_missing_metrics(tmp_path) -> None:
    assert main(["report", "--set", f"output_dir={tmp_path}", "-q"]) == 1


def test_chance_section_hand_made() -> None:
    from tclsta.evaluation.report import chance_section

    predictions = pd.DataFrame({
        "method": ["Frame"] * 4 + ["Two-stream"] * 4,
        "label": [0, 1, 2, 3] * 2,
        "prediction": [0, 1, 2, 0, 0, 1, 2, 3],
    })
    lines = chance_section(predictions, num_classes=4)
    assert lines[0].startswith("Chance is 1/4 = 0.250")
    rows = [line for line in lines if line.startswith("| Frame")]
    # 3 of 4 right: +0.5 over chance, 3x chance; P(X >= 3 | n=4, p=1/4) = 13/256
    assert rows == ["| Frame | 0.750 (3/4) | +0.500 (3.0× chance) | 0.051 |"]
    assert not any(line.startswith("| Two-stream") for line in lines)


def test_attention_table_rows_ratios_and_near_misses():
    from tclsta.evaluation.report import attention_metrics_table

    section = {"rgb_both": {"spatial_pointing": 0.6, "spatial_pointing_chance": 0.15, "spatial_within_one_cell": 0.9,
                            "temporal_mass": 0.5, "temporal_mass_uniform": 0.4, "videos": 12},
               "flow_temporal": {"spatial_pointing": None, "spatial_pointing_chance": None,
                                 "spatial_within_one_cell": None, "temporal_mass": 0.8,
                                 "temporal_mass_uniform": 0.5, "videos": 12}}
    lines = attention_metrics_table(section)
    assert lines[-2] == "| rgb_both | 0.600 | 0.150 | 4.0× | 0.900 | 0.500 | 0.400 | 1.2× | 12 |"
    assert lines[-1] == "| flow_temporal | – | – | – | – | 0.800 | 0.500 | 1.6× | 12 |"
    assert attention_metrics_table({})[0].startswith("No attention ground truth")
