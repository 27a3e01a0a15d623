"""Small real HDF5 feature caches for the fusion, evaluation and report tests.

Four classes. The static (RGB) stream confuses classes {0, 1} and {2, 3}, the motion
(flow) stream confuses {1, 2} and {3, 0}: each stream alone is right about half the time,
the two together identify every class. Features are a group prototype plus noise; the
stored class probabilities come from the similarity of the video feature to the prototypes.
Video ``k`` of each class belongs to group ``gKK`` (as in UCF101, a group spans the classes).

``memorise=True`` imitates a stream that memorised the videos it was trained on: the
training videos it fitted (all but its held-out groups, drawn as the trainer draws them,
``stream.holdout_fraction``) get confident, correct scores; held-out and test videos keep
the honest ones. :func:`write_manifest` writes the manifest the fusion stages read groups from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import pandas as pd

from tclsta.features.cache import FeatureCache, read_feature_cache, write_feature_cache
from tclsta.training.trainer import holdout

CLASS_NAMES = ["ApplyEyeMakeup", "Archery", "BabyCrawling", "Basketball"]


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def group_of(video_id: str) -> str:
    """The group of a video id ``v_<Class>_gKK_c01``, as the manifest writes it (``"8"`` for ``g08``)."""
    return str(int(video_id.split("_g")[-1].split("_")[0]))


def _heads(probabilities: np.ndarray, attention: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-head scores as a stream of this attention mode has them (noisy copies of ``probabilities``)."""
    heads = ["frame"] + (["spatial"] if attention in ("spatial", "both") else []) + (
        ["temporal"] if attention in ("temporal", "both") else [])
    return {h: _softmax(np.log(probabilities) + rng.normal(scale=0.2, size=probabilities.shape)) for h in heads}


def make_pair(folder: Path, *, attention: str = "both", train_per_class: int = 8, test_per_class: int = 4,
              frames: int = 6, dim: int = 16, seed: int = 0, map_size: int = 3, holdout_fraction: float = 0.25,
              memorise: bool = False) -> tuple[Path, Path]:
    """Write ``rgb_<attention>.h5`` and ``flow_<attention>.h5`` into ``folder``; return their paths."""
    rng = np.random.default_rng(seed)
    c = len(CLASS_NAMES)
    prototypes = rng.normal(size=(c, dim)) * 2.0
    labels = np.repeat(np.arange(c), train_per_class + test_per_class)
    splits = (["train"] * train_per_class + ["test"] * test_per_class) * c
    per_class = train_per_class + test_per_class
    video_ids = [f"v_{CLASS_NAMES[y]}_g{i % per_class + 1:02d}_c01" for i, y in enumerate(labels)]
    train = pd.DataFrame({"video_id": [v for v, s in zip(video_ids, splits) if s == "train"]})
    train["group"] = train["video_id"].map(group_of)
    fitted = set(holdout(train, holdout_fraction, seed)[0]["video_id"])
    paths = []
    groups = {"rgb": np.arange(c) // 2, "flow": ((np.arange(c) + 1) % c) // 2}
    for stream in ("rgb", "flow"):
        features, weights, indices, maps = [], [], [], []
        for y in labels:
            f = prototypes[groups[stream][y]] + rng.normal(size=(frames, dim))
            features.append(np.maximum(f, 0).astype(np.float32))
            w = rng.random(frames) + 0.5 if attention in ("temporal", "both") else np.ones(frames)
            weights.append((w / w.sum()).astype(np.float32))
            indices.append(np.linspace(1, 30, frames).astype(np.int32))
            m = rng.random((frames, map_size, map_size))
            maps.append((m / m.sum(axis=(1, 2), keepdims=True) * map_size**2).astype(np.float16))
        video_level = np.stack([f.mean(axis=0) for f in features])
        class_prototypes = np.maximum(prototypes[groups[stream]], 0)
        distance = ((video_level[:, None, :] - class_prototypes[None]) ** 2).sum(axis=2)
        probabilities = _softmax(-distance / dim + rng.normal(scale=0.3, size=distance.shape))
        if memorise:
            for v, vid in enumerate(video_ids):
                if vid in fitted:
                    probabilities[v] = _softmax(6.0 * np.eye(c)[labels[v]][None])[0]
        cache = FeatureCache.from_videos(
            video_ids, labels, splits, features, indices, weights,
            scores=_heads(probabilities, attention, rng),
            class_names=CLASS_NAMES,
            attrs={"stream": stream, "attention": attention, "split": 1,
                   "config": {"seed": seed, "stream": {"holdout_fraction": holdout_fraction}}},
            spatial_maps=maps if attention in ("spatial", "both") else None,
        )
        path = folder / f"{stream}_{attention}.h5"
        write_feature_cache(path, cache, dtype="float32")
        paths.append(path)
    return paths[0], paths[1]


def write_manifest(path: Path, cache_path: Path) -> Path:
    """A manifest (one split) for the videos of a cache written by :func:`make_pair`."""
    cache = read_feature_cache(cache_path)
    table = pd.DataFrame({"video_id": cache.video_ids, "label": cache.labels,
                          "class_name": [cache.class_names[y] for y in cache.labels], "split1": cache.splits})
    table["path"] = [f"{name}/{vid}.avi" for name, vid in zip(table["class_name"], table["video_id"])]
    table["group"] = table["video_id"].map(group_of)
    path.parent.mkdir(parents=True, exist_ok=True)
    table[["video_id", "path", "label", "class_name", "group", "split1"]].to_csv(path, index=False)
    return path
