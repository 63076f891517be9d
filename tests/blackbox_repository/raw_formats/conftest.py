"""A loopback HTTP server for raw-file downloads, and an offline raw-data setup.

``raw_file_server`` serves bytes registered per path from 127.0.0.1 on a free port, in a
thread; a route can also answer with an error status, cut its body half-way (the full
Content-Length is announced, then the connection closes), or claim to be an HTML page.
Every request path is recorded, so tests can check what was (not) downloaded again.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from blackbox_repository.file_format import sha256_file
from blackbox_repository.recipes import RawFile


@dataclass
class Route:
    """How the server answers GET ``path``."""

    body: bytes
    status: int = 200
    cut_at: int | None = None  # send only this many body bytes, then close
    content_type: str = "application/octet-stream"


@dataclass
class RawFileServer:
    """Routes and the list of requested paths of a running loopback server."""

    base_url: str
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def serve(self, path: str, body: bytes, **route) -> str:
        """Serve ``body`` at ``/path`` and return its URL."""
        self.routes["/" + path.lstrip("/")] = Route(body, **route)
        return self.url(path)

    def serve_file(self, path: str, file: Path, **route) -> RawFile:
        """Serve ``file`` at ``/path``; returns a RawFile with its real sha256."""
        url = self.serve(path, file.read_bytes(), **route)
        return RawFile(path=path, url=url, sha256=sha256_file(file))

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"


def _handler(server_state: RawFileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            server_state.requests.append(self.path)
            route = server_state.routes.get(self.path)
            if route is None:
                self.send_error(404, "Not Found")
                return
            if route.status != 200:
                self.send_error(route.status)
                return
            self.send_response(200)
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            body = route.body if route.cut_at is None else route.body[: route.cut_at]
            self.wfile.write(body)
            self.close_connection = True

        def log_message(self, format, *args) -> None:  # keep test output clean
            pass

    return Handler


@pytest.fixture
def raw_file_server() -> Iterator[RawFileServer]:
    """A threaded HTTP server on 127.0.0.1 (port 0) serving registered routes."""
    state = RawFileServer(base_url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def unreachable_url() -> str:
    """A loopback URL on a port that nothing listens on (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/missing.tar.gz"


@pytest.fixture
def offline_raw_data(monkeypatch, tmp_path) -> Path:
    """No local originals: ``$SIMTUNE_RAW_DATA_DIR`` unset; returns an empty raw-data dir."""
    monkeypatch.delenv("SIMTUNE_RAW_DATA_DIR", raising=False)
    monkeypatch.delenv("SIMTUNE_RAW_MIRROR_URL", raising=False)
    empty = tmp_path / "no-raw-data"
    empty.mkdir()
    return empty
