"""What the loopback-only (tokenless, sandbox-mode) routes refuse: a browser sent by a web page.

Loopback trust means "this machine", but a browser on this machine runs strangers' pages:
by DNS rebinding one reaches 127.0.0.1 under its own name (refused: the Host must be a
loopback name or address), and any page may POST a form or `text/plain` body cross-site
(refused by Origin and Sec-Fetch-Site, and by requiring a JSON content type).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from fastapi import Request

from bot.web.errors import WebError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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


def browser_refusal(request: Request) -> WebError | None:
    """The error to answer a request that a web page could have sent, or None."""
    host = request.headers.get("host")
    if not loopback_host(host):
        return WebError(421, "without WARROOM_ALERT_TOKEN this route answers only at localhost")
    if request.method in SAFE_METHODS:
        return None
    origin = request.headers.get("origin")
    cross_origin = origin is not None and origin.strip().lower().partition("://")[2] != (
        (host or "").strip().lower()
    )
    if cross_origin or request.headers.get("sec-fetch-site") == "cross-site":
        return WebError(403, "cross-site request refused")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        return WebError(415, "send the body as Content-Type: application/json")
    return None
