"""Classify any videos with a model bundle, through the pipeline's own code, stage for stage.

Each batch of videos is extracted into a temporary folder by the extract stage's
:func:`~tclsta.extraction.extract_shard` (same decoding, JPEG quantisation and TV-L1 flow as
the run, kept or computed only for the frames and pairs the streams read: :func:`stream_reads`), each
stream's feature cache is built by the dump stage's :func:`~tclsta.features.dump.stream_cache`
(same sampling, crops and model) and stored and read back as the run stores it
(``features.dtype``), and the fusion scores them as ``evaluate`` does:
the CLN's inputs by :func:`~tclsta.fusion.cln_inputs.pair_frames` with the trained CLN's input
scale, AWL by :func:`~tclsta.fusion.awl.fuse` on temperature-scaled scores. So a video of the
run's test set gets the top-1 of ``evaluation/predictions.csv``.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from tclsta.data.sampling import evenly_spaced_fields, evenly_spaced_positions
from tclsta.data.video import video_fps
from tclsta.device import resolve_device
from tclsta.errors import ConfigError, DatasetError, VideoDecodeError
from tclsta.extraction import ReadChooser, Reads, extract_shard
from tclsta.features.cache import FeatureCache, open_feature_cache, write_feature_cache
from tclsta.features.dump import stream_cache
from tclsta.fusion.awl import fuse, read_weights
from tclsta.fusion.baselines import late_fusion
from tclsta.fusion.cln_inputs import pair_frames
from tclsta.fusion.cln_training import predict_probabilities
from tclsta.fusion.scores import ScoreSet, paired_order, stream_probabilities, stream_score_set
from tclsta.fusion.solve import calibrated, read_fit_record
from tclsta.inference.bundle import CLN_FILES, STREAM_FILES, Bundle, BundleError, awl_files
from tclsta.inference.windows import link_windows, window_bounds, window_flow
from tclsta.models.cln import SIDES, CollaborativeLearningNetwork
from tclsta.training.checkpoint import load_final

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v", ".flv", ".wmv")
CLN_BATCH = 64


def video_paths(inputs: Sequence[str | Path]) -> list[Path]:
    """The videos named: files, folders (their video files, sorted) and ``.txt`` lists (one path a line)."""
    found: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found += sorted(p for p in item.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
        elif item.suffix.lower() == ".txt" and item.is_file():
            lines = [line.strip() for line in item.read_text().splitlines()]
            found += [(item.parent / line) if not Path(line).is_absolute() else Path(line) for line in lines if line]
        else:
            found.append(item)
    if not found:
        raise DatasetError(f"{', '.join(map(str, inputs))}: no videos found")
    return [p.resolve() for p in found]


def video_ids(videos: Sequence[Path]) -> list[str]:
    """One id per video: its file name without suffix, numbered where two share a name."""
    ids: list[str] = []
    for path in videos:
        base, n = path.stem, 1
        while (candidate := base if n == 1 else f"{base}_{n}") in ids:
            n += 1
        ids.append(candidate)
    return ids


@dataclass
class Extracted:
    """One batch's extracted frames: the folder, the usable videos (dump's columns) and the bad ones."""

    frames_root: Path
    videos: pd.DataFrame  # video_id, label, n_frames, n_flow, subset
    bad: dict[str, str]  # video id -> reason


def stream_reads(settings: dict[str, Any], streams: Sequence[str], windows: tuple[float, float | None] | None = None,
                 fps: dict[str, float] | None = None, drawn: bool = False) -> ReadChooser:
    """The RGB frames and flow fields the ``streams`` read of a video (dump's test frames and stacks), with
    ``windows`` also those of each of its windows (videos with a frame rate in ``fps``); ``drawn``: also the RGB
    frames at every stream's sampled positions (what ``--explain`` draws)."""
    count, length = int(settings["features"]["frames"]), int(settings["model"]["flow_stack"])

    def spans(video_id: str, n_frames: int) -> Iterator[tuple[int, int]]:
        """(first frame − 1, frames) of the video and of each of its windows."""
        yield 0, n_frames
        if windows is not None and video_id in (fps or {}):
            yield from ((start, stop - start) for start, stop in window_bounds(n_frames, fps[video_id], *windows))

    def reads(video_id: str, n_frames: int) -> Reads:
        frames, fields = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
        for offset, n in spans(video_id, n_frames):
            if "rgb" in streams:
                frames.append(offset + evenly_spaced_positions(n, count))
            if "flow" in streams and (n_flow := window_flow(n_frames - 1, offset, offset + n)) >= 1:
                fields.append(offset + evenly_spaced_fields(n_flow, count, length))
        if drawn and "flow" in streams and n_frames >= 2:
            frames.append(evenly_spaced_positions(n_frames - 1, count, length))
        return Reads(np.unique(np.concatenate(frames)), np.unique(np.concatenate(fields)))

    return reads


def extract_videos(paths: Sequence[Path], ids: Sequence[str], settings: dict[str, Any], folder: Path,
                   device: str | None, reads: ReadChooser, with_flow: bool) -> Extracted:
    """Decode ``paths`` into ``folder`` with the bundle's extract/flow settings, keeping the frames and (``with_flow``)
    computing the flow fields ``reads`` names (bad videos skipped and listed)."""
    rows = pd.DataFrame({"video_id": list(ids), "path": [str(p) for p in paths]})
    extract = {**settings["extract"], "skip_bad": True}
    flow = {**settings["flow"], "enabled": with_flow, **({"device": device} if device else {})}
    table = extract_shard(rows, "/", folder / "frames", extract, flow, folder / "index.tsv", reads)
    ok = table[table["status"] == "ok"]
    bad = {r.video_id: f"{r.status}: {r.error}" for r in table.itertuples() if r.status != "ok"}
    videos = ok.assign(label=-1, subset="test")[["video_id", "label", "n_frames", "n_flow", "subset"]]
    return Extracted(folder / "frames", videos.reset_index(drop=True), bad)


def stream_caches(bundle: Bundle, extracted: Extracted, streams: Sequence[str], device: str | None,
                  folder: Path) -> dict[str, Path]:
    """Each stream's feature cache of the extracted videos, written (``features.dtype``) into ``folder``."""
    features = bundle.settings["features"]
    out = {}
    for stream in streams:
        model, meta = load_final(bundle.path(STREAM_FILES[stream]))
        cache = stream_cache(model, meta, extracted.videos, extracted.frames_root, features,
                             device or "auto", bundle.class_names, {"bundle": str(bundle.folder)})
        out[stream] = folder / f"{stream}_{meta['attention']}.h5"
        write_feature_cache(out[stream], cache, dtype=features["dtype"])
    return out


def cln_score_set(bundle: Bundle, variant: str, static: FeatureCache, motion: FeatureCache, device: torch.device,
                  folder: Path) -> ScoreSet:
    """The CLN's per-head scores of the videos, its inputs mapped by its trained input scale."""
    name = CLN_FILES[variant]
    blob = bundle.checkpoint(name)
    try:
        model = CollaborativeLearningNetwork(**blob["meta"])
        model.load_state_dict(blob["state_dict"])
        scales = {side: (blob["input_scale"][side]["shift"], blob["input_scale"][side]["scale"]) for side in SIDES}
    except (KeyError, RuntimeError, TypeError) as err:
        raise BundleError(f"{bundle.folder / name}: not a tclsta CLN checkpoint ({err})") from err
    order = paired_order(static, motion)
    data = pair_frames(static, motion, order, np.empty(0, dtype=np.int64), False, folder, scales)
    with closing(data):
        scores = predict_probabilities(model, data, CLN_BATCH, device)
    return ScoreSet(list(static.video_ids), np.asarray(static.labels), ["test"] * len(static), scores,
                    list(static.class_names))


def _awl(bundle: Bundle, source: str, scores: ScoreSet) -> np.ndarray:
    """Eq. 14 with one bundled AWL source: its temperatures, then its per-class weights."""
    weights_name, fit_name = awl_files(source)
    weights, streams = read_weights(bundle.path(weights_name), scores.class_names)
    temperatures = read_fit_record(bundle.path(fit_name)).temperatures
    return fuse(calibrated(scores, temperatures).stacked(None, streams), weights)


def fusion_scores(bundle: Bundle, fusion: str, caches: dict[str, Path], device: torch.device,
                  folder: Path) -> tuple[list[str], np.ndarray]:
    """The video ids and class scores ``[V, C]`` of ``fusion`` over the feature caches, as ``evaluate``
    scores its row."""
    with ExitStack() as files:
        opened = {s: files.enter_context(open_feature_cache(p)) for s, p in caches.items()}
        if fusion in ("rgb", "flow"):
            return list(opened[fusion].video_ids), stream_probabilities(opened[fusion], caches[fusion])
        static, motion = opened["rgb"], opened["flow"]
        ids = list(static.video_ids)
        if fusion == "late":
            return ids, late_fusion(stream_score_set(static, motion).stacked())
        if fusion == "awl_heldout":
            return ids, _awl(bundle, "stream_heldout", stream_score_set(static, motion))
        cln = cln_score_set(bundle, "paper" if fusion == "paper" else "heldout", static, motion, device, folder)
        if fusion == "paper":
            return ids, _awl(bundle, "cln", cln)
        if fusion == "cln_awl_heldout":
            return ids, _awl(bundle, "cln_heldout", cln)
        return ids, cln.scores["fused"] if "fused" in cln.scores else late_fusion(cln.stacked())


def streams_for(fusion: str) -> tuple[str, ...]:
    """The streams a fusion runs."""
    return (fusion,) if fusion in ("rgb", "flow") else ("rgb", "flow")


def choose_fusion(bundle: Bundle, fusion: str | None) -> str:
    """``fusion`` if the bundle serves it; the default is the bundle's best ``[held-out]`` row."""
    fusion = fusion or bundle.best_heldout()
    if fusion not in bundle.rows():
        raise ConfigError(f"{bundle.folder}: --fusion {fusion} is not served by this bundle "
                          f"(it serves {', '.join(bundle.rows())})")
    return fusion


@dataclass
class WindowScore:
    """One sliding window's class scores per fusion: seconds ``[start, end)``, frames ``[first, stop)`` (0-based)."""

    start: float
    end: float
    first_frame: int
    stop_frame: int
    scores: dict[str, np.ndarray]


@dataclass
class Prediction:
    """One video's result: class scores per fusion (and per window with ``windows``), or why it could not be read."""

    path: Path
    video_id: str
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    error: str = ""
    windows: list[WindowScore] = field(default_factory=list)


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


BatchHook = Callable[[Path, dict[str, Path], dict[str, dict[str, np.ndarray]]], None]


def _scored(bundle: Bundle, extracted: Extracted, streams: Sequence[str], fusions: Sequence[str], device: str | None,
            folder: Path) -> tuple[dict[str, Path], dict[str, dict[str, np.ndarray]]]:
    """Each stream's feature cache of the extracted videos and video id -> fusion -> class scores (caches and
    CLN inputs written into ``folder``)."""
    scored: dict[str, dict[str, np.ndarray]] = {}
    if not len(extracted.videos):
        return {}, scored
    folder.mkdir(parents=True, exist_ok=True)
    caches = stream_caches(bundle, extracted, streams, device, folder)
    fusion_device = resolve_device(device or "auto")
    for fusion in fusions:
        order, scores = fusion_scores(bundle, fusion, caches, fusion_device, folder)
        for vid, row in zip(order, scores):
            scored.setdefault(vid, {})[fusion] = row
    return caches, scored


def frame_rates(paths: dict[str, Path]) -> tuple[dict[str, float], dict[str, str]]:
    """Video id -> declared frame rate, and the videos without one, with the reason."""
    fps, errors = {}, {}
    for vid, path in paths.items():
        try:
            fps[vid] = video_fps(path)
        except VideoDecodeError as err:
            errors[vid] = str(err)
    return fps, errors


def _window_scores(bundle: Bundle, extracted: Extracted, fps: dict[str, float], streams: Sequence[str],
                   fusions: Sequence[str], device: str | None, windows: tuple[float, float | None],
                   folder: Path) -> dict[str, list[WindowScore]]:
    """Each video's window scores (videos with a frame rate in ``fps``), the windows laid out as videos
    (:mod:`~tclsta.inference.windows`)."""
    videos = extracted.videos[extracted.videos["video_id"].isin(list(fps))]
    table, spans = link_windows(extracted.frames_root, videos, fps, *windows, folder / "frames")
    _, scored = _scored(bundle, Extracted(folder / "frames", table, {}), streams, fusions, device, folder)
    out: dict[str, list[WindowScore]] = {}
    for span in spans:
        out.setdefault(span.video_id, []).append(WindowScore(*span.seconds, span.start, span.stop,
                                                             scored[span.window_id]))
    return out


def predict_videos(bundle: Bundle, paths: Sequence[Path], fusions: Sequence[str], *, device: str | None = None,
                   batch_videos: int = 8, windows: tuple[float, float | None] | None = None,
                   on_batch: BatchHook | None = None) -> list[Prediction]:
    """Scores of every video under each of ``fusions`` (``batch_videos`` videos extracted at a time, into a
    temporary folder removed after); a video that cannot be read gets its reason instead, logged.

    ``windows`` = (seconds, stride or None): each video is also scored window by window.
    ``on_batch(frames_root, caches, scores)``, if given, runs for each batch with good videos while its
    frames exist: the extracted frames (the RGB frames at each stream's sampled positions among them), each
    stream's feature cache, and video id -> fusion -> scores."""
    ids = video_ids(paths)
    streams = sorted({s for fusion in fusions for s in streams_for(fusion)}, key=["rgb", "flow"].index)
    results: list[Prediction] = []
    for batch in _batches(list(zip(paths, ids)), max(1, batch_videos)):
        fps, window_errors = ({}, {}) if windows is None else frame_rates({i: p for p, i in batch})
        reads = stream_reads(bundle.settings, streams, windows, fps, drawn=on_batch is not None)
        with tempfile.TemporaryDirectory(prefix="tclsta-predict-") as tmp:
            folder = Path(tmp)
            extracted = extract_videos([p for p, _ in batch], [i for _, i in batch], bundle.settings, folder, device,
                                       reads, "flow" in streams)
            caches, scored = _scored(bundle, extracted, streams, fusions, device, folder / "videos")
            if on_batch is not None and scored:
                on_batch(extracted.frames_root, caches, scored)
            spans = {} if windows is None else _window_scores(bundle, extracted, fps, streams, fusions, device,
                                                               windows, folder / "windows")
            for path, vid in batch:
                unread = extracted.bad.get(vid, "no frames extracted")
                reason = unread if vid not in scored else window_errors.get(vid, "")
                if reason:
                    log.error("%s: cannot be predicted (%s)", path, reason)
                results.append(Prediction(path, vid, scored.get(vid, {}), reason, spans.get(vid, [])))
    return results


def _best(scores: np.ndarray, class_names: Sequence[str]) -> dict[str, Any]:
    """The top-1 columns: prediction (label number), class_name, probability (its fused score)."""
    label = int(scores.argmax())
    return {"prediction": label, "class_name": class_names[label], "probability": float(scores[label])}


def prediction_table(results: Sequence[Prediction], class_names: Sequence[str], fusion: str,
                     method: str) -> pd.DataFrame:
    """``predictions.csv`` of one fusion: path, video_id, prediction (label number), class_name, probability
    (the fused score of that class), method (the ``metrics.json`` row); good videos only."""
    rows = [{"path": str(r.path), "video_id": r.video_id, **_best(r.scores[fusion], class_names), "method": method}
            for r in results if fusion in r.scores]
    return pd.DataFrame(rows, columns=["path", "video_id", "prediction", "class_name", "probability", "method"])


def _top(scores: np.ndarray, class_names: Sequence[str], k: int) -> list[dict[str, Any]]:
    best = np.argsort(-scores, kind="stable")[:k]
    return [{"label": int(j), "class_name": class_names[j], "probability": float(scores[j])} for j in best]


def top_k(result: Prediction, class_names: Sequence[str], k: int, fusion: str, method: str) -> dict[str, Any]:
    """One ``predictions.jsonl`` record: the top-k classes of one fusion and their scores (and each window's),
    or the error."""
    record: dict[str, Any] = {"path": str(result.path), "video_id": result.video_id, "method": method}
    if result.error:
        record["error"] = result.error
    if fusion not in result.scores:
        return record
    record["top_k"] = _top(result.scores[fusion], class_names, k)
    if result.windows:
        record["windows"] = [{"start": w.start, "end": w.end, "top_k": _top(w.scores[fusion], class_names, k)}
                             for w in result.windows]
    return record


def window_table(results: Sequence[Prediction], class_names: Sequence[str], fusion: str, method: str) -> pd.DataFrame:
    """``windows.csv``: one row per window (path, video_id, start, end in seconds, first_frame, stop_frame
    0-based, prediction, class_name, probability, method)."""
    rows = [{"path": str(r.path), "video_id": r.video_id, "start": w.start, "end": w.end,
             "first_frame": w.first_frame, "stop_frame": w.stop_frame, **_best(w.scores[fusion], class_names),
             "method": method} for r in results for w in r.windows]
    return pd.DataFrame(rows, columns=["path", "video_id", "start", "end", "first_frame", "stop_frame", "prediction",
                                       "class_name", "probability", "method"])
