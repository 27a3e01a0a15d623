"""Atomic writes: everything is written under a temporary name and renamed when complete.

A crashed or killed job therefore never leaves a file (or folder) that looks complete.
Temporary names are ``.<final name>.<random>.<pid>@<host>.tmp<suffix>``: they honour the
umask like any other file (``mkstemp``/``mkdtemp`` would force 0600/0700), and the owner in
the name lets the next writer in the same folder remove leftovers of killed jobs (see
:func:`remove_stale_temporaries`). A write that fails for lack of space raises
:class:`~tclsta.errors.DiskFullError` naming the file and the file system.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from tclsta.errors import DISK_FULL_ERRNOS, disk_full_error, find_cause

# A temporary of another host (whose processes we cannot see) counts as abandoned after this long untouched.
STALE_AFTER_S = 24 * 3600
# One of this host whose process is gone, after this long untouched (a margin for a writer in another
# PID namespace with the same host name, e.g. a container).
DEAD_OWNER_AFTER_S = 60
HOST = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:32] or "host"
_TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{8}\.(?P<pid>\d+)@(?P<host>[A-Za-z0-9_-]+)\.tmp[^/]*$")
_cleaned: set[Path] = set()


def _temporary_name(final: Path, suffix: str) -> Path:
    return final.with_name(f".{final.name}.{os.urandom(4).hex()}.{os.getpid()}@{HOST}.tmp{suffix}")


def _create_temporary(final: Path, make: Callable[[Path], None], suffix: str = "") -> Path:
    """Create a new temporary sibling of ``final`` with ``make`` (exclusive creation, retried on a clash)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    _clean_once(final.parent)
    while True:
        tmp = _temporary_name(final, suffix)
        try:
            make(tmp)
            return tmp
        except FileExistsError:
            continue
        except OSError as err:  # name the output, not our temporary name (read-only or full disk, permissions)
            _raise_if_disk_full(err, final)
            raise OSError(err.errno, err.strerror, str(final)) from err


def _make_file(path: Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the umask applies


def _make_dir(path: Path) -> None:
    os.mkdir(path, 0o777)  # the umask applies


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(path: Path, now: float | None = None) -> bool:
    """Whether ``path`` is a temporary of ours whose writer is gone.

    Gone means: written on this host by a process that no longer exists (and untouched for
    :data:`DEAD_OWNER_AFTER_S`), or, on another host, whose processes cannot be checked,
    untouched for :data:`STALE_AFTER_S` seconds.
    """
    match = _TEMPORARY.match(path.name)
    if match is None:
        return False
    try:
        idle = (time.time() if now is None else now) - path.lstat().st_mtime
    except FileNotFoundError:
        return False
    if match["host"] == HOST:
        return idle > DEAD_OWNER_AFTER_S and not _pid_alive(int(match["pid"]))
    return idle > STALE_AFTER_S


def stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """The temporaries in ``folder`` left by killed jobs (see :func:`is_stale`); none if it does not exist."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    return [Path(e.path) for e in entries if e.name.startswith(".") and is_stale(Path(e.path))]


def remove_temporary(path: Path) -> None:
    """Remove a temporary file or folder (a link is removed, not followed)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporaries in ``folder`` left by killed jobs (see :func:`is_stale`); return them."""
    removed = stale_temporaries(folder)
    for path in removed:
        remove_temporary(path)
    return removed


def _clean_once(folder: Path) -> None:
    """Remove stale temporaries of ``folder`` the first time this process writes there."""
    if folder not in _cleaned:
        _cleaned.add(folder)
        remove_stale_temporaries(folder)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file path; on success it is renamed to ``path``, on error removed.

    The temporary name keeps ``path``'s suffix so that libraries which choose a format
    from the extension (``cv2.imwrite``, ``torch.save``) behave as for the final name.
    """
    final = Path(path)
    tmp = _create_temporary(final, _make_file, suffix=final.suffix)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        _raise_if_disk_full(err, final)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces ``path`` (an old ``path`` is removed)."""
    final = Path(path)
    tmp = _create_temporary(final, _make_dir)
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        _raise_if_disk_full(err, final)
        raise


def _raise_if_disk_full(err: BaseException | None, final: Path) -> None:
    """Raise :class:`DiskFullError` if ``err``, or an error it arose from, is a full disk or quota.

    torch.save, for one, answers ENOSPC with a RuntimeError raised while handling the OSError.
    """
    full = find_cause(err, lambda e: isinstance(e, OSError) and e.errno in DISK_FULL_ERRNOS)
    if full is not None:
        raise disk_full_error(final, full) from err
