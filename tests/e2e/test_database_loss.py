"""PostgreSQL lost while serving: readiness fails, requests get a 503 JSON error (never a stack
trace), and the service recovers by itself when the database comes back.

The test puts a small TCP proxy between the service and PostgreSQL and cuts it: every open
connection dies and new ones are refused, as when the database host goes away.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import Engine, make_url

from tests.e2e.conftest import Service, serving
from tests.e2e.test_faults import alertmanager
from tests.support.server import wait_until

LEAKS = ("Traceback", "psycopg", "OperationalError", "SELECT", 'File "')


class Proxy:
    """Forward 127.0.0.1:port to PostgreSQL until cut; while cut, close every connection."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.up = True
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, name="pg-proxy", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()  # refused: the database is "down"
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """The database goes away: open connections drop, new ones are refused."""
        self.up = False
        with self._lock:
            dropped, self._open = self._open, []
        for sock in dropped:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()


@pytest.fixture
def behind_proxy(database: tuple[Engine, str]) -> Iterator[tuple[Service, Proxy]]:
    url = make_url(database[1])
    proxy = Proxy((url.host or "127.0.0.1", url.port or 5432))
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        with serving(proxied) as service:
            yield service, proxy
    finally:
        proxy.close()


def _no_leak(answer: httpx.Response) -> None:
    for word in LEAKS:
        assert word not in answer.text, answer.text


@contextlib.contextmanager
def response_url() -> Iterator[tuple[str, list[dict]]]:
    """A local stand-in for Slack's response_url: collects what the bot replies there."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            received.append(json.loads(self.rfile.read(length) or b"{}"))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/respond", received
    finally:
        server.shutdown()
        server.server_close()


def _signed_command(secret: str, channel: str, respond_to: str) -> tuple[bytes, dict[str, str]]:
    body = urlencode(
        {
            "command": "/incident",
            "text": "note database gone",
            "user_id": "U0ALICE",
            "user_name": "alice",
            "channel_id": channel,
            "team_id": "T0SANDBOX",
            "trigger_id": "t-db-lost",
            "response_url": respond_to,
        }
    ).encode()
    timestamp = str(int(time.time()))
    signature = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256)
    return body, {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": "v0=" + signature.hexdigest(),
        "Content-Type": "application/x-www-form-urlencoded",
    }


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_losing_postgres_answers_503_json_and_recovers_without_restart(
    behind_proxy: tuple[Service, Proxy],
) -> None:
    service, proxy = behind_proxy
    http = httpx.Client(base_url=service.url, timeout=15, headers=service.auth)
    assert http.get("/readyz").status_code == 200
    assert http.post("/alerts/alertmanager", json=alertmanager(1, 1)).status_code == 202
    secret = service.sandbox.signing_secret  # the sandbox lives in the same database
    # Bolt checks its token with auth.test on the first Slack request; real Slack stays up
    # when our database goes, but this sandbox does not, so that happens before the cut.
    service.sandbox.as_user("alice").command("/incident help", "general")

    proxy.cut()
    ready = http.get("/readyz")
    assert (ready.status_code, ready.json()) == (
        503,
        {"status": "unavailable", "database": "unreachable"},
    )
    assert http.get("/healthz").status_code == 200  # the process itself is fine
    for answer in (
        http.post("/alerts/alertmanager", json=alertmanager(2, 1)),
        http.get("/api/incidents"),
        http.get("/api/incidents/1"),
        http.get("/api/incidents/1/timeline"),
        http.get("/api/incidents/1/postmortem"),
    ):
        assert answer.status_code == 503, (answer.request.url, answer.text)
        assert answer.json() == {"error": "database unavailable"}
        _no_leak(answer)
    with response_url() as (respond_to, replies):
        body, headers = _signed_command(secret, "C0GENERAL", respond_to)
        slack = httpx.post(f"{service.url}/slack/events", content=body, headers=headers)
        assert slack.status_code == 200  # answered in time: Slack sees no error of ours
        _no_leak(slack)
        # Nothing could be stored, so the answer itself tells the responder privately that
        # nothing was recorded: no "received" for a command a crash could lose.
        assert slack.json()["response_type"] == "ephemeral"
        assert "cannot reach its database" in slack.json()["text"]
        assert replies == []

    proxy.restore()
    wait_until(lambda: http.get("/readyz").status_code == 200, timeout=15)
    accepted = http.post("/alerts/alertmanager", json=alertmanager(2, 1))
    assert accepted.status_code == 202, accepted.text
    incidents = http.get("/api/incidents").json()["incidents"]
    assert len(incidents) == 2
    # The dispatcher survived the outage too: the new incident gets its channel and card.
    new = accepted.json()["incidents"][0]["id"]
    channel = wait_until(lambda: http.get(f"/api/incidents/{new}").json()["channel_id"], 20)
    wait_until(
        lambda: [m for m in service.sandbox.messages(channel) if m.get("pinned_to")], timeout=20
    )
    http.close()
