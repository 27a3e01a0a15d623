"""A 2-rank CPU stream training submitted to the real local SLURM cluster as one job of 2 tasks.

The job runs the train_stream rule's own SLURM launch (``srun --ntasks=2 --kill-on-bad-exit=1
tclsta train-stream …``, see ``stream_launcher`` in workflow/rules/common.smk) inside ``sbatch
--ntasks=2``: each task reads its rank from ``SLURM_PROCID`` and joins gloo. With frozen BatchNorm
(``stream.norm_eval``) the weights equal those of one process over the same global batch.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import torch

from tclsta.training.trainer import train_stream

from snakemake_run import REPO
from test_ddp import GLOBAL, dataset, largest_difference, weights  # noqa: F401 (dataset: a fixture)
from test_slurm import cluster  # noqa: F401 (a fixture: the running local cluster)
from test_training import job, small_config

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def test_two_slurm_tasks_train_like_one_process(cluster, dataset, tmp_path):  # noqa: F811
    config = small_config(tmp_path, norm_eval=True, **GLOBAL)
    one = train_stream(config, job(dataset, tmp_path / "one.pt"))
    two, log = tmp_path / "two.pt", tmp_path / "two.log"
    train = ["tclsta", "train-stream", "--config-json", json.dumps({**config, "stream": {**config["stream"], "gpus": 2}}),
             "--split", "1", "--stream", "flow", "--attention", "both", "--manifest", str(dataset["manifest"]),
             "--frames-index", str(dataset["frames_index"]), "--frames", str(dataset["frames"]), "--output", str(two)]
    script = tmp_path / "job.sh"  # what the rule's shell runs on SLURM with stream.gpus 2 (mpi=srun)
    script.write_text("#!/bin/bash\nexec srun --ntasks=2 --kill-on-bad-exit=1 "
                      + " ".join(f"'{a}'" for a in train) + "\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    submit = subprocess.run(["sbatch", "--wait", "--partition=cpu", "--ntasks=2", "--cpus-per-task=1",
                             "--time=10", f"--output={log}", str(script)],
                            capture_output=True, text=True, env=env, timeout=240)
    text = log.read_text() if log.exists() else ""
    assert submit.returncode == 0, f"{submit.stdout}{submit.stderr}\n{text[-3000:]}"
    for rank in (0, 1):  # both SLURM tasks trained, as ranks of one gloo group
        assert f"rank {rank} of 2" in text and "joined the gloo process group" in text, text[-3000:]
    assert "[rank 1]" in text, text[-3000:]
    assert largest_difference(weights(one), weights(two)) < 1e-6
