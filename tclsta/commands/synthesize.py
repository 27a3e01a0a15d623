"""Write the synthetic miniature dataset: real .avi videos and UCF101-style split files.

Classes are (actor colour) x (motion: spin direction, or with synthetic.motion=translate one of
four translation directions): one RGB frame shows the colour but not the
direction, optical flow shows the direction but not the colour (all colours share one grey
value), so only the two streams together can reach 100 %. The actor is small among textured
clutter and distractors and present only in a random window of the clip. Settings come from
the config section `synthetic`; the design is documented in tclsta/data/synthetic.py. The
actor's box per frame of the action goes to annotations/boxes.csv (attention ground truth).

Example: tclsta synthesize --config config.yaml --out results/synthetic/dataset
"""

from __future__ import annotations

import argparse
from typing import Any

NAME = "synthesize"
HELP = "write the synthetic dataset (videos + UCF101-style split files)"
ORDER = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--out DIR``: the dataset folder (replaced as a whole when complete)."""
    parser.add_argument("--out", required=True, metavar="DIR", help="dataset folder to write")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    """Generate the dataset described by ``config['synthetic']`` into ``args.out``."""
    from tclsta.data.synthetic import synthesize

    synthesize(args.out, config["synthetic"])
