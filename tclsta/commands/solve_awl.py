"""Adaptively weighted learning (paper Eq. 10–14): one linear programme per class.

Solves, for each class j, max W_j·(Σ_{i∈j} S_i[:, j] − λ Σ_{i∉j} S_i[:, j]) subject to
Σ w = 1, w ≥ ε (awl.lambda_, awl.epsilon) with scipy's HiGHS.
--source stream / cln: the streams' own scores / the paper CLN's, LP on every training video
(the paper). --source stream_heldout / cln_heldout (ours): the streams' scores / the held-out
CLN's (its fused head as a third stream), LP only on the streams' held-out groups (from
--manifest), scores temperature-scaled there first (fusion.calibrate), ε chosen among
awl.heldout_epsilons and 1/S by leave-one-group-out. Writes weights.csv (class_name,
w_static, w_motion[, w_fused]) and fit.json (videos fitted on, temperatures, λ, ε), by default
<output_dir>/awl/split<N>/<source>/. The optimum of each LP is a vertex: all weight but ε on
one stream, except at ties.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tclsta import paths
from tclsta.commands._arguments import add_cache_pair_arguments, add_split_argument

NAME = "solve-awl"
HELP = "per-class fusion weights of the two streams (one LP per class)"
ORDER = 70
SOURCES = ["stream", "cln", "stream_heldout", "cln_heldout"]  # tclsta.fusion.solve.SOURCES (imported lazily)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_split_argument(parser)
    parser.add_argument("--source", choices=SOURCES, required=True,
                        help="stream(_heldout): the stream networks' own scores; cln(_heldout): the (held-out) CLN's")
    parser.add_argument("--scores", help="--source cln(_heldout): CLN scores "
                        "(default <output_dir>/cln/split<N>/<paper|heldout>/scores.h5)")
    add_cache_pair_arguments(parser, note="--source stream(_heldout): ")
    parser.add_argument("--manifest", help="--source *_heldout: manifest CSV (default <output_dir>/manifest.csv)")
    parser.add_argument("--output", help="weights CSV (default <output_dir>/awl/split<N>/<source>/weights.csv)")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    from tclsta.fusion.solve import run_solve_awl

    out, attention = Path(config["output_dir"]), config["cln"]["attention"]
    variant = "heldout" if args.source.endswith("heldout") else "paper"
    run_solve_awl(args.output or paths.awl_weights(out, args.split, args.source), config, source=args.source,
                  cln_scores=args.scores or paths.cln_scores(out, args.split, variant),
                  static=args.static or paths.feature_cache(out, args.split, "rgb", attention),
                  motion=args.motion or paths.feature_cache(out, args.split, "flow", attention),
                  manifest=args.manifest or paths.manifest(out))
