"""One ASGI middleware that times each HTTP request and tells its observers the outcome."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

# (ASGI scope, response status, seconds taken)
Observer = Callable[[dict[str, Any], int, float], None]


class ObservedRequests:
    """Time every HTTP request once, then hand (scope, status, seconds) to each observer.

    The access log and the request metrics both want this; one wrapper around the app
    costs the request one extra layer instead of two.
    """

    def __init__(self, app: Callable[..., Any], observers: Sequence[Observer]) -> None:
        self.app = app
        self.observers = tuple(observers)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - started
            for observe in self.observers:
                observe(scope, status, seconds)
