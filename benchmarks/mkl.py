"""Fit time of the MKL fusion (tclsta.fusion.mkl.LpMKL) against the number of training videos.

Synthetic stream scores shaped like the real ones: two streams, C classes, each video's scores a
softmax of ``strength · onehot(label) + shared noise + own noise`` (the streams are correlated;
their argmax is right for ~80 % and ~86 % of the videos). Times ``LpMKL.fit`` (wall and CPU) per
size and rank, fits a power law ``t = a · n^k`` per rank to the sizes measured and extrapolates
to UCF101 split 1 (9,537 training videos) and THUMOS14 (~15,000). With ``--compare`` it also
fits the exact path (``rank: null``) once per size and reports how often each rank predicts the
same class as it on the test videos, and the largest θ difference.

    python benchmarks/mkl.py [--sizes 500 1000 2000] [--ranks 250 1000 none] [--compare]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from tclsta.fusion.mkl import LpMKL

TARGETS = {"UCF101 split 1": 9537, "THUMOS14": 15000}


def synthetic_scores(n: int, classes: int, rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray]:
    """Two streams' softmax scores ``[n, classes]`` and the labels ``[n]``."""
    labels = rng.integers(0, classes, n)
    shared = rng.normal(size=(n, classes))
    blocks = []
    for strength in (4.8, 5.2):
        logits = strength * np.eye(classes)[labels] + shared + rng.normal(size=(n, classes))
        logits = np.exp(logits - logits.max(axis=1, keepdims=True))
        blocks.append(logits / logits.sum(axis=1, keepdims=True))
    return blocks, labels


def timed_fit(model: LpMKL, blocks: list[np.ndarray], labels: np.ndarray, classes: int) -> tuple[float, float]:
    """Wall and CPU seconds of one fit."""
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(blocks, labels, classes)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000])
    parser.add_argument("--classes", type=int, default=101)
    parser.add_argument("--test", type=int, default=2000, help="test videos for the accuracy and agreement")
    parser.add_argument("--ranks", nargs="+", default=["1000"], help="Nyström ranks per kernel; none = exact")
    parser.add_argument("--compare", action="store_true", help="also fit the exact path once per size: agreement")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    ranks = [None if r.lower() in ("none", "null") else int(r) for r in args.ranks]
    test_blocks, test_labels = synthetic_scores(args.test, args.classes, np.random.default_rng(args.seed))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; C = {args.classes}, "
          f"{args.test} test videos")
    print(f"{'n':>6} {'rank':>5} {'wall s':>8} {'CPU s':>8} {'rounds':>6} {'acc':>6}"
          + (f" {'same pred':>9} {'max |Δθ|':>9}" if args.compare else ""))
    walls: dict[int | None, list[float]] = {rank: [] for rank in ranks}
    for n in args.sizes:
        blocks, labels = synthetic_scores(n, args.classes, np.random.default_rng(args.seed + n))
        exact = LpMKL(rank=None) if args.compare else None
        for rank, model in [(None, exact)] * args.compare + [(rank, LpMKL(rank=rank)) for rank in ranks]:
            wall, cpu = timed_fit(model, blocks, labels, args.classes)
            predicted = model.decision_function(test_blocks).argmax(axis=1)
            line = (f"{n:>6} {str(rank):>5} {wall:>8.1f} {cpu:>8.1f} {len(model.history) - 1:>6} "
                    f"{np.mean(predicted == test_labels):>6.3f}")
            if exact is not None:
                reference = exact.decision_function(test_blocks).argmax(axis=1)
                line += f" {np.mean(reference == predicted):>9.4f} {np.abs(exact.theta - model.theta).max():>9.2e}"
            if rank in walls:
                walls[rank].append(wall)
            print(line, flush=True)
    for rank, times in walls.items():
        if len(times) > 1:
            power, offset = np.polyfit(np.log(args.sizes), np.log(times), 1)
            for name, n in TARGETS.items():
                estimate = np.exp(offset) * n**power
                print(f"rank {rank}: t ∝ n^{power:.2f}, {name} (n = {n:,}) ≈ {estimate:,.0f} s wall")


if __name__ == "__main__":
    main()
