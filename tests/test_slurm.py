"""The tiny workflow submitted to a real (one-node, local) SLURM cluster through the shipped
profile workflow/profiles/slurm, with snakemake-executor-plugin-slurm. While it runs, one stream
training job is requeued (as a preemption does): SLURM restarts it and it resumes from its
checkpoint, and Snakemake carries on.

tests/slurm/start_local_slurm.sh installs Debian's munge/slurmctld/slurmd/slurm-client when they
are missing and starts the daemons (no systemd needed); this test stops them again if it started
them. Starting it needs root (CI runs as root); without root and without a running cluster the test
is skipped with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from snakemake_run import REPO, finish, start_snakemake, wait_for, write_config

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

SCRIPT = REPO / "tests" / "slurm" / "start_local_slurm.sh"
CTLD_LOG = Path("/var/log/tclsta-slurm/slurmctld.log")
GPU_RULES = {"extract", "train_stream", "dump_features"}  # the profile sends them to partition gpu
# enough optimiser steps that a training job can be caught running, and a checkpoint after each
SLURM_CONFIG = {"stream": {"iterations": {"rgb": 40, "flow": 40}, "checkpoint_every": 1}}
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.+?)\)")
# slurmctld logs a job start as "sched: Allocate JobId=N ... Partition=P" or, when the backfill
# scheduler starts it, "sched/backfill: _start_job: Started JobId=N in P on node"
STARTED = re.compile(r"Allocate JobId=\d+ .*Partition=(\w+)|Started JobId=\d+ in (\w+)")
RULE_JOB = re.compile(r"^rule (\w+):\n(?:    .*\n)*?    jobid: (\d+)$", re.M)


@pytest.fixture(scope="module")
def cluster():
    """A running local SLURM cluster (e.g. from .ci/slurm-setup), else one started and stopped here."""
    if subprocess.run(["bash", str(SCRIPT), "status"], capture_output=True).returncode == 0:
        yield
        return
    if os.geteuid() != 0:
        pytest.skip("no local SLURM cluster running, and starting one needs root (see .ci/slurm-setup)")
    if not shutil.which("sbatch") and not shutil.which("apt-get"):
        pytest.skip("no SLURM client and no apt-get to install one")
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"start_local_slurm.sh failed:\n{proc.stdout}\n{proc.stderr}"
    yield
    subprocess.run(["bash", str(SCRIPT), "stop"], capture_output=True, timeout=120)


def job_lines(log: str, job_id: str) -> list[str]:
    return [line for line in log.splitlines() if re.search(rf"JobId={job_id}\b", line)]


def squeue(*args: str) -> str:
    return subprocess.run(["squeue", "-h", *args], capture_output=True, text=True).stdout.strip()


def running_training_job(out: Path) -> tuple[str, str] | None:
    """(SLURM job id, stream) of a running train_stream job that has written a resume file."""
    for resume in out.glob("streams/split1/*.resume.pt"):
        stream = resume.name.split("_")[0]
        for line in squeue("-t", "RUNNING", "-o", "%i %k").splitlines():
            job_id, _, comment = line.partition(" ")
            if comment.startswith("rule_train_stream") and stream in comment:
                return job_id, stream
    return None


def start_now(job_id: str) -> bool:
    """True once the requeued job may run again. SLURM holds a requeued job ~2 min (Reason=BeginTime)
    before it may start again; this lifts that hold."""
    fields = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True).stdout
    info = dict(f.split("=", 1) for f in fields.split() if "=" in f)
    if info.get("Restarts", "0") == "0" or info.get("JobState") not in ("PENDING", "RUNNING"):
        return False  # the requeue has not happened yet, or the job is still being cleaned up
    if info.get("Reason") == "BeginTime":
        subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], capture_output=True)
        return False
    return True


def test_tiny_workflow_through_slurm_profile(cluster, tmp_path):
    write_config(tmp_path, SLURM_CONFIG)
    out = tmp_path / "out"
    log_start = CTLD_LOG.stat().st_size if CTLD_LOG.exists() else 0
    # Only status-poll timing differs from the shipped profile: first check after 2 s, not 40 s.
    proc = start_snakemake(tmp_path, "--slurm-init-seconds-before-status-checks", "2",
                           "--slurm-keep-successful-logs", profile="slurm")
    # preempt a training job mid-run: SLURM requeues it (the profile submits with --requeue)
    requeued, stream = wait_for(lambda: running_training_job(out), proc, "a running training job", timeout=600)
    subprocess.run(["scontrol", "requeue", requeued], check=True)
    wait_for(lambda: start_now(requeued), proc, "the requeued job to be pending", timeout=60)
    run = finish(proc, timeout=900)
    assert (out / "report" / "report.md").is_file()
    assert (out / "metrics.json").is_file()

    # every non-local job went through sbatch: the plugin's submit lines ...
    rule_of = {job: rule for rule, job in RULE_JOB.findall(run.stdout)}  # snakemake job id -> rule
    submitted = SUBMITTED.findall(run.stdout)
    assert len(submitted) == len(rule_of) >= 10, run.stdout[-4000:]
    # ... its per-job SLURM logs, and slurmctld's record of each job: submitted, allocated, exit 0
    with CTLD_LOG.open() as fh:
        fh.seek(log_start)
        ctld = fh.read()
    for job, job_id, slurm_log in submitted:
        rule = rule_of[job]
        assert Path(slurm_log).is_file(), slurm_log
        lines = "\n".join(job_lines(ctld, job_id))
        assert "_slurm_rpc_submit_batch_job" in lines and "WEXITSTATUS 0" in lines, lines
        partitions = {a or b for a, b in STARTED.findall(lines)}
        assert partitions == {"gpu" if rule in GPU_RULES else "cpu"}, (rule, lines)
    assert GPU_RULES <= set(rule_of.values())

    # the requeued job ran twice, the second time resuming from its checkpoint
    lines = "\n".join(job_lines(ctld, requeued))
    assert "Requeuing" in lines and len(STARTED.findall(lines)) == 2 and "WEXITSTATUS 0" in lines, lines
    log = (out / "logs" / "streams" / "split1" / f"{stream}_both.log").read_text()
    assert "resuming at iteration" in log, log[-2000:]
