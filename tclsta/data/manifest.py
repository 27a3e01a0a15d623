"""Dataset protocols: read each dataset's official split files into one manifest table.

Manifest columns: ``video_id, path`` (relative to the dataset root, POSIX), ``label``
(0-based), ``class_name``, ``group`` (UCF groups; empty where none) and one column per
split/fold ``split1, split2, …`` with values ``train`` / ``test`` / ``unused``.

Every error names the file (and line) and the problem: a missing class, a listed video
that does not exist, a path that would leave the dataset root, an empty split.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from tclsta.atomic import atomic_path
from tclsta.data.distribution import class_folder, find_named, prefixed, video_folder
from tclsta.data.layout import check_video_id
from tclsta.data.folders import class_videos, group_of, group_regex, split_class
from tclsta.data.kinetics import kinetics_clips
from tclsta.data.lists import label_resolver, list_paths, read_classes, read_list
from tclsta.errors import DatasetError

log = logging.getLogger(__name__)

FORMATS = ("synthetic", "ucf101", "hmdb51", "ucf50", "thumos14", "list", "folders", "kinetics")
BASE_COLUMNS = ["video_id", "path", "label", "class_name", "group"]
SUBSETS = ("train", "test", "val", "unused")  # val: a user's validation list/fraction (kept out of train and test)
VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".webm", ".mov", ".mpg", ".mpeg", ".m4v", ".flv", ".wmv", ".3gp", ".ogv",
                  ".ts", ".mts")
_GROUP = re.compile(r"_g(\d+)_", re.IGNORECASE)


@dataclass
class _Video:
    """One manifest row under construction."""

    path: str
    label: int
    class_name: str
    group: str = ""


class _RootIndex:
    """Resolves listed paths inside a dataset root, refusing escapes, matching case-insensitively."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._by_lower: dict[str, str] | None = None
        self._resolved: dict[str, str] = {}  # UCF101 lists each video in 3 splits: resolve it once

    def check_inside(self, listed: str, source: Path, line: int) -> PurePosixPath:
        """``listed`` as a relative path; raise if it is absolute or climbs out with ``..``."""
        rel = PurePosixPath(listed.replace("\\", "/"))
        if rel.is_absolute() or ".." in rel.parts:
            raise DatasetError(f"{source}:{line}: path {listed!r} would leave the dataset root {self.root}")
        return rel

    def resolve(self, listed: str, source: Path, line: int) -> str:
        """Return ``listed`` as a root-relative POSIX path of an existing file, or raise."""
        if listed in self._resolved:
            return self._resolved[listed]
        rel = self.check_inside(listed, source, line)
        where = f"{source}:{line}"
        candidate = (self.root / rel).resolve()
        if not candidate.is_relative_to(self.root):
            raise DatasetError(f"{where}: path {listed!r} resolves outside the dataset root {self.root}")
        if candidate.is_file():
            match = rel.as_posix()
        else:
            match = self._lower_index().get(rel.as_posix().lower())
        if match is None:
            raise DatasetError(f"{where}: listed video {listed!r} does not exist under {self.root}")
        check_video_id(PurePosixPath(match).stem, f"{where}: {match}")
        self._resolved[listed] = match
        return match

    def _lower_index(self) -> dict[str, str]:
        """Lower-cased relative path → actual relative path, for case-insensitive matching."""
        if self._by_lower is None:
            self._by_lower = {
                p.relative_to(self.root).as_posix().lower(): p.relative_to(self.root).as_posix()
                for p in self.root.rglob("*")
                if p.suffix.lower() in VIDEO_SUFFIXES
            }
        return self._by_lower


def _lines(path: Path) -> Iterable[tuple[int, str]]:
    """Non-empty, stripped lines of a text file (CRLF or LF) with 1-based line numbers."""
    if not path.is_file():
        raise DatasetError(f"{path}: split file not found")
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line:
            yield number, line


def _assign(subset_of: dict[str, str], listed_at: dict[tuple[int, str], str], split: int, rel: str, subset: str,
            where: str) -> None:
    """Put video ``rel`` in ``subset`` of ``split``; listed as another subset elsewhere is an error naming both lines."""
    if subset_of.get(rel, subset) != subset:
        raise DatasetError(f"{where}: {rel!r} is {subset} here but {subset_of[rel]} at {listed_at[split, rel]} "
                           f"(split {split}); a video belongs to one subset of a split")
    subset_of[rel] = subset
    listed_at[split, rel] = where


def _group_of(name: str) -> str:
    """The UCF group number (``_g08_`` → ``"8"``) or empty."""
    match = _GROUP.search(name)
    return str(int(match.group(1))) if match else ""


def _stem(path: str) -> str:
    """``PurePosixPath(path).stem`` without building a path object (266k Kinetics rows)."""
    name = path.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name


def _table(videos: dict[str, _Video], membership: dict[int, dict[str, str]], source: str) -> pd.DataFrame:
    """Assemble the manifest table and check that every split has train and test videos."""
    for split, subset_of in sorted(membership.items()):
        subsets = set(subset_of.values())
        for needed in ("train", "test"):
            if needed not in subsets:
                raise DatasetError(f"{source}: split {split} has no {needed} videos (empty split)")
    paths = sorted(videos)
    columns: dict[str, list] = {
        "video_id": [check_video_id(_stem(path), f"{source}: {path}") for path in paths],
        "path": paths,
        "label": [videos[path].label for path in paths],
        "class_name": [videos[path].class_name for path in paths],
        "group": [videos[path].group for path in paths],
    }
    for split in sorted(membership):
        columns[f"split{split}"] = [membership[split].get(path, "unused") for path in paths]
    table = pd.DataFrame(columns)
    duplicated = table["video_id"][table["video_id"].duplicated()]
    if len(duplicated):
        raise DatasetError(f"{source}: video id {duplicated.iloc[0]!r} appears twice (file names must be unique)")
    return table


# --- UCF101 (and the synthetic dataset, written in its layout) --------------------------------


def _ucf101_classes(list_dir: Path) -> list[str]:
    """Class names from ``classInd.txt`` ("1 ApplyEyeMakeup"), index i → label i−1."""
    path = list_dir / "classInd.txt"
    if not path.is_file():
        raise DatasetError(f"{path}: class index not found (expected the ucfTrainTestlist folder)")
    classes: dict[int, str] = {}
    for number, line in _lines(path):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise DatasetError(f"{path}:{number}: expected '<index> <ClassName>', got {line!r}")
        classes[int(parts[0])] = parts[1]
    if sorted(classes) != list(range(1, len(classes) + 1)):
        raise DatasetError(f"{path}: class indices must run 1..{len(classes)}")
    return [classes[i] for i in range(1, len(classes) + 1)]


def _ucf101_videos(root: Path) -> tuple[dict[str, _Video], dict[int, dict[str, str]], list[str]]:
    """Videos and split membership from ``ucfTrainTestlist/{classInd,trainlist0N,testlist0N}.txt``.

    The class folders may lie in ``root`` (flat) or below it (``UCF-101/`` as distributed).
    """
    list_dir = find_named(root, ["ucfTrainTestlist"], "UCF101 split folder")
    classes = _ucf101_classes(list_dir)
    base = class_folder(root, classes, "UCF101")
    by_lower = {name.lower(): i for i, name in enumerate(classes)}
    index = _RootIndex(root)
    videos: dict[str, _Video] = {}
    membership: dict[int, dict[str, str]] = {}
    listed_at: dict[tuple[int, str], str] = {}
    split = 1
    while (list_dir / f"trainlist{split:02d}.txt").is_file() or (list_dir / f"testlist{split:02d}.txt").is_file():
        membership[split] = {}
        for subset in ("train", "test"):
            path = list_dir / f"{subset}list{split:02d}.txt"
            for number, line in _lines(path):
                listed, *rest = line.split()
                folder = index.check_inside(listed, path, number).parent.name
                label = by_lower.get(folder.lower())
                if label is None:
                    raise DatasetError(f"{path}:{number}: class folder {folder!r} is not in classInd.txt")
                if rest and (not rest[0].isdigit() or int(rest[0]) - 1 != label):
                    raise DatasetError(
                        f"{path}:{number}: label {rest[0]!r} does not match class {classes[label]!r} "
                        f"(index {label + 1} in classInd.txt)"
                    )
                rel = index.resolve(prefixed(base, root, listed), path, number)
                videos[rel] = _Video(rel, label, classes[label], _group_of(PurePosixPath(rel).name))
                _assign(membership[split], listed_at, split, rel, subset, f"{path}:{number}")
        split += 1
    if not membership:
        raise DatasetError(f"{list_dir}: no trainlist01.txt/testlist01.txt found")
    return videos, membership, classes


def ucf101_manifest(root: Path) -> pd.DataFrame:
    """UCF101: three official splits from ``ucfTrainTestlist``."""
    videos, membership, _ = _ucf101_videos(root)
    return _table(videos, membership, str(root))


# --- HMDB51 --------------------------------------------------------------------------------------

HMDB_SPLIT_DIR = "testTrainMulti_7030_splits"
_HMDB_FILE = re.compile(r"^(?P<cls>.+)_test_split(?P<split>\d+)\.txt$")
_HMDB_SUBSET = {"0": "unused", "1": "train", "2": "test"}


def hmdb51_manifest(root: Path) -> pd.DataFrame:
    """HMDB51: ``testTrainMulti_7030_splits/<class>_test_split<N>.txt`` lines ``name.avi 0|1|2``.

    Both the split folder and the ``<class>/`` folders may lie below ``root`` (as unrar gives them).
    """
    split_dir = find_named(root, [HMDB_SPLIT_DIR], "HMDB51 split folder")
    files = {}
    for path in sorted(split_dir.glob("*.txt")):
        match = _HMDB_FILE.match(path.name)
        if match:
            files[(match["cls"], int(match["split"]))] = path
    if not files:
        raise DatasetError(f"{split_dir}: no <class>_test_split<N>.txt files")
    classes = sorted({cls for cls, _ in files})
    base = class_folder(root, classes, "HMDB51")
    index = _RootIndex(root)
    videos: dict[str, _Video] = {}
    membership: dict[int, dict[str, str]] = {}
    listed_at: dict[tuple[int, str], str] = {}
    for (cls, split), path in sorted(files.items()):
        label = classes.index(cls)
        subset_of = membership.setdefault(split, {})
        for number, line in _lines(path):
            name, _, code = line.rpartition(" ")
            name, code = name.strip(), code.strip()
            if not name or code not in _HMDB_SUBSET:
                raise DatasetError(f"{path}:{number}: expected '<video>.avi 0|1|2', got {line!r}")
            rel = index.resolve(prefixed(base, root, f"{cls}/{name}"), path, number)
            known = videos.get(rel)
            if known is not None and known.label != label:
                raise DatasetError(f"{path}:{number}: {name!r} is also listed under class {known.class_name!r}")
            videos[rel] = _Video(rel, label, cls)
            _assign(subset_of, listed_at, split, rel, _HMDB_SUBSET[code], f"{path}:{number}")
    missing = [(cls, s) for cls in classes for s in membership if (cls, s) not in files]
    if missing:
        cls, split = missing[0]
        raise DatasetError(f"{split_dir}: missing {cls}_test_split{split}.txt (class {cls!r} has no split {split})")
    return _table(videos, membership, str(split_dir))


# --- UCF50 ---------------------------------------------------------------------------------------


def ucf50_manifest(root: Path) -> pd.DataFrame:
    """UCF50: 25 leave-one-group-out folds; fold k tests group k (from ``_gXX_`` in the file name).

    The class folders lie in ``root`` or in its ``UCF50/`` (as the archive unpacks).
    """
    base = next((p for p in root.iterdir() if p.is_dir() and p.name.lower() == "ucf50"), root)
    classes = sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    videos: dict[str, _Video] = {}
    for label, cls in enumerate(classes):
        for path in sorted((base / cls).iterdir()):
            if path.suffix.lower() not in VIDEO_SUFFIXES:
                continue
            group = _group_of(path.name)
            if not group:
                raise DatasetError(f"{path}: no group (_gXX_) in the file name; UCF50 folds need it")
            rel = prefixed(base, root, path.relative_to(base).as_posix())
            videos[rel] = _Video(rel, label, cls, group)
    if not videos:
        raise DatasetError(f"{root}: no UCF50 videos (<Class>/v_<Name>_gXX_cYY.avi) found")
    groups = sorted({int(v.group) for v in videos.values()})
    membership = {
        fold: {rel: ("test" if int(v.group) == fold else "train") for rel, v in videos.items()} for fold in groups
    }
    return _table(videos, membership, str(root))


# --- THUMOS14 ------------------------------------------------------------------------------------


def _thumos_meta(path: Path, variable: str) -> list[tuple[str, str, int | None]]:
    """(video name, primary action name, primary action index or None) from a THUMOS14 .mat file."""
    from scipy.io import loadmat

    try:
        mat = loadmat(str(path), squeeze_me=True, struct_as_record=False)
    except (OSError, ValueError, NotImplementedError) as err:
        raise DatasetError(f"{path}: cannot read MATLAB file ({err})") from err
    if variable not in mat:
        raise DatasetError(f"{path}: variable {variable!r} not found (has: {sorted(k for k in mat if not k.startswith('__'))})")
    entries = []
    for number, record in enumerate(np.atleast_1d(mat[variable]).ravel(), start=1):
        name = str(getattr(record, "video_name", "")).strip()
        if not name:
            raise DatasetError(f"{path}: entry {number} of {variable} has no video_name")
        action = getattr(record, "primary_action", "")
        action = action.strip() if isinstance(action, str) else ""
        index = getattr(record, "primary_action_index", None)
        index = int(index) if index is not None and str(index).strip().lstrip("-").isdigit() else None
        entries.append((name, action, index))
    return entries


def thumos14_manifest(root: Path) -> pd.DataFrame:
    """THUMOS14: UCF101 (all videos) + validation videos train, test videos test; one split.

    Found below ``root`` by name, as the archives unpack: UCF101 (``ucfTrainTestlist/`` and the
    class folders), ``validation_set.mat`` / ``test_set_meta.mat``, and the folders with
    "validation" / "test" in their name holding the videos (``validation/``, ``TH14_test_set_mp4/``).
    """
    ucf_videos, _, classes = _ucf101_videos(root)
    by_lower = {name.lower(): i for i, name in enumerate(classes)}
    videos: dict[str, _Video] = dict(ucf_videos)
    subset_of: dict[str, str] = {rel: "train" for rel in ucf_videos}
    index = _RootIndex(root)
    dropped = 0
    for subset, folder, mat_name, variable in (
        ("train", "validation", "validation_set.mat", "validation_videos"),
        ("test", "test", "test_set_meta.mat", "test_videos"),
    ):
        mat_path = find_named(root, [mat_name], f"THUMOS14 {folder} metadata", kind="file")
        video_dir = video_folder(root, lambda f, word=folder: word in f.name.lower(),
                                 lambda p: p.suffix.lower() in VIDEO_SUFFIXES, f"THUMOS14 {folder}")
        for number, (name, action, action_index) in enumerate(_thumos_meta(mat_path, variable), start=1):
            if action_index is not None and action_index > 0:
                if action_index > len(classes):
                    raise DatasetError(f"{mat_path}: entry {number} ({name}): primary action index {action_index} > {len(classes)} classes")
                label = action_index - 1
            elif action:
                if action.lower() not in by_lower:
                    raise DatasetError(f"{mat_path}: entry {number} ({name}): action {action!r} is not a UCF101 class")
                label = by_lower[action.lower()]
            else:
                dropped += 1  # background video: no primary action, not a classification sample
                continue
            stem = name if PurePosixPath(name).suffix else f"{name}.mp4"
            rel = index.resolve(f"{video_dir.relative_to(root).as_posix()}/{stem}", mat_path, number)
            videos[rel] = _Video(rel, label, classes[label])
            subset_of[rel] = subset
    if dropped:
        log.info("THUMOS14: %d background videos without a primary action left out", dropped)
    return _table(videos, {1: subset_of}, str(root))


# --- annotation lists (dataset.format: list) ---------------------------------------------------


def list_manifest(root: Path, dataset: dict[str, Any]) -> pd.DataFrame:
    """Annotation lists ``dataset.train/test[/val]`` (see :mod:`tclsta.data.lists`); one split."""
    files = list_paths(root, dataset)
    subsets = [key for key in ("train", "test", "val") if key in files]
    entries = {key: read_list(files[key]) for key in subsets}
    classes = read_classes(files["classes"]) if "classes" in files else None
    names, label_of = label_resolver([e for key in subsets for e in entries[key]], classes, files.get("classes"))
    index = _RootIndex(root)
    videos: dict[str, _Video] = {}
    subset_of: dict[str, str] = {}
    listed_at: dict[tuple[int, str], str] = {}
    for key in subsets:
        for entry in entries[key]:
            path, line = entry.where.rsplit(":", 1)
            rel = index.resolve(entry.path, Path(path), int(line))
            label = label_of(entry)
            videos[rel] = _Video(rel, label, names[label], entry.group or _group_of(PurePosixPath(rel).name))
            _assign(subset_of, listed_at, 1, rel, key, entry.where)
    return _table(videos, {1: subset_of}, str(files["train"]))


# --- class folders (dataset.format: folders) ---------------------------------------------------


def folders_manifest(root: Path, dataset: dict[str, Any]) -> pd.DataFrame:
    """``root/<class>/<video>``; one split drawn per class (see :mod:`tclsta.data.folders`)."""
    regex = group_regex(dataset.get("group_pattern"))
    test_fraction, val_fraction = dataset.get("test_fraction", 0.2), dataset.get("val_fraction", 0.0)
    if test_fraction + val_fraction >= 1:
        raise DatasetError(f"dataset.test_fraction + dataset.val_fraction = {test_fraction + val_fraction:g} "
                           "leaves no training videos")
    videos: dict[str, _Video] = {}
    subset_of: dict[str, str] = {}
    for label, (name, files) in enumerate(class_videos(root, VIDEO_SUFFIXES).items()):
        rels = [f.relative_to(root).as_posix() for f in files]
        unit_of = {rel: group_of(PurePosixPath(rel).name, regex) or PurePosixPath(rel).stem for rel in rels}
        counts = pd.Series(list(unit_of.values())).value_counts().to_dict()
        subsets = split_class(name, counts, test_fraction, val_fraction, dataset.get("split_seed", 0))
        for rel in rels:
            videos[rel] = _Video(rel, label, name, group_of(PurePosixPath(rel).name, regex))
            subset_of[rel] = subsets[unit_of[rel]]
    return _table(videos, {1: subset_of}, str(root))


# --- Kinetics (dataset.format: kinetics) ---------------------------------------------------------


def kinetics_manifest(root: Path, dataset: dict[str, Any]) -> pd.DataFrame:
    """Kinetics: train.csv trains, val.csv tests (see :mod:`tclsta.data.kinetics`); one split.

    Listed videos missing from disk are left out and kept in ``table.attrs["missing"]``
    (``(video_id, reason)`` pairs, for ``bad_videos.txt``).
    """
    found, missing, classes = kinetics_clips(root)
    version = dataset.get("version", 400)
    if len(classes) != version:
        log.warning("Kinetics-%d has %d classes, the annotations list %d", version, version, len(classes))
    label_of = {name: i for i, name in enumerate(classes)}
    videos = {rel: _Video(rel, label_of[clip.label], clip.label) for clip, rel in found}
    if missing:
        log.warning("Kinetics: %d of %d listed videos are missing from disk (listed in bad_videos.txt)",
                    len(missing), len(missing) + len(found))
    table = _table(videos, {1: {rel: clip.subset for clip, rel in found}}, str(root / "annotations"))
    table.attrs["missing"] = missing
    return table


Builder = Callable[[Path, dict[str, Any]], pd.DataFrame]
BUILDERS: dict[str, Builder] = {
    "synthetic": lambda root, _: ucf101_manifest(root),
    "ucf101": lambda root, _: ucf101_manifest(root),
    "hmdb51": lambda root, _: hmdb51_manifest(root),
    "ucf50": lambda root, _: ucf50_manifest(root),
    "thumos14": lambda root, _: thumos14_manifest(root),
    "list": list_manifest,
    "folders": folders_manifest,
    "kinetics": kinetics_manifest,
}


def build_manifest(format: str, root: str | Path, dataset: dict[str, Any] | None = None) -> pd.DataFrame:
    """Build the manifest of the dataset at ``root`` in ``format`` (see :data:`FORMATS`).

    ``dataset`` is the config's ``dataset`` section (list files, split fractions, Kinetics version).
    """
    if format not in BUILDERS:
        raise DatasetError(f"unknown dataset format {format!r}; expected one of {', '.join(FORMATS)}")
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset root not found")
    table = BUILDERS[format](root, dataset or {})
    log.info("%s manifest: %d videos, %d classes, %d splits", format, len(table),
             table["label"].nunique(), len(split_columns(table)))
    return table


def split_files(format: str, root: str | Path, dataset: dict[str, Any] | None = None) -> list[Path]:
    """The official split/annotation files a format's manifest is read from (workflow inputs).

    UCF50's folds and the folders format's split come from file names, so they have none. Files
    not found give an empty list (the manifest job then names what is missing).
    """
    root = Path(root)
    if format == "list":
        try:
            return sorted(p for p in list_paths(root, dataset or {}).values() if p.is_file())
        except DatasetError:
            return []
    wanted = {
        "synthetic": [("ucfTrainTestlist", "*.txt")],
        "ucf101": [("ucfTrainTestlist", "*.txt")],
        "hmdb51": [(HMDB_SPLIT_DIR, "*.txt")],
        "ucf50": [],
        "thumos14": [("ucfTrainTestlist", "*.txt"), ("validation_set.mat", ""), ("test_set_meta.mat", "")],
        "folders": [],
        "kinetics": [("annotations", "[tv][ra]*.csv")],  # train.csv, val.csv (test.csv has no labels)
    }[format]
    found: list[Path] = []
    for name, pattern in wanted:
        try:
            where = find_named(root, [name], name, kind="folder" if pattern else "file")
        except DatasetError:
            continue
        found += list(where.glob(pattern)) if pattern else [where]
    return sorted(found)


def split_columns(table: pd.DataFrame) -> list[str]:
    """The ``splitN`` columns of a manifest, in numeric order."""
    return sorted((c for c in table.columns if re.fullmatch(r"split\d+", c)), key=lambda c: int(c[5:]))


def check_splits(table: pd.DataFrame, splits: Iterable[int], source: str) -> None:
    """Raise if a requested split/fold is not in the manifest."""
    available = [int(c[5:]) for c in split_columns(table)]
    for split in splits:
        if split not in available:
            raise DatasetError(f"{source}: split {split} requested but the dataset has splits {available}")


def write_manifest(table: pd.DataFrame, path: str | Path) -> None:
    """Write the manifest CSV atomically."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read and check a manifest CSV (strings kept as strings: names with ``[ ] ! ( ) &`` survive)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: manifest not found (run `tclsta manifest` first)")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in BASE_COLUMNS if c not in table.columns]
    if missing:
        raise DatasetError(f"{path}: not a manifest, missing columns {missing}")
    for line, video_id in enumerate(table["video_id"], start=2):
        check_video_id(video_id, f"{path}:{line}")
    table["label"] = table["label"].astype(int)
    for column in split_columns(table):
        bad = set(table[column]) - set(SUBSETS)
        if bad:
            raise DatasetError(f"{path}: column {column} has values {sorted(bad)}; expected train/test/unused")
    return table
