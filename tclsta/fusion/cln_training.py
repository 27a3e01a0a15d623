"""Training the collaborative learning network on two HDF5 feature caches (never on frames).

The two caches (static = RGB, motion = flow) of one split are paired by video id; the
inputs (:mod:`tclsta.fusion.cln_inputs`) are each frame's feature times its temporal weight,
each stream divided by one scalar, the root-mean-square of its training frames, so both
enter the network at unit scale; they are read from scratch files a minibatch at a time.

Training alternates (``cln.alternate``): a step (or an epoch) updates the motion side with
the static side frozen, the next one the static side with the motion side frozen — the
motion side first, as in Algorithm 1 the static feature guides the motion feature first.
Each side has its own Adam optimiser, so a frozen side's parameters and optimiser state do
not change. The loss is the sum of the heads' cross-entropies.

Two variants (``--variant``): ``paper`` fits every training video for ``cln.epochs`` epochs;
``heldout`` (ours) fits only the videos the streams fitted, stops early on the streams'
held-out groups (:mod:`tclsta.fusion.roles`), may add a fused head over ``[O^s; O^m]`` and
refit on every training video for the number of epochs so chosen.
"""

from __future__ import annotations

import copy
import logging
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from tclsta.atomic import atomic_path
from tclsta.device import resolve_device
from tclsta.data.manifest import read_manifest
from tclsta.errors import ConfigError, DatasetError
from tclsta.features.cache import FeatureCache, open_feature_cache
from tclsta.fusion.cln_inputs import PairedFrames, pair_frames
from tclsta.fusion.roles import ROLES, heldout_score_set
from tclsta.fusion.scores import ScoreSet, paired_order, write_score_set
from tclsta.models.cln import SIDES, CollaborativeLearningNetwork

log = logging.getLogger(__name__)


def set_trainable(model: CollaborativeLearningNetwork, side: str) -> None:
    """Make only ``side``'s parameters trainable (the other side is frozen)."""
    for name in SIDES:
        for param in model.side_parameters(name):
            param.requires_grad_(name == side)


def side_for(step: int, epoch: int, alternate: str) -> str:
    """Which side a step updates: motion first, then static, alternating per step or per epoch."""
    return SIDES[1 - (step if alternate == "step" else epoch) % 2]


def make_optimisers(model: CollaborativeLearningNetwork, lr: float, weight_decay: float
                    ) -> dict[str, torch.optim.Optimizer]:
    """One Adam optimiser per side, and one for the fused head when the model has it."""
    groups = {side: model.side_parameters(side) for side in SIDES}
    if model.fused_head is not None:
        groups["fused"] = list(model.fused_head.parameters())
    return {name: torch.optim.Adam(params, lr=lr, weight_decay=weight_decay) for name, params in groups.items()}


def heads_loss(model: CollaborativeLearningNetwork, vs: torch.Tensor, vm: torch.Tensor, mask: torch.Tensor,
               labels: torch.Tensor) -> torch.Tensor:
    """The sum of every head's cross-entropy (static, motion and, if built, fused)."""
    return sum(F.cross_entropy(logits, labels) for logits in model.head_logits(vs, vm, mask).values())


def training_step(model: CollaborativeLearningNetwork, optimiser: torch.optim.Optimizer, side: str,
                  vs: torch.Tensor, vm: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor,
                  fused_optimiser: torch.optim.Optimizer | None = None) -> float:
    """One update of ``side`` (and of the fused head, if any) with the other side frozen; returns the loss."""
    set_trainable(model, side)
    model.zero_grad(set_to_none=True)
    loss = heads_loss(model, vs, vm, mask, labels)
    loss.backward()
    optimiser.step()
    if fused_optimiser is not None:
        fused_optimiser.step()
    return float(loss.detach())


@dataclass
class History:
    """Per-epoch mean training loss, held-out loss (early stopping only) and the epoch kept (1-based)."""

    loss: list[float] = field(default_factory=list)
    validation: list[float] = field(default_factory=list)
    best_epoch: int = 0


def prediction_log_probabilities(logits: dict[str, torch.Tensor]) -> torch.Tensor:
    """Log-probabilities of the CLN's prediction: the fused head if it has one, else the mean of its heads' softmaxes."""
    if "fused" in logits:
        return torch.log_softmax(logits["fused"], dim=1)
    return torch.log(torch.stack([torch.softmax(v, dim=1) for v in logits.values()]).mean(dim=0))


@torch.no_grad()
def mean_loss(model: CollaborativeLearningNetwork, data: PairedFrames, index: np.ndarray, batch_size: int,
              device: torch.device) -> float:
    """The cross-entropy of the CLN's prediction averaged over the videos ``index`` (evaluation mode)."""
    model.eval()
    total = 0.0
    for batch in torch.as_tensor(index).split(batch_size):
        vs, vm, mask, labels = (x.to(device) for x in data.batch(batch))
        total += float(F.nll_loss(prediction_log_probabilities(model.head_logits(vs, vm, mask)), labels,
                                  reduction="sum"))
    model.train()
    return total / len(index)


def train(model: CollaborativeLearningNetwork, data: PairedFrames, train_index: np.ndarray, *, epochs: int,
          batch_size: int, lr: float, weight_decay: float, alternate: str, seed: int, device: torch.device,
          validation_index: np.ndarray | None = None, patience: int = 0) -> History:
    """Alternating training on the videos ``train_index``.

    Without ``validation_index`` it runs ``epochs`` epochs (the paper). With it, the held-out
    loss is measured after every epoch; training stops after ``patience`` epochs without a
    new best, and the model keeps the parameters of the best epoch (early stopping).
    """
    generator = torch.Generator().manual_seed(seed)
    optimisers = make_optimisers(model, lr, weight_decay)
    model.to(device).train()
    history, step, best, waited = History(), 0, None, 0
    for epoch in (bar := tqdm(range(epochs), desc="train-cln", unit="epoch", leave=False)):
        losses = []
        for batch in torch.as_tensor(train_index)[torch.randperm(len(train_index), generator=generator)].split(batch_size):
            side = side_for(step, epoch, alternate)
            losses.append(training_step(model, optimisers[side], side, *(x.to(device) for x in data.batch(batch)),
                                        optimisers.get("fused")))
            step += 1
        history.loss.append(float(np.mean(losses)))
        bar.set_postfix(loss=f"{history.loss[-1]:.4f}")
        log.debug("epoch %d: loss %.4f", epoch + 1, history.loss[-1])
        if validation_index is None:
            continue
        history.validation.append(mean_loss(model, data, validation_index, batch_size, device))
        if best is None or history.validation[-1] < min(history.validation[:-1]):
            best, waited, history.best_epoch = copy.deepcopy(model.state_dict()), 0, epoch + 1
        else:
            waited += 1
            if waited >= patience:
                break
    if best is not None:
        model.load_state_dict(best)
        log.info("early stopping: kept epoch %d of %d (held-out loss %.4f)", history.best_epoch,
                 len(history.loss), history.validation[history.best_epoch - 1])
    else:
        history.best_epoch = len(history.loss)
    for param in model.parameters():
        param.requires_grad_(True)
    return history


@torch.no_grad()
def predict_probabilities(model: CollaborativeLearningNetwork, data: PairedFrames, batch_size: int,
                          device: torch.device) -> dict[str, np.ndarray]:
    """Softmax scores of every head (``static``, ``motion``, ``fused`` if built) for every video, each ``[V, C]``."""
    model.to(device).eval()
    outputs: dict[str, list[np.ndarray]] = {}
    for batch in torch.arange(len(data.labels)).split(batch_size):
        vs, vm, mask, _ = (x.to(device) for x in data.batch(batch))
        logits = model.head_logits(vs, vm, mask)
        for head, values in logits.items():
            outputs.setdefault(head, []).append(torch.softmax(values, 1).cpu().numpy())
    return {k: np.concatenate(v) for k, v in outputs.items()}


def cln_roles(static: FeatureCache, motion: FeatureCache, variant: str, manifest: str | Path | None,
              path: str | Path) -> list[str]:
    """What each video is to this CLN: ``train`` (fitted), ``holdout`` (early stopping only) or ``test``.

    ``paper``: every training video is fitted (the paper). ``heldout``: the videos both
    streams fitted are fitted; the streams' held-out groups only decide when to stop.
    """
    if variant == "paper":
        return list(static.splits)
    if manifest is None:
        raise ConfigError("train-cln --variant heldout needs the manifest (--manifest) to find the held-out groups")
    roles = heldout_score_set(static, motion, read_manifest(manifest), path).roles
    if "holdout" not in roles:
        raise DatasetError(f"{path}: the streams held out no training videos (stream.holdout_fraction = 0?); "
                           "the held-out CLN needs them")
    return roles


def paired_inputs(static_path: str | Path, motion_path: str | Path, variant: str, manifest: str | Path | None,
                  standardise: bool, folder: Path | None = None
                  ) -> tuple[FeatureCache, list[str], dict[str, np.ndarray], PairedFrames]:
    """The static cache's per-video arrays (its file closed again), each video's role (:func:`cln_roles`),
    the videos of each role and the paired inputs (:func:`~tclsta.fusion.cln_inputs.pair_frames`,
    scratch files in ``folder``)."""
    with open_feature_cache(static_path) as static, open_feature_cache(motion_path) as motion:
        order = paired_order(static, motion, static_path, motion_path)
        roles = cln_roles(static, motion, variant, manifest, static_path)
        index = {role: np.array([i for i, r in enumerate(roles) if r == role], dtype=np.int64) for role in ROLES}
        if len(index["train"]) == 0:
            raise DatasetError(f"{static_path}: no training videos in this split")
        return static, roles, index, pair_frames(static, motion, order, index["train"], standardise, folder)


def fit(data: PairedFrames, index: dict[str, np.ndarray], meta: dict[str, Any], config: dict[str, Any],
        variant: str) -> tuple[CollaborativeLearningNetwork, History, dict[str, np.ndarray], np.ndarray]:
    """Train a CLN (``meta``: its shape) as ``variant`` does; the model, its history, every video's scores
    and the videos fitted (see :func:`run_train_cln`)."""
    cln, heldout = config["cln"], variant == "heldout"
    train_index = index["train"]
    device = resolve_device(config["device"])
    common = {"batch_size": cln["batch_size"], "lr": cln["lr"], "weight_decay": cln["weight_decay"],
              "alternate": cln["alternate"], "seed": config["seed"], "device": device}

    def fresh() -> CollaborativeLearningNetwork:
        torch.manual_seed(config["seed"])
        return CollaborativeLearningNetwork(**meta)

    model = fresh()
    epochs = cln["heldout"]["max_epochs"] if heldout else cln["epochs"]
    log.info("training the %s CLN on %d videos (%d held out, %d test), %s alternation, %s%d epochs on %s", variant,
             len(train_index), len(index["holdout"]), len(index["test"]), cln["alternate"],
             "at most " if heldout else "", epochs, device)
    history = train(model, data, train_index, epochs=epochs, validation_index=index["holdout"] if heldout else None,
                    patience=cln["heldout"]["patience"], **common)
    log.info("final training loss %.4f", history.loss[-1])
    probabilities = predict_probabilities(model, data, cln["batch_size"], device)
    fitted = train_index
    if heldout and cln["heldout"]["refit"]:
        # the chosen number of epochs again on every training video; the held-out videos keep the scores
        # of the model that did not fit them (those are what the LP of CLN + AWL [held-out] reads)
        fitted = np.sort(np.concatenate([train_index, index["holdout"]]))
        log.info("refitting on %d videos for the %d epochs chosen", len(fitted), history.best_epoch)
        model = fresh()
        train(model, data, fitted, epochs=history.best_epoch, **common)
        refit = predict_probabilities(model, data, cln["batch_size"], device)
        for head, values in refit.items():
            values[index["holdout"]] = probabilities[head][index["holdout"]]
        probabilities = refit
    return model, history, probabilities, fitted


def run_train_cln(static_path: str | Path, motion_path: str | Path, checkpoint_path: str | Path,
                  scores_path: str | Path, config: dict[str, Any], *, variant: str = "paper",
                  manifest: str | Path | None = None) -> History:
    """Train the CLN of one split from its two caches; write the checkpoint and the score file.

    ``variant``: ``paper`` (two heads, every training video, ``cln.epochs`` epochs) or
    ``heldout`` (ours: fitted on the videos the streams fitted, early-stopped on the streams'
    held-out groups, then — ``cln.heldout.refit`` — refitted on every training video for the
    epochs chosen, the held-out videos keeping the first model's scores; ``cln.heldout``
    settings; needs ``manifest``). Uses ``config["cln"]``,
    ``config["seed"]`` and ``config["device"]``. The inputs' scratch files go next to the
    checkpoint. Returns the training history.
    """
    cln, heldout = config["cln"], variant == "heldout"
    Path(checkpoint_path).parent.mkdir(parents=True, exist_ok=True)
    static, roles, index, data = paired_inputs(static_path, motion_path, variant, manifest,
                                               heldout and cln["heldout"]["standardise"], Path(checkpoint_path).parent)
    meta = {"static_dim": data.dim("static"), "motion_dim": data.dim("motion"),
            "num_classes": len(static.class_names), "hidden_dim": cln["hidden_dim"], "rounds": cln["rounds"],
            "fused_head": heldout and cln["heldout"]["fused_head"]}
    with closing(data):
        model, history, probabilities, fitted = fit(data, index, meta, config, variant)
    scales = {side: {"shift": data.sides[side].shift, "scale": data.sides[side].scale} for side in SIDES}

    ids = list(static.video_ids)
    checkpoint = {"state_dict": {k: v.cpu() for k, v in model.state_dict().items()}, "meta": meta,
                  "input_scale": scales, "class_names": list(static.class_names), "variant": variant,
                  "loss_history": history.loss, "validation_history": history.validation,
                  "best_epoch": history.best_epoch, "static_cache": str(static_path), "motion_cache": str(motion_path),
                  # what the CLN fitted on, and what it only stopped on (the leakage test reads both)
                  "fit_videos": [ids[i] for i in fitted], "refit": bool(len(fitted) > len(index["train"])),
                  "validation_videos": [ids[i] for i in index["holdout"]] if heldout else []}
    with atomic_path(checkpoint_path) as tmp:
        torch.save(checkpoint, tmp)
    write_score_set(scores_path, ScoreSet(video_ids=ids, labels=np.asarray(static.labels),
                                          roles=roles, scores=probabilities, class_names=list(static.class_names)))
    return history
