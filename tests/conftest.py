"""Shared fixtures: real runs of the whole tiny workflow (default and translating variant), reused by the
workflow-level tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the tests' helper modules (snakemake_run, factories)

from snakemake_run import snakemake, write_config  # noqa: E402
from tiny_variants import VARIANT  # noqa: E402


@pytest.fixture(scope="session")
def tiny_workflow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory where `snakemake --cores 2` ran the tiny config to the report."""
    workdir = tmp_path_factory.mktemp("tiny_workflow")
    write_config(workdir)
    snakemake(workdir, "--cores", "2")
    return workdir


@pytest.fixture(scope="session")
def variant_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of `snakemake --cores 2` on ``VARIANT`` (attention metrics, predict on the variant)."""
    workdir = tmp_path_factory.mktemp("variant_workflow")
    write_config(workdir, VARIANT)
    snakemake(workdir, "--cores", "2")
    return workdir / "out"
