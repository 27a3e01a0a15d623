"""A real HTTP server on 127.0.0.1 serving generated weight files (for model.pretrained downloads)."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch


@dataclass
class Served:
    """What the server holds: path → bytes; paths in ``cut`` announce more bytes than they send."""

    files: dict[str, bytes] = field(default_factory=dict)
    cut: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)
    url: str = ""


def state_dict_bytes(state: dict[str, torch.Tensor]) -> bytes:
    """``torch.save`` of ``state`` as bytes."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def hashed_name(stem: str, data: bytes) -> str:
    """torch.hub-style file name ``<stem>-<first 8 hex digits of SHA-256>.pth``."""
    return f"{stem}-{hashlib.sha256(data).hexdigest()[:8]}.pth"


@contextmanager
def serve() -> Iterator[Served]:
    """Serve ``Served.files`` at ``Served.url`` + path until the block ends."""
    served = Served()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = self.path.lstrip("/")
            served.requests.append(path)
            data = served.files.get(path)
            if data is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            # a cut-off download: half the body, then the connection closes
            self.wfile.write(data[: len(data) // 2] if path in served.cut else data)
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
