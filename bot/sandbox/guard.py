"""The sandbox answers this machine only: a loopback Host, same-origin writes, JSON as JSON.

`sandbox.info` hands out tokens and the signing secret, and `sandbox.command` acts as any
user, so a web page must not reach them: not by DNS rebinding (its own name resolving to
127.0.0.1, which a loopback Host refuses), and not by a cross-site form or `text/plain`
POST (refused by Origin and Sec-Fetch-Site, and by requiring a JSON content type).
"""

from __future__ import annotations

import ipaddress
import json
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Sandbox-only methods, the page's actions and response_urls all read a JSON body.
JSON_PATHS = ("/api/sandbox.", "/ui/", "/response/")


def loopback_host(host: str | None) -> bool:
    """Tell whether a Host header names this machine: localhost, 127.0.0.0/8 or [::1]."""
    if not host:
        return False
    try:
        parts = urlsplit(f"//{host.strip()}")
        name, _port = parts.hostname, parts.port  # .port raises on a port that is not one
    except ValueError:
        return False
    if name is None or parts.netloc != host.strip() or parts.username is not None:
        return False
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def same_origin(origin: str, host: str) -> bool:
    """Tell whether an Origin header (`http://host:port`) names the Host the request reached."""
    scheme, sep, netloc = origin.strip().lower().partition("://")
    return bool(sep) and scheme in ("http", "https") and netloc == host.strip().lower()


def refusal(scope: Scope) -> tuple[int, str] | None:
    """The status and reason to refuse a request to the sandbox, or None to let it in."""
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    host = headers.get("host")
    if not loopback_host(host):
        return 421, "the sandbox answers only at localhost, 127.0.0.1 or [::1]"
    method = scope.get("method", "GET")
    if scope["type"] == "http" and method in SAFE_METHODS:
        return None
    if headers.get("sec-fetch-site") == "cross-site":
        return 403, "cross-site request refused"
    origin = headers.get("origin")
    if origin is not None and not same_origin(origin, host or ""):
        return 403, "cross-origin request refused"
    if scope["type"] == "http" and _takes_json(scope["path"]) and _has_body(headers):
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            return 415, "send the body as Content-Type: application/json"
    return None


def _takes_json(path: str) -> bool:
    rest = path.removeprefix("/sandbox")
    return rest.startswith(JSON_PATHS)


def _has_body(headers: dict[str, str]) -> bool:
    return "transfer-encoding" in headers or headers.get("content-length", "0").strip() != "0"


class SandboxGuard:
    """ASGI middleware refusing, under `prefix`, whatever `refusal` refuses."""

    def __init__(self, app: ASGIApp, prefix: str = "/sandbox") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not _under(scope["path"], self.prefix):
            await self.app(scope, receive, send)
            return
        refused = refusal(scope)
        if refused is None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            # Closing before the handshake is answered makes the server refuse it with a 403.
            await send({"type": "websocket.close", "code": 1008})
            return
        status, reason = refused
        body = json.dumps({"ok": False, "error": reason}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")
