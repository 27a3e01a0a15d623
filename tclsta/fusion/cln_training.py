"""Training the collaborative learning network on two HDF5 feature caches (never on frames).

The two caches (static = RGB, motion = flow) of one split are paired by video id. A
frame's input vector is its feature scaled by its temporal weight, ``v_t = N·softmax(γ)_t·α_t``
(the β of Eq. 6 times N, so without temporal attention ``v_t = α_t``); each stream is then
divided by one scalar, the root-mean-square of its training frames, so both enter the
network at unit scale. When the two streams have different frame counts for a video, the
longer one is subsampled at evenly spaced positions.

Training alternates (``cln.alternate``): a step (or an epoch) updates the motion side with
the static side frozen, the next one the static side with the motion side frozen — the
motion side first, as in Algorithm 1 the static feature guides the motion feature first.
Each side has its own Adam optimiser, so a frozen side's parameters and optimiser state do
not change. The loss is the sum of the two heads' cross-entropies.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from tclsta.atomic import atomic_path
from tclsta.device import resolve_device
from tclsta.errors import DatasetError
from tclsta.features.cache import FeatureCache, read_feature_cache
from tclsta.fusion.scores import ScoreSet, paired_order, write_score_set
from tclsta.models.cln import SIDES, CollaborativeLearningNetwork

log = logging.getLogger(__name__)


@dataclass
class PairedFrames:
    """Aligned, padded frame features of the two streams for every video of a split."""

    static: torch.Tensor  # [V, N, D_s]
    motion: torch.Tensor  # [V, N, D_m]
    mask: torch.Tensor  # [V, N] bool
    labels: torch.Tensor  # [V]


def _scaled_frames(cache: FeatureCache, video: int) -> np.ndarray:
    """``N·softmax(γ)_t·α_t`` for the frames of one video (``α_t`` without temporal attention)."""
    rows = cache.rows(video)
    weights = cache.temporal_weights[rows].astype(np.float32)
    weights = weights * (len(weights) / weights.sum())
    return cache.features[rows].astype(np.float32) * weights[:, None]


def _evenly(frames: np.ndarray, n: int) -> np.ndarray:
    """``n`` evenly spaced rows of ``frames`` (all of them when it has ``n``)."""
    if len(frames) == n:
        return frames
    return frames[np.round(np.linspace(0, len(frames) - 1, n)).astype(int)]


def pair_frames(static: FeatureCache, motion: FeatureCache, order: np.ndarray) -> PairedFrames:
    """Align the two caches' frames video by video (``order`` from :func:`paired_order`) and pad."""
    pairs = []
    for v, m in enumerate(order):
        fs, fm = _scaled_frames(static, v), _scaled_frames(motion, int(m))
        n = min(len(fs), len(fm))
        if n == 0:
            raise DatasetError(f"video {static.video_ids[v]}: no frames in one of the feature caches")
        pairs.append((_evenly(fs, n), _evenly(fm, n)))
    n_max = max(len(fs) for fs, _ in pairs)
    vs = np.zeros((len(pairs), n_max, static.features.shape[1]), dtype=np.float32)
    vm = np.zeros((len(pairs), n_max, motion.features.shape[1]), dtype=np.float32)
    mask = np.zeros((len(pairs), n_max), dtype=bool)
    for i, (fs, fm) in enumerate(pairs):
        vs[i, : len(fs)], vm[i, : len(fm)], mask[i, : len(fs)] = fs, fm, True
    return PairedFrames(torch.from_numpy(vs), torch.from_numpy(vm), torch.from_numpy(mask),
                        torch.as_tensor(np.asarray(static.labels), dtype=torch.long))


def rms(frames: torch.Tensor, mask: torch.Tensor) -> float:
    """Root-mean-square of the valid frames' features (the per-stream input scale)."""
    valid = frames[mask]
    return float(valid.pow(2).mean().sqrt().clamp_min(1e-8))


def assign_roles(splits: list[str], labels: np.ndarray, holdout_fraction: float, seed: int) -> list[str]:
    """Roles ``train``/``holdout``/``test``: a stratified ``holdout_fraction`` of each class's training videos.

    A class keeps at least one training video; ``holdout_fraction = 0`` holds nothing out.
    """
    roles = list(splits)
    if holdout_fraction <= 0:
        return roles
    rng = np.random.default_rng(seed)
    for label in np.unique(labels):
        members = [i for i, (s, y) in enumerate(zip(splits, labels)) if s == "train" and y == label]
        count = min(int(round(holdout_fraction * len(members))), len(members) - 1)
        for i in rng.permutation(members)[:count]:
            roles[int(i)] = "holdout"
    return roles


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
    """One Adam optimiser per side."""
    return {side: torch.optim.Adam(model.side_parameters(side), lr=lr, weight_decay=weight_decay) for side in SIDES}


def training_step(model: CollaborativeLearningNetwork, optimiser: torch.optim.Optimizer, side: str,
                  vs: torch.Tensor, vm: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor) -> float:
    """One update of ``side`` with the other side frozen; returns the summed cross-entropy."""
    set_trainable(model, side)
    optimiser.zero_grad(set_to_none=True)
    static_logits, motion_logits = model(vs, vm, mask)
    loss = F.cross_entropy(static_logits, labels) + F.cross_entropy(motion_logits, labels)
    loss.backward()
    optimiser.step()
    return float(loss.detach())


def train(model: CollaborativeLearningNetwork, data: PairedFrames, train_index: np.ndarray, *, epochs: int,
          batch_size: int, lr: float, weight_decay: float, alternate: str, seed: int,
          device: torch.device) -> list[float]:
    """Alternating training on the videos ``train_index``; returns the mean loss of each epoch."""
    generator = torch.Generator().manual_seed(seed)
    optimisers = make_optimisers(model, lr, weight_decay)
    model.to(device).train()
    history, step = [], 0
    for epoch in (bar := tqdm(range(epochs), desc="train-cln", unit="epoch", leave=False)):
        losses = []
        for batch in torch.as_tensor(train_index)[torch.randperm(len(train_index), generator=generator)].split(batch_size):
            side = side_for(step, epoch, alternate)
            losses.append(training_step(model, optimisers[side], side, data.static[batch].to(device),
                                        data.motion[batch].to(device), data.mask[batch].to(device),
                                        data.labels[batch].to(device)))
            step += 1
        history.append(float(np.mean(losses)))
        bar.set_postfix(loss=f"{history[-1]:.4f}")
        log.debug("epoch %d: loss %.4f", epoch + 1, history[-1])
    for param in model.parameters():
        param.requires_grad_(True)
    return history


@torch.no_grad()
def predict_probabilities(model: CollaborativeLearningNetwork, data: PairedFrames, batch_size: int,
                          device: torch.device) -> dict[str, np.ndarray]:
    """Softmax scores of the static and the motion head for every video, each ``[V, C]``."""
    model.to(device).eval()
    outputs: dict[str, list[np.ndarray]] = {"static": [], "motion": []}
    for batch in torch.arange(len(data.labels)).split(batch_size):
        static_logits, motion_logits = model(data.static[batch].to(device), data.motion[batch].to(device),
                                             data.mask[batch].to(device))
        outputs["static"].append(torch.softmax(static_logits, 1).cpu().numpy())
        outputs["motion"].append(torch.softmax(motion_logits, 1).cpu().numpy())
    return {k: np.concatenate(v) for k, v in outputs.items()}


def run_train_cln(static_path: str | Path, motion_path: str | Path, checkpoint_path: str | Path,
                  scores_path: str | Path, config: dict[str, Any]) -> list[float]:
    """Train the CLN of one split from its two caches; write the checkpoint and the score file.

    Uses ``config["cln"]``, ``config["awl"]`` (``scores: holdout`` holds out
    ``holdout_fraction`` of the training videos), ``config["seed"]`` and ``config["device"]``.
    Returns the per-epoch losses.
    """
    cln, awl = config["cln"], config["awl"]
    static, motion = read_feature_cache(static_path), read_feature_cache(motion_path)
    order = paired_order(static, motion, static_path, motion_path)
    data = pair_frames(static, motion, order)
    fraction = awl["holdout_fraction"] if awl["scores"] == "holdout" else 0.0
    roles = assign_roles(static.splits, np.asarray(static.labels), fraction, config["seed"])
    train_index = np.array([i for i, r in enumerate(roles) if r == "train"], dtype=np.int64)
    if len(train_index) == 0:
        raise DatasetError(f"{static_path}: no training videos in this split")
    scales = {"static": rms(data.static[train_index], data.mask[train_index]),
              "motion": rms(data.motion[train_index], data.mask[train_index])}
    data.static /= scales["static"]
    data.motion /= scales["motion"]

    torch.manual_seed(config["seed"])
    meta = {"static_dim": int(data.static.shape[2]), "motion_dim": int(data.motion.shape[2]),
            "num_classes": len(static.class_names), "hidden_dim": cln["hidden_dim"], "rounds": cln["rounds"]}
    model = CollaborativeLearningNetwork(**meta)
    device = resolve_device(config["device"])
    log.info("training the CLN on %d videos (%d held out, %d test), %s alternation, %d epochs on %s",
             len(train_index), roles.count("holdout"), roles.count("test"), cln["alternate"], cln["epochs"], device)
    history = train(model, data, train_index, epochs=cln["epochs"], batch_size=cln["batch_size"], lr=cln["lr"],
                    weight_decay=cln["weight_decay"], alternate=cln["alternate"], seed=config["seed"],
                    device=device)
    log.info("final training loss %.4f", history[-1])
    probabilities = predict_probabilities(model, data, cln["batch_size"], device)

    checkpoint = {"state_dict": {k: v.cpu() for k, v in model.state_dict().items()}, "meta": meta,
                  "input_scale": scales, "class_names": list(static.class_names), "loss_history": history,
                  "static_cache": str(static_path), "motion_cache": str(motion_path)}
    with atomic_path(checkpoint_path) as tmp:
        torch.save(checkpoint, tmp)
    write_score_set(scores_path, ScoreSet(video_ids=list(static.video_ids), labels=np.asarray(static.labels),
                                          roles=roles, scores=probabilities, class_names=list(static.class_names)))
    return history
