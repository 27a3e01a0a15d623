"""The frame index: which videos were extracted (and which could not be), from the shard tables."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from tclsta.atomic import atomic_path, atomic_write_text
from tclsta.data.manifest import read_manifest
from tclsta.data.verify import damaged_summary, verify_index
from tclsta.errors import DamagedFramesError, DatasetError

INDEX_COLUMNS = ["video_id", "n_frames", "n_flow", "status", "error"]


def read_index_table(path: str | Path) -> pd.DataFrame:
    """Read a shard table or the frame index (TSV for shards, CSV for the index)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: not found (run extraction first)")
    table = pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",", dtype={"video_id": str, "error": str},
                        keep_default_na=False)
    missing = [c for c in INDEX_COLUMNS if c not in table.columns]
    if missing:
        raise DatasetError(f"{path}: missing columns {missing}")
    return table[INDEX_COLUMNS]


def merge_shards(shard_tables: Iterable[str | Path], index_out: str | Path, bad_out: str | Path,
                 frames_root: str | Path, skip_bad: bool = True, missing: str | Path | None = None) -> pd.DataFrame:
    """Concatenate shard tables into the frame index; list unusable videos in ``bad_out``.

    ``missing`` (``tclsta manifest --missing``) lists videos missing from disk; they head ``bad_out``.

    Every extracted video's folder under ``frames_root`` is verified first
    (:func:`tclsta.data.verify.verify_index`); a damaged one is marked ``damaged`` and left
    out, or, unless ``skip_bad``, stops with an error naming its files.
    """
    tables = [read_index_table(p) for p in shard_tables]
    index = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=INDEX_COLUMNS)
    index = verify_index(index, frames_root)
    damaged = damaged_summary(index)
    if damaged and not skip_bad:
        raise DamagedFramesError(f"{frames_root}: damaged video folders (run `tclsta verify --repair`, then "
                                 f"the workflow again, to extract them again):\n{damaged}")
    with atomic_path(index_out) as tmp:
        index.to_csv(tmp, index=False)
    bad = index[index["status"] != "ok"]
    listed = Path(missing).read_text() if missing else ""
    atomic_write_text(bad_out, listed + "".join(f"{v}\t{e}\n" for v, e in zip(bad["video_id"], bad["error"])))
    return index


def usable_videos(manifest_csv: str | Path, frames_index_csv: str | Path, split: int) -> pd.DataFrame:
    """Manifest rows of ``split`` that are used (train/test; not val/unused) and were extracted successfully.

    Adds columns ``subset`` (train/test), ``n_frames`` and ``n_flow``.
    """
    manifest = read_manifest(manifest_csv)
    column = f"split{split}"
    if column not in manifest.columns:
        raise DatasetError(f"{manifest_csv}: no column {column} (the dataset has no split {split})")
    index = read_index_table(frames_index_csv)
    ok = index[index["status"] == "ok"][["video_id", "n_frames", "n_flow"]]
    table = manifest[manifest[column].isin(["train", "test"])].merge(ok, on="video_id", how="inner")
    table = table.rename(columns={column: "subset"})
    return table.drop(columns=[c for c in table.columns if c.startswith("split")]).reset_index(drop=True)
