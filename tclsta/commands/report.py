"""Write the run's report: <output_dir>/report/report.md with figures.

Ablation tables (paper Tables VI–VIII) from metrics.json, a statement of which of the
paper's orderings hold, the confusion matrix of the full method (Fig. 5), per-class AWL
fusion weights, spatial-temporal attention of a few test videos over their RGB frames
(Fig. 7) and the run's configuration.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

NAME = "report"
HELP = "Markdown report with ablation tables and figures"
ORDER = 90


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output-dir", help="the run's output folder to read (default: output_dir)")
    parser.add_argument("--metrics", help="metrics JSON (default <output_dir>/metrics.json)")
    parser.add_argument("--predictions", help="predictions CSV (default <output_dir>/evaluation/predictions.csv)")
    parser.add_argument("--report-dir", help="folder for report.md and figures (default <output_dir>/report)")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    from tclsta.evaluation.report import run_report

    out = Path(args.output_dir or config["output_dir"])
    run_report(out, args.metrics or out / "metrics.json",
               args.predictions or out / "evaluation" / "predictions.csv",
               args.report_dir or out / "report", config)
