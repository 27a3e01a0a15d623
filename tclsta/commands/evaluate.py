"""Evaluate every ablation row of the paper's Tables VI–VIII on the test videos.

Reads the feature caches of every configured split × stream × attention, the CLN scores
and the AWL weights below the output folder; computes accuracy (UCF101, HMDB51, UCF50,
synthetic) or mAP (THUMOS14) per split and their mean, trains the early-fusion SVM, and
writes <output_dir>/metrics.json (rows named as the paper's tables, e.g.
"Two-stream + STA + CLN + AWL") and <output_dir>/evaluation/predictions.csv.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

NAME = "evaluate"
HELP = "metrics of every stream and fusion method (metrics.json)"
ORDER = 80


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output-dir", help="the run's output folder to read (default: output_dir)")
    parser.add_argument("--metrics", help="metrics JSON (default <output_dir>/metrics.json)")
    parser.add_argument("--predictions", help="per-video predictions CSV (default <output_dir>/evaluation/predictions.csv)")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    from tclsta.evaluation.evaluate import run_evaluate

    out = Path(args.output_dir or config["output_dir"])
    run_evaluate(out, args.metrics or out / "metrics.json",
                 args.predictions or out / "evaluation" / "predictions.csv", config)
