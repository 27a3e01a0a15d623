"""Which videos of a split each stream network fitted, which it held out, which are test videos.

A stream trains on its split's training videos minus a held-out set of whole groups
(``stream.holdout_fraction``, :func:`tclsta.training.trainer.holdout`), which it only uses to
decide when to lower its learning rate. Their scores are the only training-side scores the
stream has not memorised, so the fusion stages that must not fit on memorised scores (the
``[held-out]`` rows) fit on them. The held-out set is recomputed from the manifest's groups
and the stream settings recorded in the feature cache (the same seeded draw as the trainer);
the trainer also records the videos it fitted in its checkpoint, so a test can check the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tclsta.errors import DatasetError
from tclsta.features.cache import FeatureCache
from tclsta.fusion.scores import ScoreSet, paired_order, stream_score_set
from tclsta.training.trainer import holdout

ROLES = ("train", "holdout", "test")


def cache_stream_config(cache: FeatureCache, path: str | Path = "") -> tuple[float, int]:
    """``(stream.holdout_fraction, seed)`` the cache's stream was trained with (from its ``config`` attribute)."""
    try:
        config = cache.config()
        return float(config["stream"]["holdout_fraction"]), int(config["seed"])
    except (TypeError, KeyError, ValueError) as err:
        raise DatasetError(f"{path}: the feature cache does not record its stream's holdout settings "
                           f"({err}); rerun dump-features") from err


def stream_roles(cache: FeatureCache, manifest: pd.DataFrame, path: str | Path = "") -> list[str]:
    """Role of each cache video: ``train`` (the stream fitted it), ``holdout`` (held out) or ``test``."""
    fraction, seed = cache_stream_config(cache, path)
    train_ids = [vid for vid, split in zip(cache.video_ids, cache.splits) if split == "train"]
    table = manifest.set_index("video_id")
    missing = [vid for vid in train_ids if vid not in table.index]
    if missing:
        raise DatasetError(f"{path}: videos {missing[:3]} are not in the manifest")
    _, held = holdout(table.loc[train_ids, ["group"]].reset_index(), fraction, seed)
    held_ids = set(held["video_id"])
    return ["holdout" if vid in held_ids else split for vid, split in zip(cache.video_ids, cache.splits)]


def paired_roles(static: Sequence[str], motion: Sequence[str]) -> list[str]:
    """Roles of paired videos: held out only where *both* streams held the video out."""
    return ["holdout" if s == m == "holdout" else ("train" if "holdout" in (s, m) else s)
            for s, m in zip(static, motion)]



def heldout_score_set(static: FeatureCache, motion: FeatureCache, manifest: pd.DataFrame,
                      static_path: str | Path = "", motion_path: str | Path = "") -> ScoreSet:
    """The streams' score set with roles ``train`` / ``holdout`` / ``test`` (held out: by both streams)."""
    order = paired_order(static, motion, static_path, motion_path)
    motion_roles = stream_roles(motion, manifest, motion_path)
    roles = paired_roles(stream_roles(static, manifest, static_path), [motion_roles[i] for i in order])
    return stream_score_set(static, motion, static_path, motion_path, roles=roles)


def video_groups(video_ids: Sequence[str], manifest: pd.DataFrame) -> np.ndarray:
    """The manifest's ``group`` of each video (clips of one group share actor and background)."""
    return manifest.set_index("video_id").loc[list(video_ids), "group"].astype(str).to_numpy()
