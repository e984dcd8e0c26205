"""Run an ASGI app in a real uvicorn server on a free port, and wait for things with a deadline."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def run_app_in_thread(
    app: Any, *, startup_timeout: float = 10.0, port: int | None = None
) -> Iterator[str]:
    """Serve app on 127.0.0.1 in a background thread; yield its base URL (no trailing /)."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), timeout=startup_timeout)
        if not server.started:
            raise RuntimeError("uvicorn did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def wait_until(predicate: Callable[[], Any], timeout: float = 5, interval: float = 0.02) -> Any:
    """Return predicate()'s first truthy value, or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate}")
        time.sleep(interval)


def fetch_file(sandbox: Any, url: str) -> httpx.Response:
    """GET a file's private URL as the app does: with the bot's token (Slack answers its
    sign-in page without one)."""
    token = sandbox.info()["bot_token"]
    return httpx.get(url, headers={"Authorization": f"Bearer {token}"})
