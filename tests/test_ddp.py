"""Data-parallel stream training with real torchrun processes (gloo on CPU, the stand-in for NCCL).

* BatchNorm frozen (``stream.norm_eval``): 2 ranks × 4 videos train to the weights of 1 process × 8
  within float rounding (what differs is only the order of the gradient sums).
* BatchNorm per rank (TSN/mmaction2's default): not equal to 1 × 8, but exactly "ghost" BatchNorm: each
  rank's slice of the global batch normalised by its own statistics, the gradients averaged, the
  running statistics rank 0's; a reference loop here computes that in one process.
* A 2-rank run SIGKILLed mid-training and restarted ends with the uninterrupted run's weights (bitwise).
* A rank that dies fails the job at once, naming the rank; a rank that hangs fails it after
  ``stream.dist_timeout`` seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from tclsta.data.frames_dataset import FramesDataset, TrainBatches, records, split_videos
from tclsta.errors import ConfigError
from tclsta.models.stream import build_stream, stream_loss
from tclsta.training.checkpoint import resume_path
from tclsta.training.distributed import World, check_world
from tclsta.training.runtime import model_input
from tclsta.training.trainer import train_stream

from frames_factory import make_dataset
from snakemake_run import REPO, snakemake, write_config
from test_training import job, small_config

pytestmark = pytest.mark.slow

GLOBAL = {"batch_size": 8}  # the global batch: 8 videos per step, 4 per rank with gpus 2
PER_RANK_BN = {**GLOBAL, "iterations": {"rgb": 4, "flow": 4}, "holdout_fraction": 0.0, "checkpoint_every": 1}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("frames"), classes=3, train_per_class=4, test_per_class=1,
                        frames=8, height=32, width=40)


def launch(config: dict, dataset: dict, output: Path, nproc: int = 2) -> subprocess.Popen:
    """Start `torchrun --standalone --nproc-per-node N … tclsta train-stream` (own session, log by ``output``)."""
    command = ["torchrun", "--standalone", f"--nproc-per-node={nproc}", "--no-python", "tclsta", "train-stream",
               "--config-json", json.dumps(config), "--split", "1", "--stream", "flow", "--attention", "both",
               "--manifest", str(dataset["manifest"]), "--frames-index", str(dataset["frames_index"]),
               "--frames", str(dataset["frames"]), "--output", str(output)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    with open(output.with_suffix(".log"), "w") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def finish(proc: subprocess.Popen, output: Path, timeout: float = 300) -> str:
    proc.wait(timeout=timeout)
    return output.with_suffix(".log").read_text()


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]


def largest_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


def wait_for_file(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"the run ended before {path} appeared"
        assert time.monotonic() < deadline, f"no {path} after {timeout} s"
        time.sleep(0.05)


def rank_pid(proc: subprocess.Popen, rank: int) -> int:
    """PID of torchrun's worker process of ``rank`` (its environment says RANK=rank)."""
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == proc.pid:
                if f"RANK={rank}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                    return int(entry.name)
        except OSError:
            continue
    raise AssertionError(f"no worker of rank {rank} under torchrun {proc.pid}")


def wait_gone(pids: list[int], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while any(Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:3]
              for pid in pids):
        assert time.monotonic() < deadline, f"processes {pids} still alive after SIGKILL"
        time.sleep(0.05)


def test_two_ranks_equal_one_process_with_frozen_batchnorm(dataset, tmp_path):
    config = small_config(tmp_path, norm_eval=True, **GLOBAL)  # validation every 2 of 6 iterations, lr drops
    one = train_stream(config, job(dataset, tmp_path / "one.pt"))
    two = tmp_path / "two.pt"
    log = finish(launch(small_config(tmp_path, norm_eval=True, gpus=2, **GLOBAL), dataset, two), two)
    assert "[rank 1]" in log and "joined the gloo process group" in log, log[-3000:]
    a, b = (torch.load(p, weights_only=True) for p in (one, two))
    torch.manual_seed(config["seed"])
    start = build_stream(config["model"], "flow", "both", 3).state_dict()
    assert largest_difference(start, a["state_dict"]) > 1e-3  # the weights did move
    assert largest_difference(a["state_dict"], b["state_dict"]) < 1e-6
    ha, hb = a["meta"]["history"], b["meta"]["history"]
    def schedule(history):
        return [(h["iteration"], h["val_acc"], h["lr"]) for h in history]

    assert schedule(ha) == schedule(hb)
    assert all(abs(x["loss"] - y["loss"]) < 1e-5 and abs(x["train_acc"] - y["train_acc"]) < 1e-6
               for x, y in zip(ha, hb))


def ghost_batchnorm_reference(config: dict, dataset: dict, ranks: int) -> dict[str, torch.Tensor]:
    """One process doing what ``ranks`` DDP processes with per-rank BatchNorm do (holdout 0: no validation).

    Each slice of the global batch is normalised by its own statistics; the loss is the mean
    of the slices' losses (DDP averages gradients); the running statistics are rank 0's.
    """
    scfg, mcfg = config["stream"], config["model"]
    torch.manual_seed(config["seed"])
    model = build_stream(mcfg, "flow", "both", 3).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=scfg["lr"], momentum=scfg["momentum"],
                                weight_decay=scfg["weight_decay"])
    videos = split_videos(dataset["manifest"], dataset["frames_index"], 1)
    train = FramesDataset(dataset["frames"], records(videos[videos["subset"] == "train"]), stream="flow",
                          segments=scfg["segments"], crop_size=scfg["crop_size"], flow_stack=mcfg["flow_stack"],
                          scales=scfg["scales"], flip=scfg["flip"], train=True)
    total = scfg["iterations"]["flow"]
    for batch in TrainBatches(len(train), scfg["batch_size"], config["seed"], 0, total):
        optimizer.zero_grad()
        share = len(batch) // ranks
        for rank in range(ranks):
            clips, labels, _ = next(iter(DataLoader(train, batch_sampler=[batch[rank * share:(rank + 1) * share]])))
            loss = stream_loss(model(model_input(clips, torch.device("cpu"), True)), labels, scfg["loss_weights"])
            (loss / ranks).backward()
            if rank == 0:
                kept = {k: v.clone() for k, v in model.named_buffers()}  # rank 0's running statistics
        for name, buffer in model.named_buffers():
            buffer.copy_(kept[name])
        optimizer.step()
    return model.state_dict()


@pytest.fixture(scope="module")
def per_rank_run(dataset, tmp_path_factory):
    """An uninterrupted 2-rank run with per-rank BatchNorm: (config, its final checkpoint)."""
    tmp = tmp_path_factory.mktemp("per_rank")
    config = small_config(tmp, gpus=2, **PER_RANK_BN)
    output = tmp / "straight.pt"
    log = finish(launch(config, dataset, output), output)
    assert output.is_file(), log[-3000:]
    return config, output


def test_per_rank_batchnorm_is_ghost_batchnorm_over_each_ranks_slice(dataset, per_rank_run, tmp_path):
    config, output = per_rank_run
    two = weights(output)
    assert largest_difference(ghost_batchnorm_reference(config, dataset, ranks=2), two) < 1e-5
    # ... which is not one process's BatchNorm over the whole batch of 8
    one = train_stream(small_config(tmp_path, **PER_RANK_BN), job(dataset, tmp_path / "one.pt"))
    assert largest_difference(weights(one), two) > 1e-3


def test_killed_two_rank_run_resumes_to_the_uninterrupted_weights(dataset, per_rank_run, tmp_path):
    config, straight = per_rank_run
    output = tmp_path / "killed.pt"
    proc = launch(config, dataset, output)
    wait_for_file(resume_path(output), proc)
    ranks = [rank_pid(proc, rank) for rank in range(2)]  # torchrun starts them in sessions of their own
    for pid in (proc.pid, *ranks):  # the node dies: torchrun and both ranks at once
        os.kill(pid, signal.SIGKILL)
    proc.wait()
    wait_gone(ranks)
    assert not output.exists()
    log = finish(launch(config, dataset, output), output)
    assert "resuming at iteration" in log and output.is_file(), log[-3000:]
    assert not resume_path(output).exists()
    resumed, uninterrupted = weights(output), weights(straight)
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in uninterrupted)


def test_dead_rank_fails_the_job_at_once_naming_the_rank(dataset, tmp_path):
    output = tmp_path / "dead.pt"
    proc = launch(small_config(tmp_path, gpus=2, **{**PER_RANK_BN, "iterations": {"flow": 5000, "rgb": 5000}}),
                  dataset, output)
    wait_for_file(resume_path(output), proc)
    os.kill(rank_pid(proc, 1), signal.SIGKILL)
    killed = time.monotonic()
    log = finish(proc, output, timeout=60)
    assert proc.returncode != 0 and time.monotonic() - killed < 30
    root_cause = log.split("Root Cause", 1)[1]
    assert "rank      : 1 (local_rank: 1)" in root_cause and "SIGKILL" in root_cause, log[-3000:]
    assert "[rank 1]" in log and not output.exists()


def test_hung_rank_fails_the_job_after_the_timeout(dataset, tmp_path):
    output = tmp_path / "hung.pt"
    proc = launch(small_config(tmp_path, gpus=2, dist_timeout=10,
                               **{**PER_RANK_BN, "iterations": {"flow": 5000, "rgb": 5000}}), dataset, output)
    wait_for_file(resume_path(output), proc)
    hung = rank_pid(proc, 1)
    os.kill(hung, signal.SIGSTOP)  # alive but silent: only the timeout can tell
    deadline = time.monotonic() + 90
    while "lost the other ranks" not in output.with_suffix(".log").read_text():
        assert proc.poll() is None and time.monotonic() < deadline, output.with_suffix(".log").read_text()[-3000:]
        time.sleep(0.2)
    os.kill(hung, signal.SIGCONT)  # so that torchrun's SIGTERM ends it now, not after its 30 s grace
    log = finish(proc, output, timeout=120)
    assert proc.returncode != 0
    assert f"{output}: rank 0 of 2 lost the other ranks" in log and "Timed out" in log, log[-3000:]


def test_launch_mismatches_are_errors_before_training(dataset, tmp_path):
    with pytest.raises(ConfigError, match="stream.gpus is 2 but 1 training process"):
        train_stream(small_config(tmp_path, gpus=2, **GLOBAL), job(dataset, tmp_path / "x.pt"))
    cpu = torch.device("cpu")
    with pytest.raises(ConfigError, match="batch_size 6 is not divisible by stream.gpus 4"):
        check_world(World(0, 4, 0), 4, 6, cpu, sync_bn=False)
    with pytest.raises(ConfigError, match="sync_bn needs CUDA"):
        check_world(World(0, 2, 0), 2, 8, cpu, sync_bn=True)
    check_world(World(1, 2, 1), 2, 8, cpu, sync_bn=False)


def train_stream_jobs(dry_run: str) -> list[str]:
    """The `rule train_stream:` blocks of a `snakemake -n -p` output."""
    return [block for block in dry_run.split("\nrule ")[1:] if block.startswith("train_stream:")]


def test_dry_run_shows_torchrun_locally_and_srun_with_the_gpu_request_on_slurm(tmp_path):
    from tclsta.device import visible_gpus

    write_config(tmp_path / "local", {"stream": {"gpus": 2}})  # device cpu: two gloo processes
    jobs = train_stream_jobs(snakemake(tmp_path / "local", "-n", "-p").stdout)
    assert len(jobs) == 2 and all("torchrun --standalone --nproc-per-node 2 --no-python tclsta train-stream" in j
                                  and "gpu=0, tasks=2" in j for j in jobs), jobs
    write_config(tmp_path / "slurm", {"device": "auto", "resources": {"gpus": 1}, "stream": {"gpus": 2}})
    jobs = train_stream_jobs(snakemake(tmp_path / "slurm", "-n", "-p", profile="slurm").stdout)
    assert len(jobs) == 2 and all("srun --ntasks=2 --kill-on-bad-exit=1 tclsta train-stream" in j
                                  and "gpu=2, tasks=2, mpi=srun, tasks_per_gpu=1" in j for j in jobs), jobs
    if len(visible_gpus()) < 2:  # locally, more GPUs than present is an error before anything runs
        refused = snakemake(tmp_path / "slurm", "-n", check=False)
        assert refused.returncode != 0
        assert f"stream.gpus is 2 but this machine has {len(visible_gpus())} GPU(s); set device: cpu" in refused.stdout
