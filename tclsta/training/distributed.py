"""Data-parallel stream training: the process group, the DDP wrapper and the few collectives the trainer needs.

A stream trains in ``stream.gpus`` processes, started by ``torchrun`` (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``) or by ``srun`` (``SLURM_PROCID``, ``SLURM_NTASKS``,
``SLURM_LOCALID``). NCCL on CUDA, gloo on CPU; every collective fails after
``stream.dist_timeout`` seconds, so a rank that dies stops the job instead of hanging it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader

from tclsta.errors import ConfigError
from tclsta.training.runtime import accuracy, correct_count

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Whether this process writes (validation record, checkpoints, resume file)."""
        return self.rank == 0


def world_from_env() -> World:
    """The world torchrun or srun started this process in; one process when neither did."""
    env = os.environ
    if "WORLD_SIZE" in env:
        return World(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0)))
    if int(env.get("SLURM_NTASKS", "1")) > 1 and "SLURM_STEP_ID" in env:  # an srun step of several tasks
        return World(int(env["SLURM_PROCID"]), int(env["SLURM_NTASKS"]), int(env.get("SLURM_LOCALID", 0)))
    return World()


def check_world(world: World, gpus: int, batch_size: int, device: torch.device, sync_bn: bool) -> None:
    """Raise :class:`ConfigError` when the processes started do not match ``stream.gpus`` and the batch."""
    if world.size != gpus:
        how = (f"start it with `torchrun --standalone --nproc-per-node {gpus} --no-python tclsta train-stream …` "
               "(the workflow does)") if world.size == 1 else "set stream.gpus to the processes started"
        raise ConfigError(f"stream.gpus is {gpus} but {world.size} training process(es) were started; {how}")
    if batch_size % gpus:
        raise ConfigError(f"stream.batch_size {batch_size} is not divisible by stream.gpus {gpus} "
                          "(each process takes an equal share of the global batch)")
    if device.type == "cuda" and torch.cuda.device_count() < gpus and "SLURM_JOB_ID" not in os.environ:
        raise ConfigError(f"stream.gpus is {gpus} but only {torch.cuda.device_count()} GPU(s) are visible")
    if sync_bn and gpus > 1 and device.type != "cuda":
        raise ConfigError("stream.sync_bn needs CUDA (torch's SyncBatchNorm is GPU-only); on CPU use "
                          "stream.norm_eval: true for results equal to one process")


def start(world: World, device: torch.device, timeout_s: int) -> None:
    """Join the process group (NCCL on CUDA, gloo on CPU) when there are several processes."""
    if world.size == 1:
        return
    if device.type == "cuda":
        os.environ.setdefault("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1")  # a timed-out collective aborts the process
    backend = "nccl" if device.type == "cuda" else "gloo"
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")  # srun on one node; multi-node jobs set both
    os.environ.setdefault("MASTER_PORT", str(29500 + int(os.environ.get("SLURM_JOB_ID", "0")) % 20000))
    dist.init_process_group(backend, rank=world.rank, world_size=world.size, timeout=timedelta(seconds=timeout_s),
                            device_id=device if device.type == "cuda" else None)
    log.info("rank %d of %d (local rank %d) joined the %s process group on %s",
             world.rank, world.size, world.local_rank, backend, device)


def lost_peer(err: RuntimeError, world: World) -> bool:
    """Whether ``err`` is a collective that failed: a peer's connection closed, or the timeout ran out."""
    text = str(err)
    return world.size > 1 and (isinstance(err, dist.DistError) or "gloo" in text or "NCCL" in text
                               or "Connection closed by peer" in text)


def stop(world: World) -> None:
    """Leave the process group (after the others have finished their last collective)."""
    if world.size > 1 and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: nn.Module, world: World, device: torch.device, sync_bn: bool) -> nn.Module:
    """``model`` under DistributedDataParallel (SyncBatchNorm first if asked); itself for one process.

    DDP broadcasts rank 0's parameters and buffers at construction, so every rank starts from
    rank 0's (resumed) state, and rank 0's BatchNorm buffers before every forward.
    """
    if world.size == 1:
        return model
    if sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def mean_over_ranks(value: torch.Tensor, world: World) -> torch.Tensor:
    """The mean of ``value`` over the ranks (gloo has no AVG: a sum divided by the world size)."""
    if world.size == 1:
        return value
    total = value.detach().clone()
    dist.all_reduce(total)
    return total / world.size


def validate(model: nn.Module, loader: DataLoader, device: torch.device, world: World) -> float:
    """Accuracy over every rank's share of the held-out videos (``loader`` holds this rank's), the same on all ranks.

    Rank 0's BatchNorm statistics are copied to the others first (DDP does so before each
    forward anyway), so the model validated is the one rank 0 saves.
    """
    if world.size == 1:
        return accuracy(model, loader, device)
    for buffer in model.buffers():
        dist.broadcast(buffer, src=0)
    counts = torch.tensor(correct_count(model, loader, device), dtype=torch.float64, device=device)
    dist.all_reduce(counts)
    return float(counts[0] / counts[1].clamp(min=1))
