"""A deadline for receiving each request: a client that trickles its headers or body is cut off.

uvicorn times out only idle keep-alive connections, and resets that timer on every byte;
nothing bounds the time a client takes to send a request, so a connection sending one
header byte a second stays open forever (1,500 of them held 1,500 sockets). This protocol
is uvicorn's own with one timer more: from the moment a connection opens, or the first
byte of its next request arrives, the whole request (head and body) must be in within
`receive_timeout` seconds, else the connection is closed (with a 408 if no answer is due).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

RECEIVE_TIMEOUT = 20.0  # seconds for a whole request; Slack's 3 s answer window is the norm


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, closing connections whose request is not in on time."""

    receive_timeout = RECEIVE_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._timed: object = None  # the cycle that was current when the timer was armed

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        # Bytes after a complete request (or the first ones) begin the next one.
        if self._deadline is None and (self.cycle is None or not self.cycle.more_body):
            self._arm()
        super().data_received(data)
        if self._deadline is not None and self._received():
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        # The socket belongs to the WebSocket protocol from here on, with its own pings.
        self._disarm()
        super().handle_websocket_upgrade()

    def _received(self) -> bool:
        cycle = self.cycle
        return cycle is not None and cycle is not self._timed and not cycle.more_body

    def _arm(self) -> None:
        self._timed = self.cycle
        self._deadline = self.loop.call_later(self.receive_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is self._timed and (self.cycle is None or self.cycle.response_complete):
            # No request head yet, and no answer half-written: say why before closing.
            self.transport.write(_timed_out(self.receive_timeout))
        self.transport.close()


def _timed_out(seconds: float) -> bytes:
    body = json.dumps({"error": f"request not received within {seconds:g} s"}).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


def deadline_protocol(receive_timeout: float) -> type[DeadlineProtocol]:
    """The protocol class to give uvicorn as `http=`, with its own timeout."""
    return type("DeadlineProtocol", (DeadlineProtocol,), {"receive_timeout": receive_timeout})
