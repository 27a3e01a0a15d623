"""Run the real workflow (workflow/Snakefile) on a tiny synthetic config in a temporary folder.

Shared by the workflow-level tests (test_envs, test_rerun, test_faults, test_slurm) and
benchmarks/dag.py. Every run gets its own working directory holding `config.yaml` (the Snakefile's
`configfile:` is resolved there) and `.snakemake/`, so runs never touch the checkout.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

from tclsta.config import deep_merge

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflow" / "Snakefile"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

# The smallest run that still exercises every stage: 4 classes x 3 videos, a few frames,
# a ResNet-18 of width 4, 3 optimiser steps per stream.
TINY = {
    "output_dir": "out",
    "device": "cpu",
    "dataset": {"format": "synthetic", "splits": [1]},
    "synthetic": {"num_classes": 4, "train_per_class": 2, "test_per_class": 1, "clips_per_group": 1,
                  "frames": 8, "height": 32, "width": 40},
    "extract": {"shard_size": 6, "skip_bad": True},
    "flow": {"backend": "torch", "device": "cpu", "batch_pairs": 16, "compile": False,
             "tvl1": {"nscales": 1, "warps": 1, "outer_iterations": 1, "inner_iterations": 3}},
    "model": {"depth": 18, "base_width": 4, "flow_stack": 2, "cam_channels": 8, "lstm_hidden": 8},
    "stream": {"streams": ["rgb", "flow"], "attentions": ["both"], "segments": 2, "crop_size": 16,
               "batch_size": 2, "iterations": {"rgb": 3, "flow": 3}, "validate_every": 3,
               "checkpoint_every": 1, "num_workers": 0},
    "features": {"frames": 3, "batch_size": 8},
    "cln": {"attention": "both", "rounds": 1, "epochs": 2, "batch_size": 4, "heldout": {"max_epochs": 4, "patience": 2}},
    "report": {"attention_videos": 1},
}


def write_config(workdir: Path, overrides: dict | None = None) -> Path:
    """Write TINY (+ overrides) as `<workdir>/config.yaml`, the file the Snakefile loads."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(deep_merge(TINY, overrides or {}), sort_keys=False))
    return path


def start_snakemake(workdir: Path, *args: str, profile: str = "none", env: dict | None = None) -> subprocess.Popen:
    """Start `snakemake` on the real Snakefile in `workdir`, in its own session (process group).

    `profile` is the workflow profile: "none" (plain command line), or a folder under workflow/profiles.
    Its output (stdout + stderr) goes to a file (a pipe left unread could fill up and block it): read
    it with `output(proc)`.
    """
    prof = "none" if profile == "none" else str(REPO / "workflow" / "profiles" / profile)
    cmd = [*SNAKEMAKE, "-s", str(SNAKEFILE), "-d", str(workdir), "--workflow-profile", prof, *args]
    # the rules call `tclsta`: the test interpreter's scripts folder goes first on PATH
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    run_env = {**os.environ, "PATH": path, **(env or {})}
    log = tempfile.NamedTemporaryFile("w+", prefix="snakemake-", suffix=".log", dir=workdir, delete=False)
    with log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, env=run_env, cwd=REPO,
                                start_new_session=True)
    proc.log_path = Path(log.name)
    return proc


def output(proc: subprocess.Popen) -> str:
    """What a started Snakemake has printed so far."""
    return proc.log_path.read_text(errors="replace")


def stop(proc: subprocess.Popen) -> None:
    """SIGINT (Snakemake cancels its jobs; SIGTERM would wait for them), SIGKILL after 60 s."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def finish(proc: subprocess.Popen, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    """Wait for a started Snakemake; stop it and fail if it takes longer than `timeout` seconds."""
    what = " ".join(proc.args[4:])
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(proc)
        raise AssertionError(f"{what} timed out after {timeout} s:\n{output(proc)[-6000:]}")
    result = subprocess.CompletedProcess(proc.args, proc.returncode, output(proc), "")
    if check and proc.returncode != 0:
        raise AssertionError(f"{what} failed ({proc.returncode}):\n{result.stdout[-6000:]}")
    return result


def snakemake(workdir: Path, *args: str, timeout: float = 600, check: bool = True, profile: str = "none",
              env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `snakemake` on the real Snakefile in `workdir` to the end (see start_snakemake)."""
    return finish(start_snakemake(workdir, *args, profile=profile, env=env), timeout=timeout, check=check)


def wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = 300):
    """Poll `condition()` until it returns something truthy; fail if `proc` ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if proc.poll() is not None:
            raise AssertionError(f"run ended before {what}:\n{output(proc)[-4000:]}")
        time.sleep(0.05)
    stop(proc)
    raise AssertionError(f"timed out waiting for {what}:\n{output(proc)[-4000:]}")


_JOB = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):$")
_REASON = re.compile(r"^\s+reason: (.*)$")


def planned_jobs(workdir: Path, *args: str, profile: str = "none") -> tuple[Counter, dict[str, set[str]]]:
    """Jobs a dry run would execute: ({rule: count}, {rule: reasons}). `all` is left out."""
    out = snakemake(workdir, "-n", *args, profile=profile).stdout
    counts: Counter = Counter()
    reasons: dict[str, set[str]] = {}
    rule = None
    for line in out.splitlines():
        if m := _JOB.match(line):
            rule = m.group(1)
            if rule != "all":
                counts[rule] += 1
        elif (m := _REASON.match(line)) and rule and rule != "all":
            reasons.setdefault(rule, set()).add(m.group(1))
    return counts, reasons
