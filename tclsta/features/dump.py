"""Feature dump: run a trained stream over every video of a split and write the HDF5 feature cache.

Each video contributes ``features.frames`` evenly spaced frames (or flow stacks), centre
cropped; the stream's LSTM runs over those frames as one sequence. Per frame: the pooled
feature α_t, the temporal weight softmax(γ)_t (uniform without temporal attention) and
the spatial map m̃ (spatial attention only); per video: each head's class probabilities, the
extracted frame size and the test crop box (what maps m̃ back to pixels). The format is
:mod:`tclsta.features.cache`'s.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch.utils.data import DataLoader
from tqdm import tqdm

from tclsta.data.frames_dataset import FramesDataset, VideoRecord, class_names, records, split_videos
from tclsta.data.layout import flow_names, read_meta, rgb_name, video_dir
from tclsta.data.transforms import centre_box
from tclsta.device import resolve_device
from tclsta.errors import DatasetError, TclstaError
from tclsta.features.cache import FeatureCache, write_feature_cache
from tclsta.models.stream import AttentionStream
from tclsta.training.checkpoint import file_hash, load_final
from tclsta.training.runtime import infer, loader_options, prepare

log = logging.getLogger(__name__)


def feature_loader(dataset: FramesDataset, frames_per_batch: int, num_workers: int, device: Any) -> DataLoader:
    """Whole videos per batch, about ``frames_per_batch`` frames in total (at least one video)."""
    return DataLoader(dataset, batch_size=max(1, frames_per_batch // dataset.segments),
                      **loader_options(device, num_workers))


def extract(model: AttentionStream, loader: DataLoader, device: Any) -> dict[str, list[np.ndarray]]:
    """Per-video arrays of every field the cache stores, in loader order."""
    out: dict[str, list] = {"features": [], "temporal_weights": [], "frame_indices": [], "spatial_maps": [],
                            "labels": [], **{f"scores/{h}": [] for h in model.heads}}
    for output, labels, positions in tqdm(infer(model, loader, device), total=len(loader), desc="features",
                                          mininterval=2.0):
        out["features"] += list(output.features.float().cpu().numpy())
        out["temporal_weights"] += list(output.temporal_weights.float().cpu().numpy())
        out["frame_indices"] += list(positions.numpy())
        out["labels"] += labels.tolist()
        if output.spatial_maps is not None:
            out["spatial_maps"] += list(output.spatial_maps.float().cpu().numpy())
        for head, probs in output.probabilities().items():
            out[f"scores/{head}"] += list(probs.cpu().numpy())
    return out


def frame_size(frames_root: str | Path, video: VideoRecord) -> tuple[int, int]:
    """(height, width) of a video's extracted frames: from ``frames.json``, else its first image."""
    import cv2

    folder = video_dir(frames_root, video.video_id)
    meta = read_meta(folder) or {}
    if "height" in meta and "width" in meta:
        return int(meta["height"]), int(meta["width"])
    name = rgb_name(1) if video.n_frames else flow_names(1)[0]
    image = cv2.imread(str(folder / name), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DatasetError(f"{folder / name}: missing or unreadable image")
    return int(image.shape[0]), int(image.shape[1])


def stream_cache(model: AttentionStream, meta: dict[str, Any], videos: pd.DataFrame, frames_root: str | Path,
                 fcfg: dict[str, Any], device: Any, names: list[str], attrs: dict[str, Any]) -> FeatureCache:
    """The feature cache (in memory) of one stream over ``videos`` (columns video_id, label, n_frames, n_flow,
    subset) extracted below ``frames_root``: ``features.frames`` evenly spaced frames, centre crops.

    Shared by the dump stage and ``tclsta predict`` / ``tclsta features``; ``attrs`` adds to the cache's attributes.
    """
    device = resolve_device(device)
    model = prepare(model, device)
    dataset = FramesDataset(frames_root, records(videos), stream=meta["stream"], segments=fcfg["frames"],
                            crop_size=meta["stream_config"]["crop_size"], flow_stack=meta["model"]["flow_stack"])
    arrays = extract(model, feature_loader(dataset, fcfg["batch_size"], fcfg["num_workers"], device), device)
    sizes = [frame_size(frames_root, video) for video in dataset.videos]
    return FeatureCache.from_videos(
        video_ids=list(videos["video_id"]),
        labels=arrays["labels"],
        splits=list(videos["subset"]),
        features=arrays["features"],
        frame_indices=arrays["frame_indices"],
        temporal_weights=arrays["temporal_weights"],
        scores={h: np.stack(arrays[f"scores/{h}"]) for h in model.heads},
        class_names=names,
        attrs={
            "config": {"features": fcfg, "model": meta["model"], "stream": meta["stream_config"], "seed": meta["seed"]},
            "stream": meta["stream"], "attention": meta["attention"], **attrs,
        },
        spatial_maps=arrays["spatial_maps"] or None,
        frame_sizes=sizes,
        crop_boxes=[centre_box(*size) for size in sizes],
    )


def dump_features(config: dict[str, Any], *, split: int, checkpoint: str | Path, manifest: str | Path,
                  frames_index: str | Path, frames_root: str | Path, output: str | Path,
                  expect: tuple[str, str] | None = None) -> FeatureCache:
    """Write the feature cache of ``checkpoint``'s stream for the train and test videos of ``split``.

    ``expect``: the (stream, attention) the checkpoint must hold.
    """
    fcfg = config["features"]
    model, meta = load_final(checkpoint)
    if expect is not None and expect != (meta["stream"], meta["attention"]):
        raise TclstaError(f"{checkpoint}: holds a {meta['stream']}/{meta['attention']} stream, "
                          f"expected {expect[0]}/{expect[1]}")
    names = class_names(manifest)
    if names != meta["class_names"]:
        raise DatasetError(f"{manifest}: classes differ from those {checkpoint} was trained on")
    videos = split_videos(manifest, frames_index, split)
    log.info("split %d %s/%s: %d videos × %d frames", split, meta["stream"], meta["attention"],
             len(videos), fcfg["frames"])
    cache = stream_cache(model, meta, videos, frames_root, fcfg, config["device"], names,
                         {"checkpoint": file_hash(checkpoint), "split": split})
    write_feature_cache(output, cache, dtype=fcfg["dtype"])
    log.info("wrote %s", output)
    return cache
