"""The tiny workflow submitted to a real (one-node, local) SLURM cluster through the shipped
profile workflow/profiles/slurm, with snakemake-executor-plugin-slurm.

tests/slurm/start_local_slurm.sh installs Debian's munge/slurmctld/slurmd/slurm-client when they
are missing and starts the daemons (no systemd needed); this test stops them again if it started
them. It needs root (CI runs as root); elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from snakemake_run import REPO, snakemake, write_config

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

SCRIPT = REPO / "tests" / "slurm" / "start_local_slurm.sh"
CTLD_LOG = Path("/var/log/tclsta-slurm/slurmctld.log")
GPU_RULES = {"extract", "train_stream", "dump_features"}  # the profile sends them to partition gpu
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.+?)\)")
RULE_JOB = re.compile(r"^rule (\w+):\n(?:    .*\n)*?    jobid: (\d+)$", re.M)


@pytest.fixture(scope="module")
def cluster():
    """A running local SLURM cluster; stopped afterwards if this fixture started it."""
    if os.geteuid() != 0:
        pytest.skip("the local SLURM cluster needs root (apt-get install, daemons)")
    if not shutil.which("sbatch") and not shutil.which("apt-get"):
        pytest.skip("no SLURM client and no apt-get to install one")
    already = subprocess.run(["bash", str(SCRIPT), "status"], capture_output=True).returncode == 0
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"start_local_slurm.sh failed:\n{proc.stdout}\n{proc.stderr}"
    yield
    if not already:
        subprocess.run(["bash", str(SCRIPT), "stop"], capture_output=True, timeout=120)


def job_lines(log: str, job_id: str) -> list[str]:
    return [line for line in log.splitlines() if re.search(rf"JobId={job_id}\b", line)]


def test_tiny_workflow_through_slurm_profile(cluster, tmp_path):
    write_config(tmp_path)
    log_start = CTLD_LOG.stat().st_size if CTLD_LOG.exists() else 0
    # Only status-poll timing differs from the shipped profile: first check after 2 s, not 40 s.
    run = snakemake(tmp_path, "--slurm-init-seconds-before-status-checks", "2", "--slurm-keep-successful-logs",
                    profile="slurm", timeout=900)
    out = tmp_path / "out"
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
        partition = re.search(r"Allocate JobId=\d+ .*Partition=(\w+)", lines).group(1)
        assert partition == ("gpu" if rule in GPU_RULES else "cpu"), (rule, lines)
    assert GPU_RULES <= set(rule_of.values())
