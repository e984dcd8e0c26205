"""The alert route's own lane: `POST /alerts/{source}` served past the router's layers.

A storm is thousands of small requests, and on each of them Starlette's exception
middleware, FastAPI's exit stacks, the router and the route's request wrapper cost about a
fifth of the event loop's time (bench/README.md, "Issue 22's CPU bars after the alert
lane"). The route stays on the router (OpenAPI, other methods' 405, other paths' 404);
this lane only calls its handler directly, with the same request, errors and answers,
inside the same observers and body caps.
"""

from __future__ import annotations

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send


class AlertLane:
    """ASGI middleware: a POST on `route`'s one-segment path (`/alerts/{source}`) goes to
    the route's handler at once; everything else goes on to `app`.

    The handler must answer its own errors and need none of FastAPI's dependency exit
    stacks, as the alert route's does (it reads its own request; `JSONErrorRoute`)."""

    def __init__(self, app: ASGIApp, route: APIRoute) -> None:
        prefix, param = route.path.rsplit("/", 1)
        if param != "{source}":
            raise ValueError(f"{route.path}: the lane serves a path ending in /{{source}}")
        self.app = app
        self.route = route
        self.prefix = prefix + "/"
        self.handler = route.get_route_handler()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        source = self._source(scope)
        if source is None:
            await self.app(scope, receive, send)
            return
        # What the router would have set: the request metrics label by route and source.
        scope["route"] = self.route
        scope["endpoint"] = self.route.endpoint
        scope["path_params"] = {"source": source}
        response = await self.handler(Request(scope, receive, send))
        await response(scope, receive, send)

    def _source(self, scope: Scope) -> str | None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
            return None  # (a root path: the router's own matching knows how to strip it)
        path: str = scope["path"]
        if not path.startswith(self.prefix):
            return None
        source = path[len(self.prefix) :]
        return source if source and "/" not in source else None
