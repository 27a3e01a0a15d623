"""Report figures (matplotlib, Agg backend): confusion matrix (Fig. 5), attention (Fig. 7), fusion weights, reliability."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tclsta.atomic import atomic_path  # noqa: E402
from tclsta.evaluation.overlays import PLAIN_TEXT, draw_attention, frame_image, map_extent  # noqa: E402
from tclsta.features.cache import FeatureCache  # noqa: E402

log = logging.getLogger(__name__)


def _save(fig: plt.Figure, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)


@plt.rc_context(PLAIN_TEXT)
def confusion_figure(path: str | Path, matrix: np.ndarray, class_names: Sequence[str], title: str) -> None:
    """Row-normalised confusion matrix as an image; class names on the axes when there are ≤ 60."""
    size = min(4 + 0.18 * len(class_names), 16)
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="P(predicted | true)")
    if len(class_names) <= 60:
        ticks = np.arange(len(class_names))
        ax.set_xticks(ticks, class_names, rotation=90, fontsize=7)
        ax.set_yticks(ticks, class_names, fontsize=7)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    _save(fig, path)


@plt.rc_context(PLAIN_TEXT)
def weights_figure(path: str | Path, class_names: Sequence[str], weights: dict[str, np.ndarray]) -> None:
    """Per-class static-stream weight w_static (w_motion = 1 − w_static) for each score source."""
    fig, ax = plt.subplots(figsize=(max(6, 0.25 * len(class_names) + 2), 3.5))
    x = np.arange(len(class_names))
    width = 0.8 / max(len(weights), 1)
    for k, (source, w) in enumerate(weights.items()):
        ax.bar(x + (k - (len(weights) - 1) / 2) * width, w[:, 0], width, label=f"{source} scores")
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_ylim(0, 1)
    ax.set_ylabel("w_static  (w_motion = 1 − w_static)")
    if len(class_names) <= 60:
        ax.set_xticks(x, class_names, rotation=90, fontsize=7)
    ax.set_xlabel("class")
    ax.legend(fontsize=8)
    ax.set_title("AWL fusion weights per class (one LP per class)")
    _save(fig, path)


def reliability_figure(path: str | Path, streams: dict[str, dict]) -> None:
    """Reliability diagram of each stream's test scores: accuracy against confidence per bin, raw and scaled.

    ``streams``: the ``diagnostics.streams`` entries of ``metrics.json`` (an empty figure when there are none).
    """
    fig, axes = plt.subplots(1, max(len(streams), 1), figsize=(4 * max(len(streams), 1), 4), squeeze=False)
    for ax, (stream, entry) in zip(axes[0], streams.items()):
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="perfectly calibrated")
        for kind, style in (("raw", "-o"), ("scaled", "-s")):
            bins = entry["reliability"].get(kind)
            if bins is None:
                continue
            conf, acc = np.asarray(bins["confidence"], float), np.asarray(bins["accuracy"], float)
            keep = np.asarray(bins["count"]) > 0
            label = kind if kind == "raw" else f"scaled (T = {entry['temperature']:.2f})"
            ax.plot(conf[keep], acc[keep], style, ms=4, label=label)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence (top class probability)")
        ax.set_ylabel("accuracy")
        ax.set_title(f"{stream}: test videos")
        ax.legend(fontsize=7)
    if not streams:
        axes[0, 0].text(0.5, 0.5, "no two-stream diagnostics in this run", ha="center", va="center")
        axes[0, 0].axis("off")
    fig.tight_layout()
    _save(fig, path)


@plt.rc_context(PLAIN_TEXT)
def attention_figure(path: str | Path, cache: FeatureCache, videos: Sequence[int], frames_root: str | Path,
                     frames_per_video: int) -> list[str]:
    """Fig. 7: per video, evenly chosen frames with the spatial map as a heatmap and the temporal weights.

    Each video takes two rows: the frames (heatmap of ``spatial_maps`` over the test crop of the
    RGB frame when the cache has maps) and a line of the temporal weights over all its sampled frames,
    the shown frames marked. Returns the video ids whose RGB frames were missing.
    """
    frames_root = Path(frames_root)
    columns = max(1, min(frames_per_video, int(max(cache.lengths[list(videos)], default=1))))
    fig, axes = plt.subplots(2 * len(videos), columns, figsize=(1.9 * columns, 3.6 * len(videos)),
                             squeeze=False, gridspec_kw={"height_ratios": [2, 1] * len(videos)})
    missing = []
    for k, video in enumerate(videos):
        rows = cache.rows(video)
        video_id = cache.video_ids[video]
        weights = cache.temporal_weights[rows]
        indices = cache.frame_indices[rows]
        shown = np.unique(np.round(np.linspace(0, len(weights) - 1, columns)).astype(int))
        for c in range(columns):
            ax = axes[2 * k, c]
            ax.axis("off")
            if c >= len(shown):
                continue
            t = shown[c]
            image = frame_image(frames_root, video_id, indices[t])
            if image is None:
                missing.append(video_id)
                image = np.full((64, 64, 3), 128, dtype=np.uint8)
            spatial = None if cache.spatial_maps is None else cache.spatial_maps[rows][t]
            draw_attention(ax, image, spatial, map_extent(cache, video, *image.shape[:2]))
            ax.set_title(f"frame {indices[t]}\nsoftmax(γ) {weights[t]:.3f}", fontsize=7)
        line = plt.subplot2grid((2 * len(videos), columns), (2 * k + 1, 0), colspan=columns, fig=fig)
        for c in range(columns):
            axes[2 * k + 1, c].remove()
        line.plot(indices, weights, "-o", ms=3)
        line.plot(indices[shown], weights[shown], "o", color="red", ms=5)
        line.set_ylim(0, max(float(weights.max()) * 1.2, 1e-6))
        line.set_xlabel("frame", fontsize=8)
        line.set_ylabel("softmax(γ)", fontsize=8)
        line.set_title(f"{video_id} (class {cache.class_names[cache.labels[video]]})", fontsize=9)
    fig.tight_layout()
    _save(fig, path)
    if missing:
        log.warning("RGB frames missing for %s: the attention figure shows grey panels", sorted(set(missing)))
    return sorted(set(missing))
