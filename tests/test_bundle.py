"""The model bundle (tclsta.inference.bundle): what the workflow writes, and each way loading refuses a bundle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tclsta import paths
from tclsta.errors import TclstaError
from tclsta.hashing import sha256_file
from tclsta.inference.bundle import FORMAT_VERSION, BundleError, bundle_dir, load_bundle


@pytest.fixture
def bundle_copy(tiny_workflow: Path, tmp_path: Path) -> Path:
    """A copy of the tiny run's split-1 bundle, free to damage."""
    return Path(shutil.copytree(bundle_dir(tiny_workflow / "out", 1), tmp_path / "bundle"))


def test_workflow_writes_the_bundle(tiny_workflow: Path) -> None:
    out = tiny_workflow / "out"
    bundle = load_bundle(bundle_dir(out, 1))
    metrics = json.loads(paths.metrics(out).read_text())
    assert bundle.class_names == metrics["class_names"]
    assert sha256_file(bundle.path("rgb.pt")) == sha256_file(paths.stream_checkpoint(out, 1, "rgb", "both"))
    assert sha256_file(bundle.path("cln_heldout.pt")) == sha256_file(paths.cln_checkpoint(out, 1, "heldout"))
    assert set(bundle.settings) >= {"extract", "flow", "features", "model"}
    assert {"cln_heldout", "paper", "late", "rgb", "flow"} <= set(bundle.rows())
    for served in bundle.rows().values():
        assert served["accuracy"] == metrics["rows"][served["row"]]["splits"]["1"]
    assert bundle.checkpoint("cln_heldout.pt")["variant"] == "heldout"
    assert sorted(bundle.record["files"]) == sorted(p.name for p in bundle.folder.iterdir() if p.name != "bundle.json")


def test_missing_file_is_named(bundle_copy: Path) -> None:
    (bundle_copy / "flow.pt").unlink()
    with pytest.raises(BundleError, match=r"flow\.pt: missing from the model bundle"):
        load_bundle(bundle_copy)


def test_hash_mismatch_is_named(bundle_copy: Path) -> None:
    with open(bundle_copy / "awl_cln.csv", "a") as handle:
        handle.write("\n")
    with pytest.raises(BundleError, match=r"awl_cln\.csv: SHA-256 differs"):
        load_bundle(bundle_copy)


def test_newer_format_is_refused(bundle_copy: Path) -> None:
    record = json.loads((bundle_copy / "bundle.json").read_text())
    record["format_version"] = FORMAT_VERSION + 1
    (bundle_copy / "bundle.json").write_text(json.dumps(record))
    with pytest.raises(BundleError, match=r"bundle\.json: bundle format \d+ is newer"):
        load_bundle(bundle_copy)


def test_no_bundle_json_is_named(bundle_copy: Path) -> None:
    (bundle_copy / "bundle.json").unlink()
    with pytest.raises(BundleError, match=r"bundle\.json: not found"):
        load_bundle(bundle_copy)


def test_not_a_checkpoint_is_named(bundle_copy: Path) -> None:
    (bundle_copy / "rgb.pt").write_text("not a checkpoint\n")
    record = json.loads((bundle_copy / "bundle.json").read_text())
    record["files"]["rgb.pt"] = sha256_file(bundle_copy / "rgb.pt")  # consistent hashes: only the content is wrong
    (bundle_copy / "bundle.json").write_text(json.dumps(record))
    bundle = load_bundle(bundle_copy)
    with pytest.raises(TclstaError, match=r"rgb\.pt: not a PyTorch checkpoint"):
        bundle.checkpoint("rgb.pt")
