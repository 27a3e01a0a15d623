"""A synthetic data set under other labels: the same videos, classed by their colour or their motion only.

    python benchmarks/relabel.py results/synthetic-translate/dataset relabelled/colour --by colour
    snakemake --cores 2 --configfile presets/synthetic-translate.yaml \\
        --config output_dir=relabelled/colour-run dataset='{format: ucf101, root: relabelled/colour}'

Writes a UCF101 layout (``<Class>/<video>.avi``, ``ucfTrainTestlist/``, ``annotations/boxes.csv``)
whose classes are the source classes' colours (``--by colour``) or motions (``--by motion``);
the videos are hard links (copies across file systems), the splits and boxes those of the source.
The README's label control ("The labels decide it") trains the streams on such copies: spatial
attention attends when the labels are what the stream can see.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import shutil
from pathlib import Path

from tclsta.data.synthetic import class_specs

log = logging.getLogger("relabel")
LISTS = "ucfTrainTestlist"


def new_classes(source: Path, by: str) -> dict[str, str]:
    """Source class name → new class name, from the source's ``synthetic.json`` settings."""
    settings = json.loads((source / "synthetic.json").read_text())["settings"]
    specs = class_specs(settings["num_classes"], settings["motion"])
    return {s.name: s.motion if by == "motion" else s.name[: -len(s.motion)] for s in specs}


def relabel(source: Path, target: Path, by: str) -> list[str]:
    """Write the relabelled copy of ``source`` to ``target`` (must not exist); returns its classes."""
    mapping = new_classes(source, by)
    classes = list(dict.fromkeys(mapping.values()))
    target.mkdir(parents=True)

    def moved(path: str) -> str:
        cls, name = path.split("/")
        return f"{mapping[cls]}/{name}"

    for old, new in mapping.items():
        (target / new).mkdir(exist_ok=True)
        for video in sorted((source / old).iterdir()):
            link = target / new / video.name
            try:
                os.link(video, link)
            except OSError:
                shutil.copy2(video, link)
    number = {cls: i + 1 for i, cls in enumerate(classes)}  # classInd.txt is 1-based
    (target / LISTS).mkdir()
    (target / LISTS / "classInd.txt").write_text("".join(f"{n} {cls}\n" for cls, n in number.items()))
    for split_file in sorted((source / LISTS).glob("*list0*.txt")):
        rows = []
        for line in split_file.read_text().splitlines():
            if line.strip():
                path = moved(line.split()[0])
                rows.append(f"{path} {number[path.split('/')[0]]}" if split_file.name.startswith("train") else path)
        (target / LISTS / split_file.name).write_text("\n".join(rows) + "\n")
    (target / "annotations").mkdir()
    with open(source / "annotations" / "boxes.csv", newline="") as src:
        reader = csv.DictReader(src)
        fields, boxes = reader.fieldnames, [{**row, "path": moved(row["path"])} for row in reader]
    with open(target / "annotations" / "boxes.csv", "w", newline="") as dst:
        writer = csv.DictWriter(dst, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(boxes)
    return classes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="a synthetic data set (<output_dir>/dataset)")
    parser.add_argument("target", type=Path, help="the new data set's folder (must not exist)")
    parser.add_argument("--by", choices=("colour", "motion"), required=True, help="what the new classes are")
    args = parser.parse_args()
    if not (args.source / "synthetic.json").is_file():
        parser.error(f"{args.source}: no synthetic.json, not a data set written by `tclsta synthesize`")
    if args.target.exists():
        parser.error(f"{args.target}: already exists; give a new folder")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    classes = relabel(args.source, args.target, args.by)
    log.info("%s: %d classes (%s)", args.target, len(classes), ", ".join(classes))


if __name__ == "__main__":
    main()
