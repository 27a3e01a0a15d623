"""Where a dataset's parts lie once its archives are unpacked as distributed.

The official archives unpack into a few nested folders (UCF101's ``UCF-101/`` beside
``ucfTrainTestlist/``, HMDB51's ``hmdb51_org/<class>/`` and ``test_train_splits/
testTrainMulti_7030_splits/`` as unrar gives them, UCF50's ``UCF50/``, THUMOS14's
``TH14_validation_set_mp4/`` …). These helpers find a part by name or content at most
``DEPTH`` folders below the dataset root, so ``dataset.root`` can be the folder the archives
were unpacked in as well as the flat layout. Hidden folders are never searched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from tclsta.errors import DatasetError

DEPTH = 2


def folders(root: Path, depth: int = DEPTH) -> Iterator[Path]:
    """``root`` and its non-hidden subfolders down to ``depth`` levels, breadth first, sorted by name."""
    level = [root]
    for d in range(depth + 1):
        yield from level
        if d == depth:
            return  # listing the deepest level's children would only be thrown away
        level = sorted(c for folder in level for c in folder.iterdir() if c.is_dir() and not c.name.startswith("."))


def find_named(root: Path, names: Iterable[str], what: str, kind: str = "folder") -> Path:
    """The shallowest folder (``kind="folder"``) or file named one of ``names`` (case-insensitive) under ``root``."""
    wanted = {n.lower() for n in names}
    for folder in folders(root):
        for child in sorted(folder.iterdir()):
            if child.name.lower() in wanted and (child.is_dir() if kind == "folder" else child.is_file()):
                return child
    raise DatasetError(f"{root}: {what} not found (looked for {kind} {' or '.join(sorted(names))} "
                       f"up to {DEPTH} folders deep)")


def class_folder(root: Path, classes: Iterable[str], what: str) -> Path:
    """The folder under ``root`` holding the most of the class folders ``classes`` (case-insensitive)."""
    wanted = {c.lower() for c in classes}
    best, best_count = None, 0
    for folder in folders(root):
        count = sum(1 for c in folder.iterdir() if c.is_dir() and c.name.lower() in wanted)
        if count > best_count:
            best, best_count = folder, count
    if best is None:
        raise DatasetError(f"{root}: no folder holding the {what} class folders "
                           f"(e.g. {sorted(wanted)[0]}/) up to {DEPTH} folders deep")
    return best


def video_folder(root: Path, accept: Callable[[Path], bool], has_video: Callable[[Path], bool], what: str) -> Path:
    """The shallowest folder under ``root`` that ``accept`` takes (by name) and that holds a video."""
    for folder in folders(root):
        if folder != root and accept(folder) and any(has_video(p) for p in folder.iterdir()):
            return folder
    raise DatasetError(f"{root}: no {what} folder with videos found up to {DEPTH} folders deep")


def prefixed(prefix: Path, root: Path, rel: str) -> str:
    """``rel`` (relative to ``prefix``) as a path relative to ``root`` (POSIX)."""
    base = prefix.relative_to(root).as_posix()
    return rel if base == "." else f"{base}/{rel}"
