"""Errors the user can act on: the CLI prints their message (naming file and problem), no traceback."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable


class TclstaError(RuntimeError):
    """Base class of user-facing errors."""


class ConfigError(TclstaError, ValueError):
    """A configuration value is missing or invalid."""


class DatasetError(TclstaError):
    """A dataset file (split list, video, frame folder) is missing or malformed."""


class VideoDecodeError(DatasetError):
    """A video cannot be opened or decoded (frame index status ``bad``)."""

    status = "bad"


class TruncatedVideoError(VideoDecodeError):
    """Fewer frames decode than the container declares (frame index status ``truncated``)."""

    status = "truncated"


class ShortVideoError(VideoDecodeError):
    """A video with too few frames for optical flow (frame index status ``too_short``)."""

    status = "too_short"


class DamagedFramesError(DatasetError):
    """An extracted video folder lacks files or holds damaged JPEGs (frame index status ``damaged``)."""

    status = "damaged"


class DiskFullError(TclstaError):
    """A write failed for lack of space (or quota) on the output's file system."""


DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def find_cause(err: BaseException | None, matches: Callable[[BaseException], bool]) -> BaseException | None:
    """``err`` or the first error it arose from (``__cause__``, else ``__context__``) that ``matches``."""
    while err is not None:
        if matches(err):
            return err
        err = err.__cause__ or err.__context__
    return None


def mount_point(path: str | os.PathLike) -> str:
    """The mount point of the file system holding ``path`` (its closest existing ancestor)."""
    path = os.path.abspath(path)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    while not os.path.ismount(path):
        path = os.path.dirname(path)
    return path


def disk_full_error(target: str | os.PathLike, err: OSError) -> DiskFullError:
    """A :class:`DiskFullError` naming the file being written, the file system and its free space."""
    mount = mount_point(target)
    usage = shutil.disk_usage(mount)
    return DiskFullError(
        f"{target}: cannot write: {err.strerror or err} on the file system mounted at {mount} "
        f"({usage.free / 2**20:.1f} MiB free of {usage.total / 2**20:.1f} MiB); free space there "
        "(or set output_dir to another disk) and rerun: what was complete is kept"
    )


def describe_os_error(err: OSError) -> str:
    """One line for an unexpected OSError: the file(s) and the system's reason."""
    names = [str(n) for n in (err.filename, err.filename2) if n is not None]
    reason = err.strerror or str(err)
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason += " (check the folder's permissions, or choose another output_dir)"
    return f"{' -> '.join(names) or 'I/O error'}: {reason}"
