"""Verify the extracted frames of a run; with --repair, make the workflow extract the damaged ones again.

Checks every video the frame index lists as ok: its folder's frames.json, that every RGB and
flow JPEG it announces exists, has the byte size recorded when it was written, and starts and
ends with the JPEG markers (SOI FF D8, EOI FF D9). Two small reads per file, no decode: a
missing, truncated or overwritten file is found, damage inside a JPEG of unchanged size is not.
Also lists temporary files and folders left by killed jobs (.<name>.<random>.<pid>@<host>.tmp).

Exit status 1 when something is damaged. --repair removes the damaged video folders, the
extraction shard tables that list them and the stale temporaries; a rerun of the workflow
(`snakemake ...`) then extracts exactly those videos again (complete ones are skipped) and
redoes the stages after extraction.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
from pathlib import Path
from typing import Any

NAME = "verify"
HELP = "check every extracted video's JPEGs (count, size, markers); --repair to extract damaged ones again"
ORDER = 36

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames-index", help="frame index CSV (default <output_dir>/frames_index.csv)")
    parser.add_argument("--frames", help="frames folder (default <output_dir>/frames)")
    parser.add_argument("--extract-dir", help="folder of the shard tables (default <output_dir>/extract)")
    parser.add_argument("--repair", action="store_true",
                        help="remove damaged folders, the shard tables listing them and stale temporaries")


def stale_temporaries(out: Path, frames: Path) -> list[Path]:
    """Temporaries of killed jobs in the run's folders (the video folders themselves are not searched)."""
    from tclsta import atomic

    found: set[Path] = set()
    for top in [out] + ([] if frames.is_relative_to(out) else [frames]):  # out's walk reaches a frames below it
        for folder, subfolders, _ in os.walk(top):
            found.update(atomic.stale_temporaries(folder))
            subfolders[:] = [] if Path(folder) == frames else [d for d in subfolders if not d.startswith(".")]
    return sorted(found)


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    from tclsta import paths
    from tclsta.atomic import remove_temporary
    from tclsta.data import layout
    from tclsta.data.frame_index import read_index_table
    from tclsta.data.verify import damaged_summary, verify_index
    from tclsta.errors import DamagedFramesError

    out = Path(config["output_dir"])
    frames = Path(args.frames or paths.frames_root(out))
    index = verify_index(read_index_table(args.frames_index or paths.frames_index(out)), frames)
    damaged = index[index["status"] == DamagedFramesError.status]["video_id"].tolist()
    leftovers = stale_temporaries(out, frames)
    log.info("%d extracted videos verified, %d damaged; %d temporaries of killed jobs",
             int((index["status"] == "ok").sum()) + len(damaged), len(damaged), len(leftovers))
    if not args.repair:
        for path in leftovers:
            log.info("stale temporary: %s", path)
        if damaged:
            raise DamagedFramesError(f"{frames}: {len(damaged)} damaged video folders (rerun with --repair):\n"
                                     + damaged_summary(index))
        return
    for path in leftovers:
        remove_temporary(path)
    if not damaged:
        return
    for video_id in damaged:
        shutil.rmtree(layout.video_dir(frames, video_id), ignore_errors=True)
    shards = sorted(Path(args.extract_dir or out / "extract").glob("shard_*.tsv"))
    stale = [p for p in shards if set(read_index_table(p)["video_id"]) & set(damaged)]
    for path in stale:
        path.unlink()
    log.warning("removed %d damaged video folders and the shard tables %s; run the workflow again to extract "
                "them again", len(damaged), [p.name for p in stale])
