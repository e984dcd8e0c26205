"""Reading a request body with a hard size cap, before anything parses it."""

from __future__ import annotations

from fastapi import Request
from starlette.requests import ClientDisconnect

from bot.web.errors import WebError

MAX_BODY = 1024 * 1024  # 1 MiB


def _too_large(limit: int) -> WebError:
    return WebError(413, f"body larger than {limit} bytes (1 MiB) refused")


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
