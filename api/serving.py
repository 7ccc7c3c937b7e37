"""Run an ASGI app with uvicorn on a loopback port in a background thread.

Used for the in-process offline emulator (real HTTP, so the SDK is exercised exactly as against
the real API) and by the tests to serve the app.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve_in_thread(
    app: Any, host: str = "127.0.0.1", port: int | None = None, **uvicorn_options: Any
) -> Iterator[str]:
    """Serve app until the block ends; yields its base URL once it accepts connections."""
    port = port or free_port(host)
    # No log_config or log_level: uvicorn would otherwise reconfigure the process's own
    # "uvicorn" loggers, silencing the main server's start-up lines when this runs inside it.
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        log_level=None,
        access_log=False,
        **uvicorn_options,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    started = threading.Event()
    while not started.wait(0.02):
        if server.started:
            started.set()
        elif not thread.is_alive():
            raise RuntimeError(f"server on {host}:{port} failed to start")
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
