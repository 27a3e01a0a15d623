"""``dataset.format: folders``: ``root/<class name>/<video>`` and a seeded, stratified split.

Each class is split on its own: its units (videos, or groups of videos when
``dataset.group_pattern`` names their source) are ranked by a seeded hash of the unit's id, and
the first units in that order go to test until ``round(test_fraction × videos)`` of the class
are tested (at least one unit; one unit always trains), the next to val by ``val_fraction``.
A unit's rank depends only on its seed and id, so videos added to another class change nothing
here, and a video added to this class moves at most the units ranked after it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from tclsta.errors import ConfigError, DatasetError


def class_videos(root: Path, suffixes: tuple[str, ...]) -> dict[str, list[Path]]:
    """Class folder name → its video files (sorted; hidden entries skipped)."""
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    found = {c.name: sorted(v for v in c.iterdir() if v.is_file() and not v.name.startswith(".")
                            and v.suffix.lower() in suffixes) for c in classes}
    found = {name: videos for name, videos in found.items() if videos}
    if not found:
        raise DatasetError(f"{root}: no <class>/<video> files found (extensions {', '.join(suffixes)})")
    return found


def group_regex(pattern: str | None) -> re.Pattern[str] | None:
    """``dataset.group_pattern`` compiled, checked to have exactly one capture group."""
    if not pattern:
        return None
    try:
        regex = re.compile(pattern)
    except re.error as err:
        raise ConfigError(f"dataset.group_pattern {pattern!r}: not a regular expression ({err})") from None
    if regex.groups != 1:
        raise ConfigError(f"dataset.group_pattern {pattern!r}: needs exactly one capture group, has {regex.groups}")
    return regex


def group_of(name: str, regex: re.Pattern[str] | None) -> str:
    """The group a video file belongs to (the pattern's capture), or its own name without a match."""
    match = regex.search(name) if regex else None
    return match.group(1) if match else ""


def _rank(seed: int, class_name: str, unit: str) -> str:
    return hashlib.sha256(f"{seed}\0{class_name}\0{unit}".encode()).hexdigest()


def split_class(class_name: str, units: dict[str, int], test_fraction: float, val_fraction: float,
                seed: int) -> dict[str, str]:
    """Unit id → ``train`` / ``test`` / ``val`` for one class; ``units`` maps each unit to its video count."""
    total = sum(units.values())
    order = sorted(units, key=lambda unit: _rank(seed, class_name, unit))
    target = {"test": max(1, round(test_fraction * total)), "val": round(val_fraction * total)}
    subset_of: dict[str, str] = {}
    position = 0
    for subset in ("test", "val"):
        held = 0
        while position < len(order) - 1 and held < target[subset]:  # the last unit always trains
            size = units[order[position]]
            if held and held + size - target[subset] > target[subset] - held:
                break  # this unit would overshoot the target by more than stopping undershoots it
            subset_of[order[position]] = subset
            held += size
            position += 1
    return {unit: subset_of.get(unit, "train") for unit in order}
