"""Evaluate every ablation row of the paper's Tables VI–VIII on the test videos.

Reads the manifest, the feature caches of every configured split × stream × attention, the
CLN scores and the AWL weights below the output folder; computes accuracy (UCF101, HMDB51,
UCF50, synthetic) or mAP (THUMOS14) per split and their mean, trains the early-fusion SVM and
the MKL fusion, and writes <output_dir>/metrics.json (rows named as the paper's tables, e.g.
"Two-stream + STA + CLN + AWL", ours tagged "[held-out]"; calibration and fit-vs-test
diagnostics), <output_dir>/evaluation/predictions.csv and fitted_on.json (the videos the SVM
and MKL were fitted on).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tclsta import paths
from tclsta.commands._arguments import add_results_arguments

NAME = "evaluate"
HELP = "metrics of every stream and fusion method (metrics.json)"
ORDER = 80


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_results_arguments(parser)


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    from tclsta.evaluation.evaluate import run_evaluate

    out = Path(args.output_dir or config["output_dir"])
    run_evaluate(out, args.metrics or paths.metrics(out), args.predictions or paths.predictions(out), config)
