"""Socket Mode for the sandbox: `apps.connections.open` and the WebSocket Slack's apps dial.

Slack's Socket Mode: the app calls `apps.connections.open` with its app-level token
(`xapp-...`), gets a one-time `wss://` URL, connects, receives `{"type": "hello"}`, then
envelopes `{"envelope_id", "type", "payload", "accepts_response_payload"}` for slash
commands, interactivity and events, and answers each with `{"envelope_id", "payload"?}`
within 3 seconds. The driver hands its deliveries to the hub here whenever an app is
connected, and posts to the Request URL otherwise.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from bot.sandbox.delivery import APP_TIMEOUT, AppAnswer

log = logging.getLogger(__name__)
SOCKET_PATH = "socket"


@dataclass
class _Connection:
    websocket: WebSocket
    loop: asyncio.AbstractEventLoop
    id: str


class SocketHub:
    """The app's open Socket Mode connections and the envelopes waiting for their ack."""

    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self._lock = threading.Lock()
        self._tickets: set[str] = set()
        self._connections: list[_Connection] = []
        self._pending: dict[str, concurrent.futures.Future[dict[str, Any]]] = {}
        self.delivered: list[dict[str, Any]] = []

    @property
    def connections(self) -> int:
        """How many app connections are open."""
        with self._lock:
            return len(self._connections)

    @property
    def connected(self) -> bool:
        """True while at least one app connection is open."""
        return self.connections > 0

    def issue_ticket(self) -> str:
        """A one-time ticket for the WebSocket URL `apps.connections.open` hands out."""
        ticket = secrets.token_urlsafe(16)
        with self._lock:
            self._tickets.add(ticket)
        return ticket

    def deliver(
        self, kind: str, payload: dict[str, Any], *, retry: int = 0, reason: str = ""
    ) -> AppAnswer:
        """Send one envelope to a connected app and wait for its ack (from a worker thread).

        Args:
            kind: `slash_commands`, `interactive` or `events_api`.
        """
        with self._lock:
            connection = self._connections[-1] if self._connections else None
        if connection is None:
            return AppAnswer(0, failure="connection_failed")
        envelope_id = secrets.token_hex(16)
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
        }
        if kind == "events_api":
            envelope["retry_attempt"] = retry
            envelope["retry_reason"] = reason
        waiter: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        with self._lock:
            self._pending[envelope_id] = waiter
        try:
            sent = asyncio.run_coroutine_threadsafe(
                connection.websocket.send_text(json.dumps(envelope)), connection.loop
            )
            sent.result(timeout=APP_TIMEOUT)
            ack = waiter.result(timeout=APP_TIMEOUT)
        except (TimeoutError, concurrent.futures.TimeoutError):
            return AppAnswer(0, failure="socket_timeout")
        except Exception:
            log.info("sandbox socket delivery failed", exc_info=True)
            return AppAnswer(0, failure="connection_failed")
        finally:
            with self._lock:
                self._pending.pop(envelope_id, None)
        with self._lock:
            self.delivered.append({"envelope_id": envelope_id, "type": kind})
            del self.delivered[:-500]
        body = json.dumps(ack["payload"]).encode() if ack.get("payload") else b""
        return AppAnswer(200, {"content-type": "application/json"}, body)

    async def serve(self, websocket: WebSocket, ticket: str) -> None:
        """Run one app connection: hello, then acks until it closes."""
        with self._lock:
            valid = ticket in self._tickets
            self._tickets.discard(ticket)
        if not valid:
            await websocket.close(code=1008, reason="invalid ticket")
            return
        await websocket.accept()
        connection = _Connection(websocket, asyncio.get_running_loop(), secrets.token_hex(6))
        await websocket.send_text(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": len(self._connections) + 1,
                    "debug_info": {"host": "sandbox", "approximate_connection_time": 18060},
                    "connection_info": {"app_id": self.app_id},
                }
            )
        )
        with self._lock:
            self._connections.append(connection)
        try:
            while True:
                message = await websocket.receive_text()
                self._acknowledge(message)
        except WebSocketDisconnect:
            pass
        finally:
            with self._lock:
                self._connections.remove(connection)

    def _acknowledge(self, message: str) -> None:
        try:
            ack = json.loads(message)
        except ValueError:
            log.info("sandbox socket: not JSON: %.80s", message)
            return
        if not isinstance(ack, dict):
            return
        with self._lock:
            waiter = self._pending.get(str(ack.get("envelope_id")))
        if waiter is not None and not waiter.done():
            waiter.set_result(ack)


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def build_socket_router(hub: SocketHub, app_token: str) -> APIRouter:
    """`apps.connections.open` and the WebSocket endpoint; include before `/api/{method}`."""
    router = APIRouter(tags=["sandbox"])

    @router.post("/api/apps.connections.open")
    async def apps_connections_open(request: Request) -> JSONResponse:
        """Slack's method: a one-time WebSocket URL for an app-level token."""
        token = _bearer(request)
        if token is None:
            form = await request.form()
            value = form.get("token")
            token = value if isinstance(value, str) else None
        if not token:
            return JSONResponse({"ok": False, "error": "not_authed"})
        if not token.startswith("xapp-"):
            return JSONResponse({"ok": False, "error": "not_allowed_token_type"})
        if not secrets.compare_digest(token, app_token):
            return JSONResponse({"ok": False, "error": "invalid_auth"})
        root = str(request.url.replace(query=""))[: -len("api/apps.connections.open")]
        scheme = "wss" if root.startswith("https:") else "ws"
        url = f"{scheme}:{root.split(':', 1)[1]}{SOCKET_PATH}?ticket={hub.issue_ticket()}"
        return JSONResponse({"ok": True, "url": url})

    @router.get("/api/sandbox.sockets")
    def sandbox_sockets() -> dict[str, Any]:
        """Sandbox-only: open Socket Mode connections and the envelopes acknowledged."""
        return {"ok": True, "connections": hub.connections, "delivered": list(hub.delivered)}

    @router.websocket(f"/{SOCKET_PATH}")
    async def socket(websocket: WebSocket, ticket: str = "") -> None:
        await hub.serve(websocket, ticket)

    return router
