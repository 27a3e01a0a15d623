"""The README's results table: test accuracy of every row over several runs (seeds), with their spread.

    python benchmarks/seeds_table.py default=results/s0/metrics.json,results/s1/metrics.json \\
                                     translate=results/t0/metrics.json,results/t1/metrics.json

Each argument is ``NAME=metrics.json,metrics.json,…`` (one data set, one file per seed). Prints a
Markdown table: per data set each seed's value, then mean ± sample standard deviation and
[min, max]; then, per data set, how many seeds each of issue 10's targets holds on.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROW = "Two-stream + STA + {}"
TARGETS = {
    "CLN ≥ Late": ("CLN", ["Late"]),
    "CLN + AWL ≥ Late, Frame + STA, Optical flow + STA": ("CLN + AWL", ["Late", "Frame + STA", "Optical flow + STA"]),
    "CLN [held-out] ≥ Late": ("CLN [held-out]", ["Late"]),
    "CLN + AWL [held-out] ≥ Late, Frame + STA, Optical flow + STA":
        ("CLN + AWL [held-out]", ["Late", "Frame + STA", "Optical flow + STA"]),
}
TCLSTA = ("CLN", "AWL", "CLN + AWL", "AWL [held-out]", "CLN [held-out]", "CLN + AWL [held-out]")  # not the baselines


def value(rows: dict, name: str) -> float:
    """A row's mean over splits; ``name`` is a full row name or a fusion method."""
    return rows[name]["mean"] if name in rows else rows[ROW.format(name)]["mean"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="+", help="NAME=metrics.json,metrics.json,…")
    args = parser.parse_args()
    runs, labels = {}, {}
    for item in args.datasets:
        name, files = item.split("=", 1)
        runs[name] = [json.loads(Path(f).read_text())["rows"] for f in files.split(",")]
        labels[name] = [Path(f).parent.name for f in files.split(",")]
    names = list(next(iter(runs.values()))[0])
    header = "| row | " + " | ".join(
        " / ".join(labels[d]) + f" | {d} mean ± sd [min, max]" for d in runs)
    print(header + " |")
    print("|---|" + "---|---|" * len(runs))
    for row in names:
        cells = []
        for rows in runs.values():
            values = np.array([r[row]["mean"] for r in rows])
            cells += [" / ".join(f"{v:.3f}" for v in values),
                      f"{values.mean():.3f} ± {values.std(ddof=1) if len(values) > 1 else 0:.3f} "
                      f"[{values.min():.3f}, {values.max():.3f}]"]
        print(f"| {row} | " + " | ".join(cells) + " |")
    print()
    for dataset, rows_list in runs.items():
        print(f"{dataset}:")
        for label, (method, others) in TARGETS.items():
            held = [all(value(r, method) >= value(r, o) - 1e-9 for o in others) for r in rows_list]
            print(f"  {label}: {sum(held)} of {len(held)} seeds")
        gaps = [max(value(r, m) for m in TCLSTA if ROW.format(m) in r) - value(r, "Early") for r in rows_list]
        print(f"  best TCLSTA row − Early: {', '.join(f'{g:+.3f}' for g in gaps)} "
              f"(within 0.05 or above on {sum(g >= -0.05 for g in gaps)} of {len(gaps)} seeds)")


if __name__ == "__main__":
    main()
