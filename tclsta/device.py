"""Where tensors run: one rule for every stage's ``device`` setting."""

from __future__ import annotations

import torch

from tclsta.errors import ConfigError


def resolve_device(name: str, key: str = "device") -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is a configuration error.

    ``key`` names the setting in the error (``device``, ``flow.device``).
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{key} is 'cuda' but no CUDA device is available (use 'auto' or 'cpu')")
    return torch.device(name)
