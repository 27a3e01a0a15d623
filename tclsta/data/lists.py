"""``dataset.format: list``: annotation lists given by path (mmaction2 text lists or CSV).

* Text lists (any name but ``*.csv``): one video a line, ``relative/path.mp4 LABEL`` (mmaction2's
  video list); the label is the last blank-separated field, so a path may hold blanks, and a path
  in double quotes may hold anything (``"clip, take (2).mp4" 3``).
* CSV lists (``*.csv``): a header ``path,label`` or ``path,label,group``, quoted as CSV quotes.
* Labels are class numbers or class names. A class file (``dataset.classes``) lists one class a
  line, either its name (line i is label i − 1) or ``N name`` as UCF101's ``classInd.txt``; its
  smallest ``N`` (0 or 1) says whether the lists' numbers are 0- or 1-based. Without a class file,
  the classes are the sorted distinct labels (numbers: 0-based).

Every file is read as UTF-8 with or without a BOM, CRLF or LF, blank lines skipped; a label that
is not a class, a malformed line or a missing video is an error naming ``file:line``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tclsta.errors import DatasetError

_NUMBERED = re.compile(r"^(\d+)\s+(\S.*)$")


@dataclass(frozen=True)
class Entry:
    """One listed video before its label is resolved."""

    path: str
    label: str
    group: str
    where: str  # "file:line"


def _text(path: Path, what: str) -> str:
    """A list file's text (BOM dropped, newlines universal)."""
    if not path.is_file():
        raise DatasetError(f"{path}: {what} not found")
    return path.read_bytes().decode("utf-8-sig", errors="replace").replace("\r\n", "\n").replace("\r", "\n")


def read_classes(path: Path) -> tuple[list[str], int]:
    """Class names of a class file and the base (0 or 1) of the numbers the lists use."""
    lines = [(n, line.strip()) for n, line in enumerate(_text(path, "class file").split("\n"), start=1)
             if line.strip()]
    if not lines:
        raise DatasetError(f"{path}: class file is empty")
    numbered = [_NUMBERED.match(line) for _, line in lines]
    if not all(numbered):
        names = [line.strip('"') for _, line in lines]
        base = 0
    else:
        numbers = [int(m[1]) for m in numbered]
        base = min(numbers)
        if base not in (0, 1) or sorted(numbers) != list(range(base, base + len(numbers))):
            raise DatasetError(f"{path}: class numbers must run 0..N-1 or 1..N without gaps, got {numbers[:5]}…")
        by_number = dict(zip(numbers, (m[2].strip().strip('"') for m in numbered)))
        names = [by_number[i] for i in range(base, base + len(numbers))]
    seen: dict[str, int] = {}
    for (number, _), name in zip(lines, names):
        if name in seen:
            raise DatasetError(f"{path}:{number}: class {name!r} is listed twice (also line {seen[name]})")
        seen[name] = number
    return names, base


def _text_entries(path: Path, text: str) -> Iterator[Entry]:
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.strip()
        if not line:
            continue
        where = f"{path}:{number}"
        if line.startswith('"'):
            fields = next(csv.reader([line], delimiter=" ", skipinitialspace=True))
            fields = [f for f in fields if f]
        else:
            name, _, label = line.rpartition(" ")
            fields = [name.strip(), label] if name.strip() else [line]
        if len(fields) != 2:
            raise DatasetError(f"{where}: expected '<path> <label>', got {line!r}")
        yield Entry(fields[0], fields[1], "", where)


def _csv_entries(path: Path, text: str) -> Iterator[Entry]:
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if header[:2] != ["path", "label"] or header[2:] not in ([], ["group"]):
        raise DatasetError(f"{path}:1: expected the header path,label or path,label,group, got {','.join(header)!r}")
    for row in reader:
        number = reader.line_num
        if not any(field.strip() for field in row):
            continue
        if len(row) != len(header):
            raise DatasetError(f"{path}:{number}: expected {len(header)} fields ({','.join(header)}), got {row!r}")
        yield Entry(row[0].strip(), row[1].strip(), row[2].strip() if len(row) > 2 else "", f"{path}:{number}")


def read_list(path: Path) -> list[Entry]:
    """The entries of one annotation list (CSV when its name ends in ``.csv``, else an mmaction2 text list)."""
    text = _text(path, "annotation list")
    entries = list((_csv_entries if path.suffix.lower() == ".csv" else _text_entries)(path, text))
    if not entries:
        raise DatasetError(f"{path}: annotation list has no videos")
    return entries


def label_resolver(entries: list[Entry], classes: tuple[list[str], int] | None, class_file: Path | None):
    """(class names, function Entry → 0-based label) for the lists' labels, checked against the class file."""
    if classes is None:
        tokens = {e.label for e in entries}
        if all(t.isdigit() for t in tokens):
            numbers = sorted({int(t) for t in tokens})
            names = [str(n) for n in numbers]
            position = {n: i for i, n in enumerate(numbers)}
            return names, lambda e: position[int(e.label)]
        names = sorted(tokens)
        position = {n: i for i, n in enumerate(names)}
        return names, lambda e: position[e.label]
    names, base = classes
    by_name = {n: i for i, n in enumerate(names)}
    by_lower = {n.lower(): i for i, n in enumerate(names)}

    def label(entry: Entry) -> int:
        token = entry.label
        if token.isdigit() and token not in by_name:
            index = int(token) - base
            if 0 <= index < len(names):
                return index
            raise DatasetError(f"{entry.where}: label {token} is not a class of {class_file} "
                               f"({len(names)} classes numbered from {base})")
        index = by_name.get(token, by_lower.get(token.lower()))
        if index is None:
            raise DatasetError(f"{entry.where}: label {token!r} is not a class of {class_file}")
        return index

    return names, label


def list_paths(root: Path, dataset: dict[str, Any]) -> dict[str, Path]:
    """The list files named by ``dataset.train/test/val/classes`` (absolute, or relative to ``root``)."""
    found = {}
    for key in ("train", "test", "val", "classes"):
        value = dataset.get(key)
        if value:
            path = Path(value)
            found[key] = path if path.is_absolute() else root / path
    for key in ("train", "test"):
        if key not in found:
            raise DatasetError(f"dataset.format=list needs dataset.{key} (the {key} annotation list)")
    return found
