"""``model.pretrained``: torchvision's ImageNet weights fetched once into a cache, a URL, a local file, or none.

``imagenet`` is torchvision's IMAGENET1K_V1 file of the configured depth (e.g.
``resnet50-0676ba61.pth``), fetched from ``download.pytorch.org`` (or from the URL in
``$TCLSTA_IMAGENET_URL``, for a mirror) into torch.hub's cache
``$TORCH_HOME/hub/checkpoints/`` (default ``~/.cache/torch/hub/checkpoints/``), where a
torchvision install would have put it, so an existing download is reused. As torch.hub, the
file name carries the first hex digits of the file's SHA-256 (``-0676ba61.``); the download
is written under a temporary name, checked against them and its announced length, and only
then renamed into place. ``none`` trains from scratch (logged as a warning); a value starting
with ``http://`` or ``https://`` is fetched the same way; anything else is a local file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch

from tclsta.atomic import atomic_path
from tclsta.errors import ConfigError, TclstaError
from tclsta.hashing import CHUNK, sha256_file
from tclsta.models.resnet import ResNet, load_pretrained

log = logging.getLogger(__name__)

URL_ENV = "TCLSTA_IMAGENET_URL"
TORCHVISION_URL = "https://download.pytorch.org/models/"
# torchvision's ResNet IMAGENET1K_V1 files (the weights the two-stream literature starts from).
IMAGENET_FILES = {
    18: "resnet18-f37072fd.pth",
    34: "resnet34-b627a593.pth",
    50: "resnet50-0676ba61.pth",
    101: "resnet101-63fe2227.pth",
    152: "resnet152-394f9c45.pth",
}
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{6,64})\.")


def cache_dir() -> Path:
    """torch.hub's checkpoint cache: ``$TORCH_HOME/hub/checkpoints`` (default ``~/.cache/torch/hub/checkpoints``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def imagenet_url(depth: int) -> str:
    """Where ``imagenet`` weights for a ResNet of ``depth`` come from (``$TCLSTA_IMAGENET_URL`` wins)."""
    override = os.environ.get(URL_ENV)
    if override:
        return override
    return TORCHVISION_URL + IMAGENET_FILES[depth]


def hash_prefix(name: str) -> str | None:
    """The SHA-256 prefix a torch.hub-style file name carries (``resnet50-0676ba61.pth`` → ``0676ba61``)."""
    match = _HASH_IN_NAME.search(name)
    return match.group(1) if match else None


def fetch(url: str, timeout: float = 60.0) -> Path:
    """The cached copy of ``url``, downloading it first if absent; checked against the hash in its name."""
    name = Path(urlparse(url).path).name
    if not name:
        raise ConfigError(f"{url}: no file name in the URL")
    target = cache_dir() / name
    expected = hash_prefix(name)
    if target.is_file():
        if expected and not sha256_file(target).startswith(expected):
            raise TclstaError(f"{target}: cached file does not match the SHA-256 prefix {expected} in its name "
                              f"(corrupt); delete it to download it again from {url}")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    hint = f"download {url} by other means and put it at {target} (or set model.pretrained to a local file)"
    with atomic_path(target) as tmp:  # a failed or cut-off download leaves nothing behind
        with open(tmp, "wb") as handle:
            digest = _download(url, handle, timeout, hint)
        if expected and not digest.startswith(expected):
            raise TclstaError(f"{url}: downloaded file has SHA-256 {digest[:16]}…, its name says {expected}…; "
                              f"nothing was cached. {hint}")
    log.info("downloaded %s to %s", url, target)
    return target


def _download(url: str, handle: Any, timeout: float, hint: str) -> str:
    """Stream ``url`` into ``handle``; return the SHA-256; raise on network errors or a short body."""
    digest = hashlib.sha256()
    received = 0
    log.info("downloading %s", url)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            announced = response.headers.get("Content-Length")
            for block in iter(lambda: response.read(CHUNK), b""):
                digest.update(block)
                handle.write(block)
                received += len(block)
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise TclstaError(f"{url}: download failed after {received} bytes ({err}); {hint}") from err
    if announced is not None and received != int(announced):
        raise TclstaError(f"{url}: download cut off at {received} of {announced} bytes; {hint}")
    return digest.hexdigest()


def pretrained_source(model_cfg: dict[str, Any]) -> str | None:
    """The URL or local path ``model.pretrained`` names; None for ``none``; null is an error."""
    value = model_cfg.get("pretrained")
    if value is None:
        raise ConfigError("model.pretrained is empty: set 'imagenet' (torchvision's ImageNet weights, as the "
                          "paper), 'none' (train from scratch) or the path of a torchvision-format state_dict")
    if value == "none":
        return None
    if value == "imagenet":
        depth, width = model_cfg["depth"], model_cfg["base_width"]
        if width != 64:
            raise ConfigError(f"model.pretrained=imagenet needs model.base_width=64 (torchvision's ResNet), "
                              f"got {width}; use 'none' for narrow networks")
        return imagenet_url(depth)
    return value


def initialise_backbone(backbone: ResNet, model_cfg: dict[str, Any]) -> None:
    """Load what ``model.pretrained`` names into ``backbone`` (cross-modality conv1 for flow), or log from-scratch."""
    source = pretrained_source(model_cfg)
    if source is None:
        log.warning("model.pretrained=none: training the ResNet from scratch (the paper starts from ImageNet)")
        return
    if source.startswith(("http://", "https://")):
        source = str(fetch(source))
    load_pretrained(backbone, source)
