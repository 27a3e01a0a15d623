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

from tclsta import paths
from tclsta.commands._arguments import add_results_arguments

NAME = "report"
HELP = "Markdown report with ablation tables and figures"
ORDER = 90


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_results_arguments(parser)
    parser.add_argument("--report-dir", help="folder for report.md and figures (default <output_dir>/report)")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    from tclsta.evaluation.report import run_report

    out = Path(args.output_dir or config["output_dir"])
    run_report(out, args.metrics or paths.metrics(out), args.predictions or paths.predictions(out),
               args.report_dir or paths.report_dir(out), config)
