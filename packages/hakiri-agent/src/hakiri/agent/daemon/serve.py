"""Run the daemon under uvicorn until SIGTERM/SIGINT (drain, then exit 0)."""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
from collections.abc import Iterator
from types import FrameType

import uvicorn

from hakiri.agent.daemon.app import build_app
from hakiri.agent.daemon.protocol import with_header_timeout
from hakiri.agent.daemon.state import Daemon, ServeConfig

__all__ = ["bind", "serve"]

log = logging.getLogger("hakiri.serve")


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, daemon: Daemon) -> None:
        super().__init__(config)
        self._daemon = daemon

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            # uvicorn re-raises the SIGTERM it caught once shut down, so the process would
            # die of it; the daemon has drained by then and exits with its own status.
            self._captured_signals.clear()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Open event streams end at once instead of holding the shutdown until its timeout;
        # runs in flight are drained after the server stops listening.
        self._daemon.stopping.set()
        super().handle_exit(sig, frame)


def serve(
    config: ServeConfig,
    sock: socket.socket,
    *,
    log_level: str = "info",
    access_log: bool = False,
) -> int:
    """Serve on the bound ``sock`` until told to stop; the exit status (0 when every run in
    flight ended within the drain timeout)."""
    logging.basicConfig(
        level=log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    daemon = Daemon(config)
    uv_config = uvicorn.Config(
        build_app(daemon),
        host=config.host,
        port=config.port,
        log_level=log_level,
        access_log=access_log,
        lifespan="on",
        # h11 (not httptools, even if installed): the header deadline is built on it.
        http=with_header_timeout(config.read_timeout),
        # An idle keep-alive connection is closed after this; headers are capped in size.
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=16 * 1024,
        # Keep-alive connections and streams get this long to finish after SIGTERM.
        timeout_graceful_shutdown=5,
        server_header=False,
    )
    server = _Server(uv_config, daemon)
    host, port = sock.getsockname()[:2]
    mcp = "/mcp" if config.mcp else "off"
    log.info("serving %s on http://%s:%d (MCP: %s)", config.root, _url_host(host), port, mcp)
    server.run(sockets=[sock])
    if not server.started:
        return 1
    return 0 if daemon.runs.drained_cleanly else 3


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free port). Raises ``OSError``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock
