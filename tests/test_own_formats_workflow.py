"""Real Snakemake runs on the own-data formats: a tiny dataset.format=folders dataset with awkward class names,
end to end, and a Kinetics-layout one parsed as a cluster job parses it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from placeholder_datasets import make_placeholder
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


def test_a_cluster_job_counts_the_written_manifest_instead_of_walking_the_dataset(tmp_path: Path) -> None:
    """Each SLURM job parses the Snakefile again (`--mode remote`); sizing the extraction shards from the
    manifest the main process wrote spares a Kinetics-sized walk per job. Shown by taking the annotations
    away after the manifest exists: the main process needs them, a cluster job does not."""
    root = make_placeholder("kinetics", tmp_path / "k400")
    workdir = tmp_path / "run"
    write_config(workdir, {"dataset": {"format": "kinetics", "root": str(root)}, "extract": {"shard_size": 3}})
    snakemake(workdir, "--cores", "1", "out/manifest.csv")
    (root / "annotations").rename(tmp_path / "annotations")
    job = ("-n", "--cores", "1", "--mode", "remote", "--target-jobs", "extract:shard=2", "--allowed-rules", "extract")
    cluster_job = snakemake(workdir, *job)
    assert "out/extract/shard_2.tsv" in cluster_job.stdout  # 8 videos, 3 per shard: shard 2 is the last
    main = snakemake(workdir, "-n", "--cores", "1", check=False)
    assert main.returncode != 0 and "annotations/train.csv: Kinetics annotation file not found" in main.stdout
