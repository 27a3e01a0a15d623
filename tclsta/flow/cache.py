"""Where compiled TV-L1 code is kept, so that jobs on any node share it instead of recompiling.

``$TCLSTA_CACHE_DIR``, else ``$XDG_CACHE_HOME/tclsta``, else ``~/.cache/tclsta`` (a home folder is
usually shared by the nodes of a cluster; torch's own default, ``/tmp/torchinductor_$USER``, is
node-local). :func:`use_cache_dir` points torch Inductor's cache there too, unless
``TORCHINDUCTOR_CACHE_DIR`` is already set.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The tclsta cache folder (see the module docstring)."""
    if os.environ.get("TCLSTA_CACHE_DIR"):
        return Path(os.environ["TCLSTA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tclsta"


def use_cache_dir(folder: str | os.PathLike | None = None) -> Path:
    """Make ``folder`` (default :func:`cache_dir`) the cache of this process's compiled TV-L1 code:
    sets ``TCLSTA_CACHE_DIR`` and, unless the user set it, ``TORCHINDUCTOR_CACHE_DIR`` to its
    ``inductor`` subfolder (read by torch when it first compiles). Returns the folder."""
    if folder is not None:
        os.environ["TCLSTA_CACHE_DIR"] = str(folder)
    path = cache_dir()
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(path / "inductor"))
    return path
