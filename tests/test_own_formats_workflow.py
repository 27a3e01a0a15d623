"""One real Snakemake run, end to end, on a tiny dataset.format=folders dataset with awkward class names."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from snakemake_run import TINY, snakemake, write_config
from tclsta.data.synthetic import synthesize

# folder names a shell, Snakemake and CSV must all survive: blanks, parentheses, a comma
NAMES = ["Spin (clockwise) red", "spin (counter, clockwise) red", "Jump rope (fast)", "play  piano"]


def test_folders_dataset_end_to_end(tmp_path: Path) -> None:
    source = synthesize(tmp_path / "synthetic", {**TINY["synthetic"], "motion": "spin", "fps": 25,
                                                 "action_fraction": 0.4, "arm_fraction": 0.2,
                                                 "distractors": [1, 1], "distractor_hues": "between", "seed": 0},
                        progress=False)
    root = tmp_path / "my videos (v2)"
    root.mkdir()
    folders = sorted(p for p in source.iterdir() if p.is_dir() and p.name not in ("annotations", "ucfTrainTestlist"))
    assert len(folders) == len(NAMES)
    for folder, name in zip(folders, NAMES):
        shutil.move(str(folder), root / name)
    workdir = tmp_path / "run"
    write_config(workdir, {"dataset": {"format": "folders", "root": str(root), "test_fraction": 0.34,
                                       "group_pattern": r"_g(\d+)_"}})
    snakemake(workdir, "--cores", "2")
    out = workdir / "out"
    manifest = pd.read_csv(out / "manifest.csv", dtype=str, keep_default_na=False)
    assert sorted(set(manifest["class_name"])) == sorted(NAMES)
    assert manifest.groupby("class_name")["split1"].apply(lambda s: (s == "test").sum()).tolist() == [1] * 4
    metrics = json.loads((out / "metrics.json").read_text())
    top1, top5 = metrics["rows"], metrics["top5"]["rows"]
    assert set(top5) == set(top1) and all(top5[m]["mean"] >= top1[m]["mean"] for m in top1)
    assert all(top5[m]["mean"] == 1.0 for m in top5)  # 4 classes: every label is in the top 5
    assert "## Top-5 accuracy" in (out / "report" / "report.md").read_text()
    assert (out / "bad_videos.txt").is_file() and (out / "missing_videos.txt").read_text() == ""
