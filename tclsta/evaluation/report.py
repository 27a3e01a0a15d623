"""The ``report`` stage: ``<output_dir>/report/report.md`` with the ablation tables and figures.

Reads ``metrics.json`` and the predictions CSV (from ``evaluate``), the AWL weights, one
feature cache for the attention figure and the RGB frames; writes the Markdown report
next to ``confusion.png`` (Fig. 5), ``attention.png`` (Fig. 7) and ``fusion_weights.png``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from tclsta.atomic import atomic_write_text
from tclsta.errors import DatasetError
from tclsta import paths
from tclsta.evaluation.evaluate import ATTENTION_SUFFIX, FRAME_HEAD_ONLY, HELDOUT_METHODS, PAPER_METHODS, two_stream_name
from tclsta.evaluation.figures import attention_figure, confusion_figure, reliability_figure, weights_figure
from tclsta.evaluation.metrics import confusion_matrix
from tclsta.features.cache import FeatureCache, open_feature_cache
from tclsta.fusion.awl import read_weights
from tclsta.fusion.solve import SOURCES, fit_record_path, read_fit_record

log = logging.getLogger(__name__)

FIGURES = {"confusion": "confusion.png", "attention": "attention.png", "weights": "fusion_weights.png",
           "reliability": "reliability.png"}


def read_metrics(path: str | Path) -> dict[str, Any]:
    """Load ``metrics.json``."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise DatasetError(f"{path}: cannot read the metrics file ({err}); run evaluate first") from err


def markdown_table(rows: dict[str, Any], names: list[str], splits: list[int], metric: str) -> str:
    """A Markdown table of the given rows: one column per split and the mean."""
    header = "| Method | " + " | ".join(f"split {s}" for s in splits) + f" | mean {metric} |"
    lines = [header, "|" + "---|" * (len(splits) + 2)]
    for name in names:
        if name in rows:
            row = rows[name]
            cells = [f"{row['splits'][str(s)]:.3f}" for s in splits]
            lines.append(f"| {name} | " + " | ".join(cells) + f" | **{row['mean']:.3f}** |")
    return "\n".join(lines)


def table_rows(names: list[str], cln_attention: str) -> dict[str, list[str]]:
    """Which rows go into the paper's Tables VI, VII and VIII, and into ours (fitted on held-out groups)."""
    def row(method: str) -> str:
        return two_stream_name(cln_attention, method)

    fusion = {row(m) for m in (*PAPER_METHODS, *HELDOUT_METHODS)}
    return {
        "Table VI — attention ablation (two-stream = mean of softmax scores; \"(frame head only)\": the "
        "control scored by the frame head alone, as the stream without attention is)":
            [n for n in names if n not in fusion],
        "Table VII — static-motion collaborative model":
            [two_stream_name(cln_attention)] + [row(m) for m in ("CLN", "AWL", "CLN + AWL")],
        "Table VIII — fusion methods": [row(m) for m in ("Late", "Early", "MKL", "AWL")],
        "Ours — fusion fitted on the streams' held-out groups (fusion.heldout), scores temperature-scaled "
        "(fusion.calibrate)": [row(m) for m in ("Late", "Early", *HELDOUT_METHODS)],
    }


def orderings(rows: dict[str, Any], cln_attention: str) -> list[str]:
    """The paper's claimed orderings and our targets, each stated as holding or not on this run (mean values)."""
    def mean(name: str) -> float | None:
        return rows[name]["mean"] if name in rows else None

    checks = []
    for stream in ("Frame", "Optical flow", "Two-stream"):
        none = mean(stream)
        for sta in (f"{stream} + STA", f"{stream} + STA{FRAME_HEAD_ONLY}"):
            if none is not None and mean(sta) is not None:
                checks.append((f"{sta} > {stream}", mean(sta), none, ">"))
    sfx = ATTENTION_SUFFIX[cln_attention]
    two = mean(f"Two-stream{sfx}")
    singles = [f"{single}{sfx}" for single in ("Frame", "Optical flow") if mean(f"{single}{sfx}") is not None]
    for single in singles:
        if two is not None:
            checks.append((f"Two-stream{sfx} > {single}", two, mean(single), ">"))
    late = mean(two_stream_name(cln_attention, "Late"))
    for method in ("Early", "MKL", "CLN", "AWL", "CLN + AWL", *HELDOUT_METHODS):
        value = mean(two_stream_name(cln_attention, method))
        if late is not None and value is not None:
            checks.append((f"{two_stream_name(cln_attention, method)} ≥ Late", value, late, "≥"))
    for method in ("CLN + AWL", "CLN + AWL [held-out]"):
        value = mean(two_stream_name(cln_attention, method))
        for single in singles:
            if value is not None:
                checks.append((f"{two_stream_name(cln_attention, method)} ≥ {single}", value, mean(single), "≥"))
    early = mean(two_stream_name(cln_attention, "Early"))
    baselines = ("Late [calibrated]", "MKL [held-out]")
    tclsta = {n: mean(n) for m in ("CLN", "AWL", "CLN + AWL", *HELDOUT_METHODS)
              if m not in baselines and mean(n := two_stream_name(cln_attention, m)) is not None}
    if early is not None and tclsta:
        best = max(tclsta, key=tclsta.get)
        checks.append((f"best TCLSTA row ({best}) within 0.05 of Early or above", tclsta[best], early - 0.05, "≥"))
    lines = []
    for claim, a, b, relation in checks:
        holds = a > b if relation == ">" else a >= b - 1e-12
        lines.append(f"- {claim}: {'holds' if holds else 'does not hold'} ({a:.3f} vs {b:.3f})")
    return lines


def chance_section(predictions: pd.DataFrame, num_classes: int) -> list[str]:
    """Each single stream's test accuracy against chance (1 / classes), with a one-sided binomial test."""
    from scipy.stats import binomtest

    chance = 1.0 / num_classes
    lines = [f"Chance is 1/{num_classes} = {chance:.3f}. p: one-sided binomial test of "
             "'better than chance' over all test videos of the splits run.", "",
             "| Stream | accuracy | above chance | p |", "|---|---|---|---|"]
    for method, rows in predictions.groupby("method", sort=False):
        if method.startswith("Two-stream"):
            continue
        correct = int((rows["label"] == rows["prediction"]).sum())
        accuracy = correct / len(rows)
        p = binomtest(correct, len(rows), chance, alternative="greater").pvalue
        lines.append(f"| {method} | {accuracy:.3f} ({correct}/{len(rows)}) | {accuracy - chance:+.3f} "
                     f"({accuracy / chance:.1f}× chance) | {p:.2g} |")
    return lines


def diagnostics_section(diagnostics: dict[str, Any], split: str) -> list[str]:
    """Markdown: calibration of each stream, the CLN's fit vs test accuracy, AWL's per-class choices."""
    lines = [f"Split {split}. Roles: *train* = training videos the streams fitted, *holdout* = the streams' held-out "
             "groups (never fitted; they only lowered the learning rate), *test* = test videos. NLL: mean negative "
             "log-likelihood; ECE: expected calibration error over 10 confidence bins; scaled: after temperature "
             "scaling fitted on the held-out videos.", "",
             "| Stream | train acc / NLL / ECE | holdout acc / NLL / ECE | test acc / NLL / ECE | T | test NLL / ECE scaled |",
             "|---|---|---|---|---|---|"]

    def cell(entry: dict[str, Any] | None) -> str:
        return "–" if entry is None else f"{entry['accuracy']:.3f} / {entry['nll']:.3f} / {entry['ece']:.3f}"

    for stream, entry in diagnostics["streams"].items():
        scaled = entry.get("test_scaled")
        scaled_cell = "–" if scaled is None else f"{scaled['nll']:.3f} / {scaled['ece']:.3f}"
        temperature = f"{entry['temperature']:.3g}" if "temperature" in entry else "–"
        lines.append(f"| {stream} | {cell(entry.get('train'))} | {cell(entry.get('holdout'))} | "
                     f"{cell(entry.get('test'))} | {temperature} | {scaled_cell} |")
    lines += ["", f"![reliability diagram]({FIGURES['reliability']})", "",
              "The CLN's accuracy on the videos it fitted and on the test videos:", "",
              "| CLN | " + " | ".join(("train", "holdout", "test")) + " |", "|---|---|---|---|"]
    for variant, accuracy in diagnostics["cln"].items():
        lines.append(f"| {variant} | " + " | ".join(f"{accuracy[r]:.3f}" if r in accuracy else "–"
                                                   for r in ("train", "holdout", "test")) + " |")
    for source, classes in diagnostics["awl"].items():
        streams = list(classes[0]["test_accuracy"]) if classes else []
        lines += ["", f"AWL ({source} scores): the stream each class's LP chose, against each stream's test "
                  "accuracy on that class.", "", "| Class | chosen | " + " | ".join(f"{s} test acc" for s in streams)
                  + " |", "|---|---|" + "---|" * len(streams)]
        for row in classes:
            lines.append(f"| {row['class']} | {row['chosen']} | " + " | ".join(
                "–" if row["test_accuracy"][s] is None else f"{row['test_accuracy'][s]:.2f}" for s in streams) + " |")
    return lines


def final_method(names: list[str], cln_attention: str) -> str:
    """The full method's row (CLN + AWL) when present, else the last row."""
    full = two_stream_name(cln_attention, "CLN + AWL")
    return full if full in names else names[-1]


def attention_cache_path(out: Path, config: dict[str, Any]) -> Path:
    """The RGB cache of the first split with the CLN's attention mode (else the first mode run)."""
    split = config["dataset"]["splits"][0]
    modes = [config["cln"]["attention"]] + [a for a in config["stream"]["attentions"] if a != config["cln"]["attention"]]
    stream = "rgb" if "rgb" in config["stream"]["streams"] else config["stream"]["streams"][0]
    for mode in modes:
        path = paths.feature_cache(out, split, stream, mode)
        if path.is_file():
            return path
    raise DatasetError(f"{paths.feature_cache(out, split, stream, modes[0])}: no feature cache for the attention figure")


def pick_videos(cache: FeatureCache, count: int) -> list[int]:
    """Up to ``count`` test videos of different classes (first test video of each class, in class order)."""
    test = cache.subset("test")
    chosen: dict[int, int] = {}
    for v in test:
        chosen.setdefault(int(cache.labels[v]), int(v))
    return [chosen[c] for c in sorted(chosen)][:count]


def attention_metrics_table(section: dict[str, dict[str, Any]]) -> list[str]:
    """Markdown table of ``metrics.json``'s ``attention`` section (spatial pointing, temporal mass)."""
    if not section:
        return ["No attention ground truth in this dataset (annotations/boxes.csv or THUMOS14 temporal "
                "annotations): attention is shown, not measured."]

    def pair(value: float | None, base: float | None) -> list[str]:
        if value is None or base is None:
            return ["–", "–", "–"]
        return [f"{value:.3f}", f"{base:.3f}", f"{value / base:.1f}×" if base > 0 else "–"]

    lines = ["Spatial pointing: fraction of annotated sampled test frames whose arg-max cell of m̃ "
             "(mapped back to source pixels) falls in the actor's box grown by half a cell; chance: the "
             "grown box's mean area fraction of the crop. Temporal mass: Σ softmax(γ) over the sampled "
             "frames inside the annotated action; uniform: the fraction of sampled frames inside. Within one cell: "
             "the fraction of frames whose peak lies at most one cell outside the grown box (hits included).", "",
             "| Stream | spatial pointing | chance | ratio | within one cell | temporal mass | uniform | ratio | videos |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, entry in section.items():
        near = entry.get("spatial_within_one_cell")
        cells = pair(entry["spatial_pointing"], entry["spatial_pointing_chance"]) + \
            ["–" if near is None else f"{near:.3f}"] + pair(entry["temporal_mass"], entry["temporal_mass_uniform"])
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {entry['videos']} |")
    return lines


def weights_section(weights: dict[str, tuple[np.ndarray, list[str]]], class_names: list[str],
                    epsilons: dict[str, float]) -> str:
    """Markdown: how many classes sit at a vertex, which stream each source prefers, and the weights per class."""
    lines = []
    for source, (w, streams) in weights.items():
        epsilon = epsilons[source]
        vertex = np.isclose(w.max(axis=1), 1 - (len(streams) - 1) * epsilon, atol=1e-6)
        preferred = ", ".join(f"{s} for {int(np.sum(w.argmax(axis=1) == k))}" for k, s in enumerate(streams))
        lines.append(f"- {source} scores (ε = {epsilon:g}): {int(vertex.sum())} of {len(w)} classes at a vertex "
                     f"(all weight but the floor on one stream); preferred stream: {preferred} classes.")
    if len(class_names) <= 60:
        sources = list(weights)
        lines += ["", "| Class | " + " | ".join(f"{s}: " + " / ".join(f"w_{t}" for t in weights[s][1])
                                                for s in sources) + " |", "|---|" + "---|" * len(sources)]
        for j, name in enumerate(class_names):
            lines.append(f"| {name} | " + " | ".join(
                " / ".join(f"{v:.3f}" for v in weights[s][0][j]) for s in sources) + " |")
    return "\n".join(lines)


def run_report(out: str | Path, metrics_path: str | Path, predictions_path: str | Path, report_dir: str | Path,
               config: dict[str, Any]) -> Path:
    """Write ``report.md`` and its figures into ``report_dir``; returns the Markdown path."""
    out, report_dir = Path(out), Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    metrics = read_metrics(metrics_path)
    try:
        predictions = pd.read_csv(predictions_path)
    except (OSError, ValueError) as err:
        raise DatasetError(f"{predictions_path}: cannot read the predictions ({err}); run evaluate first") from err
    names, splits, metric = list(metrics["rows"]), metrics["splits"], metrics["metric"]
    class_names = metrics["class_names"]
    cln_attention = config["cln"]["attention"]

    final = final_method(names, cln_attention)
    chosen = predictions[predictions["method"] == final]
    matrix = confusion_matrix(chosen["label"].to_numpy(), chosen["prediction"].to_numpy(), len(class_names))
    confusion_figure(report_dir / FIGURES["confusion"], matrix, class_names,
                     f"{final} — test videos of split(s) {', '.join(map(str, splits))}")

    split = splits[0]
    weights = {source: read_weights(paths.awl_weights(out, split, source), class_names)
               for source in SOURCES if paths.awl_weights(out, split, source).is_file()}
    epsilons = {source: read_fit_record(fit_record_path(paths.awl_weights(out, split, source))).epsilon
                for source in weights}
    weights_figure(report_dir / FIGURES["weights"], class_names, {s: w for s, (w, _) in weights.items()})
    diagnostics = metrics.get("diagnostics", {}).get(str(split))
    reliability_figure(report_dir / FIGURES["reliability"], diagnostics["streams"] if diagnostics else {})

    cache_path = attention_cache_path(out, config)
    with open_feature_cache(cache_path) as cache:  # the figure reads a few videos' maps, not the whole cache
        videos = pick_videos(cache, config["report"]["attention_videos"]) or [0]
        missing = attention_figure(report_dir / FIGURES["attention"], cache, videos, out / "frames",
                                   config["report"]["attention_frames"])
        has_maps = cache.spatial_maps is not None

    sections = [f"# TCLSTA results — {metrics['dataset']}", "",
                f"Measure: **{metric}** on the test videos ({'mean average precision over classes' if metric == 'mAP' else 'top-1 accuracy'}), "
                f"splits {', '.join(map(str, splits))}; the last column is the mean over splits.", ""]
    for title, rows in table_rows(names, cln_attention).items():
        sections += [f"## {title}", "", markdown_table(metrics["rows"], rows, splits, metric), ""]
    if "top5" in metrics:  # metrics.json written before top-5 was added has none
        sections += ["## Top-5 accuracy (beside top-1)", "",
                     markdown_table(metrics["top5"]["rows"], names, splits, "top-5 accuracy"), ""]
    sections += ["## Each stream against chance", "", *chance_section(predictions, len(class_names)), "",
                 "## The paper's orderings and our targets on this run", "", *orderings(metrics["rows"], cln_attention), "",
                 f"## Other measure: {metrics['secondary']['metric']}", "",
                 markdown_table(metrics["secondary"]["rows"], names, splits, metrics["secondary"]["metric"]), "",
                 f"## Confusion matrix (Fig. 5) — {final}", "", f"![confusion matrix]({FIGURES['confusion']})", "",
                 f"## Adaptively weighted learning: fusion weights per class (split {split})", "",
                 "Each class's weights solve a linear programme whose optimum lies at a vertex of the "
                 "simplex: all weight (but the floor ε) goes to the stream with the larger objective, "
                 "unless the two objectives tie.", "",
                 weights_section(weights, class_names, epsilons), "",
                 f"![fusion weights]({FIGURES['weights']})", ""]
    if diagnostics:
        sections += ["## Diagnostics: calibration, fit vs test, AWL's choices", "",
                     *diagnostics_section(diagnostics, str(split)), ""]
    sections += ["## Spatial-temporal attention (Fig. 7)", "",
                 f"From `{cache_path.relative_to(out) if cache_path.is_relative_to(out) else cache_path}`: "
                 "heatmaps of the spatial attention m̃ over the RGB frames "
                 f"({'present' if has_maps else 'absent in this cache: frames only'}), "
                 "and the temporal weights softmax(γ) over the sampled frames (red: the frames shown).", ""]
    if missing:
        sections += [f"RGB frames missing for {', '.join(missing)} (grey panels).", ""]
    sections += [f"![attention]({FIGURES['attention']})", "",
                 "### Does attention attend? (test videos against the ground truth)", "",
                 *attention_metrics_table(metrics.get("attention", {})), "", "## Configuration of this run", "", "```yaml",
                 yaml.safe_dump(config, sort_keys=False).rstrip(), "```", ""]
    report = report_dir / "report.md"
    atomic_write_text(report, "\n".join(sections))
    log.info("report written to %s", report)
    return report
