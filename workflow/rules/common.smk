# Config validation, output paths and input functions shared by every stage.
import json
import os
import sys
from pathlib import Path

# The repository's package is importable even when tclsta is not pip-installed.
sys.path.insert(0, str(Path(workflow.basedir).parent))
# envs/tclsta.post-deploy.sh pip-installs this checkout into each conda env (--sdm conda).
os.environ.update(TCLSTA_REPO=str(Path(workflow.basedir).parent))

from tclsta.config import validate as _validate_config
from tclsta.errors import ConfigError

try:
    config = _validate_config(config, source="snakemake config")
except ConfigError as err:
    raise WorkflowError(str(err)) from None


wildcard_constraints:
    split=r"\d+",
    shard=r"\d+",
    stream="rgb|flow",
    attention="none|spatial|temporal|both",


OUT = config["output_dir"]
LOGS = f"{OUT}/logs"
ENV = str(Path(workflow.basedir).parent / "envs" / "tclsta.yaml")
GPU_ENV = str(Path(workflow.basedir).parent / "envs" / "tclsta-gpu.yaml")
GPUS = config["resources"]["gpus"]
SPLITS = config["dataset"]["splits"]

# Final products of each stage; the stage files append to it and `rule all` asks for it.
TARGETS = []

MANIFEST = f"{OUT}/manifest.csv"
FRAMES = f"{OUT}/frames"
FRAME_INDEX = f"{OUT}/frames_index.csv"
BAD_VIDEOS = f"{OUT}/bad_videos.txt"
SHARD_INDEX = f"{OUT}/extract/shard_{{shard}}.tsv"


def cfg_json(*sections):
    """The config sections a rule depends on, as a JSON string for `params` and --config-json.

    Snakemake compares params by value, so a rule reruns exactly when one of these changes.
    """
    return json.dumps({name: config[name] for name in sections}, sort_keys=True)


def dataset_root():
    """The dataset folder; the synthetic dataset lives in <output_dir>/dataset."""
    root = config["dataset"]["root"]
    if root is None:
        if config["dataset"]["format"] != "synthetic":
            raise WorkflowError(f"dataset.root must be set for dataset.format={config['dataset']['format']}")
        return f"{OUT}/dataset"
    return root


def video_count():
    """Number of videos in the dataset, known at parse time (no checkpoint needed)."""
    if config["dataset"]["format"] == "synthetic":
        syn = config["synthetic"]
        return syn["num_classes"] * (syn["train_per_class"] + syn["test_per_class"])
    from tclsta.data.manifest import build_manifest
    from tclsta.errors import TclstaError

    try:
        return len(build_manifest(config["dataset"]["format"], dataset_root()))
    except TclstaError as err:
        raise WorkflowError(f"cannot read the dataset's split files: {err}") from None


def shard_ids():
    """Extraction shard numbers: `extract.shard_size` videos per job."""
    size = config["extract"]["shard_size"]
    return list(range((video_count() + size - 1) // size))
