"""Request bodies with a hard size cap: one ASGI guard for every route, and a capped read."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import anyio
from fastapi import Request
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.web.errors import WebError

MIB = 1024 * 1024
MAX_BODY = MIB
LINGER = 1.0  # seconds a refused body is still read (and dropped) before the connection closes
GLIMPSE = 64 * 1024  # bytes of a refused body's start and end kept to say what it was


def _too_large(limit: int) -> WebError:
    return WebError(413, f"body larger than {limit} bytes ({limit / MIB:g} MiB) refused")


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """Return the raw body, refusing 413 as soon as it is known to exceed `limit`.

    The body is kept on `request.state`, so a signature check and the route share one read.
    """
    cached = getattr(request.state, "raw_body", None)
    if cached is not None:
        return cached
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise WebError(400, "Content-Length is not a number") from None
        if length > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            # Without a Content-Length (chunked upload) the cap is enforced while reading,
            # so a client cannot make us buffer an unbounded body.
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise WebError(400, "client disconnected before the body was complete") from None
    body = b"".join(chunks)
    request.state.raw_body = body
    return body


class BodyTooLarge(Exception):
    """Raised from `receive` when a streamed body crosses its cap."""


@dataclass(frozen=True)
class Refused:
    """A body the guard refused 413, as far as it was seen.

    `size` is the declared Content-Length, else the bytes that arrived before the
    connection let go (`complete` tells whether that was the whole body). `head` and
    `tail` are at most `GLIMPSE` bytes of its start and of what arrived last: enough to
    name what the body was about without ever holding more than that.
    """

    path: str
    client: str | None
    limit: int
    size: int
    complete: bool
    head: bytes
    tail: bytes


class _Glimpse:
    """Counts a body's bytes and keeps its first and last `GLIMPSE` of them."""

    def __init__(self) -> None:
        self.size = 0
        self.ended = False
        self.head = bytearray()
        self.tail = bytearray()

    def see(self, message: Message) -> None:
        chunk: bytes = message.get("body", b"")
        self.size += len(chunk)
        self.ended = not message.get("more_body", False)
        if len(self.head) < GLIMPSE:
            self.head += chunk[: GLIMPSE - len(self.head)]
        self.tail += chunk[-GLIMPSE:]
        del self.tail[:-GLIMPSE]


class BodyCap:
    """ASGI guard: every request body is capped before any route reads it.

    A declared Content-Length over the cap is answered 413 at once, unread. A body without
    one (chunked) is counted as it streams and refused as it crosses the cap, so no route,
    Bolt's included, ever buffers more than the cap. `larger` gives path prefixes their own
    cap (the sandbox's file uploads stand in for Slack's, which take big files; alert
    groups can be large). `on_refused` hears of every 413, once the connection let go.
    """

    def __init__(
        self,
        app: ASGIApp,
        limit: int = MAX_BODY,
        larger: Mapping[str, int] | None = None,
        on_refused: Callable[[Refused], None] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.larger = tuple((larger or {}).items())
        self.on_refused = on_refused

    def _limit(self, path: str) -> int:
        for prefix, limit in self.larger:
            if path.startswith(prefix):
                return limit
        return self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        declared: bytes | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
            elif name == b"transfer-encoding":
                chunked = True
        if declared is not None and not chunked:
            if not declared.isdigit():
                await _answer(send, 400, "Content-Length is not a number", receive)
            elif int(declared) > limit:
                glimpse = _Glimpse()
                await _answer(send, 413, _too_large(limit).body["error"], receive, glimpse)
                self._refused(scope, limit, glimpse, declared=int(declared))
            else:
                # The HTTP parser frames the body by its Content-Length: it cannot grow.
                await self.app(scope, receive, send)
            return
        await self._counted(scope, receive, send, limit)

    def _refused(
        self, scope: Scope, limit: int, glimpse: _Glimpse, declared: int | None = None
    ) -> None:
        if self.on_refused is None:
            return
        client = scope.get("client")
        self.on_refused(
            Refused(
                path=scope["path"],
                client=client[0] if client else None,
                limit=limit,
                size=declared if declared is not None else glimpse.size,
                complete=declared is not None or glimpse.ended,
                head=bytes(glimpse.head),
                tail=bytes(glimpse.tail),
            )
        )

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        glimpse = _Glimpse()
        refused = started = False

        async def counting() -> Message:
            nonlocal refused
            message = await receive()
            if message["type"] == "http.request":
                glimpse.see(message)
                if glimpse.size > limit:
                    refused = True
                    raise BodyTooLarge
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            # Whatever the route made of the refusal (a 400, a 500) stays unsent: ours goes.
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting, sending)
        except Exception:
            if not refused:
                raise
        if refused and not started:
            await _answer(send, 413, _too_large(limit).body["error"], receive, glimpse)
        if refused:
            self._refused(scope, limit, glimpse)


async def _answer(
    send: Send, status: int, error: str, receive: Receive, glimpse: _Glimpse | None = None
) -> None:
    body = json.dumps({"error": error}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": True})
    # Closing a socket with unread bytes resets it, and a reset can destroy the answer
    # before the client reads it: take (and drop) what is still in flight for a moment.
    with anyio.move_on_after(LINGER):
        while True:
            message = await receive()
            if glimpse is not None and message["type"] == "http.request":
                glimpse.see(message)
            if not message.get("more_body"):
                break
    await send({"type": "http.response.body", "body": b""})
