"""The disk check before extraction: the estimate against a real extraction, and a small real file system."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from snakemake_run import TINY, snakemake
from tclsta.config import validate
from tclsta.data.manifest import build_manifest, write_manifest
from tclsta.data.synthetic import synthesize
from tclsta.disk_estimate import estimate_need
from tclsta.extraction import extract_shard


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """A tiny synthetic dataset (4 classes x 3 videos of 8 frames), its manifest and a config."""
    tmp = tmp_path_factory.mktemp("disk")
    config = validate({k: TINY[k] for k in ("synthetic", "extract", "flow")}, source="test")
    config["synthetic"]["frames"] = 16  # longer than the 8-frame sample: the count must come from the container
    root = synthesize(tmp / "data", config["synthetic"], progress=False)
    manifest = tmp / "manifest.csv"
    write_manifest(build_manifest("synthetic", root), manifest)
    return root, manifest, config


def test_estimate_matches_a_real_extraction(dataset: tuple[Path, Path, dict], tmp_path: Path) -> None:
    root, manifest, config = dataset
    from tclsta.data.manifest import read_manifest

    table = read_manifest(manifest)
    estimate = estimate_need(table, root, tmp_path / "frames", config["extract"], config["flow"])
    assert estimate["remaining"] == len(table) == 12 and estimate["frames_per_video"] == 16
    extract_shard(table, root, tmp_path / "frames", config["extract"], config["flow"], tmp_path / "s.tsv")
    actual = sum(f.stat().st_size for f in (tmp_path / "frames").rglob("*.jpg"))
    assert 0.7 < estimate["need_bytes"] / actual < 1.3, (estimate, actual)
    again = estimate_need(table, root, tmp_path / "frames", config["extract"], config["flow"])
    assert again["remaining"] == 0 and again["need_bytes"] == 0  # all extracted: nothing more needed


SCRIPT = """
set -e
mount -t tmpfs -o size={size} tmpfs {out}
{python} -m tclsta.cli disk-check --config-json '{cfg}' --manifest {manifest} --root {root} \\
    --frames {out}/frames --out {out}/disk.json && cat {out}/disk.json || echo "rc=$?"
ls -A {out}
"""


def in_small_fs(tmp_path: Path, dataset: tuple[Path, Path, dict], size: str, check: bool) -> str:
    root, manifest, config = dataset
    out = tmp_path / "out"
    out.mkdir(parents=True)
    cfg = json.dumps({"extract": {**config["extract"], "check_disk": check}, "flow": config["flow"]})
    script = SCRIPT.format(size=size, out=out, python=sys.executable, cfg=cfg, manifest=manifest, root=root)
    run = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=120)
    return run.stdout, run.stderr


@pytest.fixture(autouse=True)
def namespaces() -> None:
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"]).returncode:
        pytest.skip("no user namespaces here to mount a small file system")


def test_small_file_system_stops_with_one_line(tmp_path: Path, dataset: tuple[Path, Path, dict]) -> None:
    stdout, stderr = in_small_fs(tmp_path, dataset, "96k", check=True)
    errors = [line for line in stderr.splitlines() if "needs about" in line]
    assert len(errors) == 1, stderr
    assert f"{tmp_path}/out/frames: extracting 12 videos needs about" in errors[0]
    assert re.search(rf"the file system mounted at {tmp_path}/out has 0\.\d MiB free", errors[0]), errors[0]
    assert "extract.check_disk: false" in errors[0] and "Traceback" not in stderr
    assert stdout.split() == ["rc=1"]  # and `ls -A` of the small disk: nothing was written there


def test_room_enough_and_check_off(tmp_path: Path, dataset: tuple[Path, Path, dict]) -> None:
    stdout, stderr = in_small_fs(tmp_path, dataset, "64m", check=True)
    estimate = json.loads(stdout[:stdout.rindex("}") + 1])
    assert estimate["checked"] and 0 < estimate["need_bytes"] < estimate["free_bytes"] <= 64 * 2**20
    assert "frame store estimate:" in stderr and "MiB free at" in stderr
    off, _ = in_small_fs(tmp_path / "off", dataset, "96k", check=False)
    assert off.split() == ['{"checked":', 'false}', "disk.json"]


@pytest.mark.parametrize("check_disk", ["false", "true"])
def test_switching_the_check_reruns_nothing(tiny_workflow: Path, check_disk: str) -> None:
    """After a finished run, turning the disk check off (or on again) leaves the estimate and every shard
    up to date; a new JPEG quality still reruns the estimate and the extraction."""
    plan = snakemake(tiny_workflow, "-n", "--config", f"extract={{check_disk: {check_disk}}}").stdout
    assert "Nothing to be done" in plan or not re.search(r"rule (disk_check|extract):", plan), plan
    plan = snakemake(tiny_workflow, "-n", "--config", "extract={jpeg_quality: 80}").stdout
    assert re.search(r"rule disk_check:", plan) and re.search(r"rule extract:", plan), plan
