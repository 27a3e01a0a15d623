"""Training loop of one attention stream (paper Section IV-B1).

SGD with momentum and weight decay, for ``stream.iterations`` or ``stream.epochs``
(:mod:`tclsta.training.schedule`); the learning rate drops ×0.1 when the accuracy on a
held-out part of the training videos stops improving for ``stream.lr_patience``
validations; the three heads' cross-entropies are summed with ``stream.loss_weights``.
``stream.keep`` chooses the weights written: ``final`` (the last iteration's, as TSN) or
``best`` (the validation with the highest accuracy, the latest of ties).
Every batch is a pure function of (seed, iteration) (see
:class:`tclsta.data.frames_dataset.TrainBatches`), so with the state in the resume file a
restarted job continues exactly the run it replaces.
With ``stream.gpus`` > 1 it runs in that many processes under DistributedDataParallel
(:mod:`tclsta.training.distributed`): each takes its slice of every global batch; rank 0
validates what all hold (its BatchNorm statistics), each rank a share of the
held-out videos; rank 0 alone writes the history, checkpoints and the resume
file, which every rank resumes from.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from tclsta.config import digest
from tclsta.data.frames_dataset import FramesDataset, TrainBatches, class_names, records, split_videos
from tclsta.device import resolve_device
from tclsta.errors import DatasetError, TclstaError
from tclsta.models.stream import build_stream, stream_loss
from tclsta.training import distributed
from tclsta.training.checkpoint import load_resume, resume_path, save_final, save_resume
from tclsta.training.runtime import autocast, loader_options, model_input, prepare
from tclsta.training.schedule import stream_schedule

log = logging.getLogger(__name__)

DISPLAY_EVERY = 10  # iterations between progress-bar updates (each reads the running loss from the device)


@dataclass(frozen=True)
class StreamJob:
    """Where one stream's training reads from and writes to."""

    split: int
    stream: str
    attention: str
    manifest: Path
    frames_index: Path
    frames_root: Path
    output: Path


def holdout(videos: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split training videos into (fit, validation), whole ``group``s at a time so clips of one group never straddle.

    Groups are drawn in a seeded random order until ``fraction`` of the videos are held
    out; ``fraction`` 0 gives an empty validation set.
    """
    if fraction <= 0:
        return videos, videos.iloc[:0]
    groups = videos["group"].astype(str).to_numpy()
    unique = np.unique(groups)
    if len(unique) < 2:
        unique, groups = videos["video_id"].to_numpy(), videos["video_id"].to_numpy()
    order = np.random.default_rng(seed).permutation(unique)
    counts = pd.Series(groups).value_counts()
    chosen, held = [], 0
    for group in order:
        if held >= fraction * len(videos):
            break
        chosen.append(group)
        held += int(counts[group])
    mask = np.isin(groups, chosen)
    if mask.all():
        raise DatasetError(f"stream.holdout_fraction={fraction} leaves no training videos")
    return videos[~mask], videos[mask]


def _running(average: torch.Tensor | None, value: torch.Tensor) -> torch.Tensor:
    """Exponential running average (0.9 / 0.1), computed where ``value`` lies."""
    return value if average is None else 0.9 * average + 0.1 * value


def _cpu_copy(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A copy of a state_dict in host memory (the live one changes with every step)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}


def train_mode(model: torch.nn.Module, norm_eval: bool) -> None:
    """Training mode; with ``norm_eval`` the BatchNorm layers stay in evaluation mode (running statistics, frozen)."""
    model.train()
    if norm_eval:
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.eval()


def fingerprint(config: dict[str, Any], job: StreamJob) -> str:
    """What a resume file must have been made with to be continued (the list of streams/attentions run is not)."""
    ignored = ("streams", "attentions", "num_workers", "dist_timeout")
    stream = {k: v for k, v in config["stream"].items() if k not in ignored}
    return digest({"seed": config["seed"], "model": config["model"], "stream": stream, "split": job.split,
                   "stream_name": job.stream, "attention": job.attention})


def train_stream(config: dict[str, Any], job: StreamJob, stop_after: int | None = None) -> Path | None:
    """Train one stream, resuming from its resume file if present; returns the final checkpoint path.

    ``stop_after``: stop after that iteration's checkpoint without finishing (a preempted
    or time-sliced job); returns None then.
    """
    scfg, mcfg, seed = config["stream"], config["model"], config["seed"]
    world = distributed.world_from_env()
    device = resolve_device(config["device"])
    distributed.check_world(world, scfg["gpus"], scfg["batch_size"], device, scfg["sync_bn"])
    distributed.start(world, device, scfg["dist_timeout"])
    try:
        return _train(config, job, stop_after, world, device)
    except RuntimeError as err:  # a peer died, or stopped answering for stream.dist_timeout s
        if not distributed.lost_peer(err, world):
            raise
        raise TclstaError(f"{job.output}: rank {world.rank} of {world.size} lost the other ranks (one died or hung; "
                          f"see the launcher's summary of which and each rank's [rank N] lines in this log): "
                          f"{str(err).splitlines()[0]}") from err
    finally:
        distributed.stop(world)


def _train(config: dict[str, Any], job: StreamJob, stop_after: int | None, world: distributed.World,
           device: torch.device) -> Path | None:
    """:func:`train_stream` in one process of ``world`` (all of them when it is one)."""
    scfg, mcfg, seed = config["stream"], config["model"], config["seed"]
    names = class_names(job.manifest)
    videos = split_videos(job.manifest, job.frames_index, job.split)
    fit, val = holdout(videos[videos["subset"] == "train"], scfg["holdout_fraction"], seed)
    log.info("split %d %s/%s: %d training videos, %d held out for validation, %d classes, device %s",
             job.split, job.stream, job.attention, len(fit), len(val), len(names), device)

    torch.manual_seed(seed)
    model = prepare(build_stream(mcfg, job.stream, job.attention, len(names)), device)  # what is saved
    optimizer = torch.optim.SGD(model.parameters(), lr=scfg["lr"], momentum=scfg["momentum"],
                                weight_decay=scfg["weight_decay"])
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.1,
                                                           patience=scfg["lr_patience"])
    schedule = stream_schedule(scfg, job.stream, len(fit))
    total = schedule.iterations
    log.info("%d iterations of %d videos (%.1f epochs of the fitted videos), validating every %d",
             total, scfg["batch_size"], total * scfg["batch_size"] / max(len(fit), 1), schedule.validate_every)
    resume, key = resume_path(job.output), fingerprint(config, job)
    start, history, loss_avg, acc_avg, best, grad_max = 0, [], None, None, None, None
    state = load_resume(resume, key)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        start, history, best = state["iteration"], state["history"], state.get("best")
        loss_avg, acc_avg = (None if v is None else torch.tensor(v, device=device) for v in state["running"])
        log.info("%s: resuming at iteration %d of %d", resume, start, total)
    parallel = distributed.wrap(model, world, device, scfg["sync_bn"])  # what trains
    model = parallel.module if world.size > 1 else model  # SyncBatchNorm replaced its layers

    common = dict(stream=job.stream, crop_size=scfg["crop_size"], flow_stack=mcfg["flow_stack"])
    train_set = FramesDataset(job.frames_root, records(fit), segments=scfg["segments"], scales=scfg["scales"],
                              flip=scfg["flip"], train=True, **common)
    options = loader_options(device, scfg["num_workers"])
    val_loader = DataLoader(FramesDataset(job.frames_root, records(val)[world.rank::world.size],  # this rank's share
                                          segments=scfg["segments"], **common),
                            batch_size=scfg["batch_size"], **options)
    batches = TrainBatches(len(train_set), scfg["batch_size"], seed, start, total, world.rank, world.size)
    loader = DataLoader(train_set, batch_sampler=batches, **options)

    def averaged() -> None:
        """The running averages over every rank's slice, i.e. over the global batches (they are linear)."""
        nonlocal loss_avg, acc_avg
        loss_avg, acc_avg = (distributed.mean_over_ranks(v, world) for v in (loss_avg, acc_avg))

    def snapshot(iteration: int) -> None:
        averaged()
        if not world.main:
            return
        save_resume(resume, {
            "fingerprint": key, "iteration": iteration, "model": model.state_dict(),
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "rng": torch.get_rng_state(), "history": history, "best": best,
            "running": [None if v is None else float(v) for v in (loss_avg, acc_avg)],
        })

    train_mode(parallel, scfg["norm_eval"])
    progress = tqdm(loader, initial=start, total=total, desc=f"{job.stream}/{job.attention}", mininterval=2.0,
                    disable=not world.main)
    for iteration, (clips, labels, _) in enumerate(progress, start=start + 1):
        clips, labels = model_input(clips, device, train_set.flow), labels.to(device, non_blocking=True)
        with autocast(device):
            output = parallel(clips)
            loss = stream_loss(output, labels, scfg["loss_weights"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.get_total_norm([p.grad for p in model.parameters() if p.grad is not None])
        if scfg["clip_grad_norm"] is not None:
            torch.nn.utils.clip_grads_with_norm_(model.parameters(), scfg["clip_grad_norm"], norm)
        grad_max = norm if grad_max is None else torch.maximum(grad_max, norm)  # logged at each validation
        optimizer.step()
        # running averages stay on the device: no host sync per step, only when shown or saved
        loss_avg = _running(loss_avg, loss.detach().float())
        acc_avg = _running(acc_avg, (output.prediction().argmax(1) == labels).float().mean())
        if iteration % DISPLAY_EVERY == 0:
            progress.set_postfix(loss=f"{float(loss_avg):.3f}", acc=f"{float(acc_avg):.2f}",
                                 lr=f"{optimizer.param_groups[0]['lr']:.0e}")
        if len(val) and (iteration % schedule.validate_every == 0 or iteration == total):
            averaged()
            val_acc = distributed.validate(model, val_loader, device, world)
            scheduler.step(val_acc)
            history.append({"iteration": iteration, "loss": float(loss_avg), "train_acc": float(acc_avg),
                            "val_acc": val_acc, "lr": optimizer.param_groups[0]["lr"]})
            log.info("iteration %d: loss %.3f, train acc %.3f, validation acc %.3f, lr %.0e, largest gradient norm %.2f",
                     iteration, float(loss_avg), float(acc_avg), val_acc, optimizer.param_groups[0]["lr"], float(grad_max))
            grad_max = None
            if scfg["keep"] == "best" and (best is None or val_acc >= best["val_acc"]):
                best = {"iteration": iteration, "val_acc": val_acc,
                        "model": _cpu_copy(model.state_dict()) if world.main else None}
            train_mode(parallel, scfg["norm_eval"])
        if iteration % scfg["checkpoint_every"] == 0 or iteration == total:
            snapshot(iteration)
        if stop_after is not None and iteration >= stop_after:
            log.info("stopping after iteration %d (resume file %s)", iteration, resume)
            return None
    progress.close()
    if not world.main:
        return job.output

    kept = total
    if best is not None:
        model.load_state_dict(best["model"])
        kept = best["iteration"]
        log.info("keeping the weights of iteration %d (validation acc %.3f)", kept, best["val_acc"])
    meta = {
        "split": job.split, "stream": job.stream, "attention": job.attention, "class_names": names,
        "model": mcfg, "stream_config": scfg, "seed": seed, "iterations": total, "kept_iteration": kept, "history": history,
        "fingerprint": key, "fit_videos": list(fit["video_id"]),  # what it fitted (the leakage test reads it)
    }
    save_final(job.output, model, meta)
    resume.unlink(missing_ok=True)
    log.info("wrote %s", job.output)
    return job.output
