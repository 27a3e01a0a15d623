#!/usr/bin/env bash
# Snakemake runs this inside each freshly created conda env (envs/tclsta.yaml, envs/tclsta-gpu.yaml).
# Installs this checkout's tclsta package, editable and without dependencies (the env has them),
# so `tclsta <command>` exists in the env and always runs the checkout's current code.
# TCLSTA_REPO is exported by workflow/rules/common.smk (Snakemake copies this script elsewhere first).
set -euo pipefail
: "${TCLSTA_REPO:?TCLSTA_REPO not set: run through the workflow (workflow/rules/common.smk sets it)}"
python -m pip install --no-deps --no-build-isolation --disable-pip-version-check -e "$TCLSTA_REPO"
python -c "import tclsta.cli"
