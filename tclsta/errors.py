"""Errors the user can act on: the CLI prints their message (naming file and problem), no traceback."""


class TclstaError(RuntimeError):
    """Base class of user-facing errors."""


class ConfigError(TclstaError, ValueError):
    """A configuration value is missing or invalid."""


class DatasetError(TclstaError):
    """A dataset file (split list, video, frame folder) is missing or malformed."""


class VideoDecodeError(DatasetError):
    """A video cannot be opened or decoded."""
