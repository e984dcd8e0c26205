"""Hostile clients at the door of a real `warroom serve`: bodies are capped on every route
before they are read, slow or stalled connections are closed, malformed Slack signature
headers get a 401, and the framework's own errors answer in our JSON shape.

One server for the module (sandbox mode, SQLite, `--receive-timeout 2` so a stalled
connection is cut within seconds); every test leaves it serving.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from websockets.sync.client import connect

from tests.bot.alerts.payloads import alertmanager_group
from tests.support.process import ServerProcess, child_env, cleanup, start_server
from tests.support.server import wait_until

TOKEN = "request-limits-alert-token"
RECEIVE_TIMEOUT = 2.0
MIB = 1024 * 1024
TOO_LARGE = {"error": "body larger than 1048576 bytes (1 MiB) refused"}
# Alert routes take bigger bodies (an Alertmanager group of every alert of a storm); the
# server below caps them at 3 MiB instead of the 16 MiB default, to keep the test light.
ALERT_CAP = 3 * MIB
ALERT_TOO_LARGE = {"error": "body larger than 3145728 bytes (3 MiB) refused"}
# Every kind of route: Slack's (signed), an alert source, a sandbox method, the Web API
# stand-in, and one that takes no body at all.
ROUTES = [
    "/slack/events",
    "/alerts/generic",
    "/sandbox/api/sandbox.command",
    "/sandbox/api/chat.postMessage",
    "/healthz",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("limits")
    env = child_env(
        DATABASE_URL=f"sqlite:///{workdir / 'warroom.db'}",
        WARROOM_ALERT_TOKEN=TOKEN,
        WARROOM_MAX_ALERT_BODY=str(ALERT_CAP),
    )
    args = ["--receive-timeout", str(RECEIVE_TIMEOUT)]
    process = start_server("limits", workdir, env=env, args=args)
    with cleanup(process):
        yield process
    # uvicorn's line for an exception escaping the app: a 500 and a traceback per request.
    assert "Exception in ASGI application" not in process.log(), process.log()


def _connect(server: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def _head(server: ServerProcess, path: str, *lines: str) -> bytes:
    fields = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", *lines]
    return ("\r\n".join(fields) + "\r\n\r\n").encode()


def _read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP response (status, headers, body) from a raw socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"closed before an answer: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *fields = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (f.partition(":") for f in fields)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body


def _closed_after(sock: socket.socket, limit: float) -> tuple[float, bytes]:
    """Wait for the server to close; return (seconds waited, what it sent before closing)."""
    started = time.monotonic()
    received = b""
    while time.monotonic() - started < limit:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        received += chunk
    return time.monotonic() - started, received


def _rss(server: ServerProcess) -> int:
    """The server process's resident memory in bytes, from /proc."""
    status = Path(f"/proc/{server.popen.pid}/status").read_text()
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(kib) * 1024


def _titles(server: ServerProcess) -> list[str]:
    return [incident["title"] for incident in server.get("/api/incidents")["incidents"]]


# -- the body cap ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ROUTES)
def test_a_declared_body_over_the_cap_is_refused_before_it_is_sent(
    server: ServerProcess, path: str
) -> None:
    """150 MiB announced, not one byte of it sent: the answer comes anyway, so nothing waited
    for (or buffered) the body."""
    with _connect(server) as sock:
        sock.sendall(
            _head(server, path, "Content-Type: application/json", f"Content-Length: {150 * MIB}")
        )
        status, headers, body = _read_answer(sock)

    expected = ALERT_TOO_LARGE if path.startswith("/alerts/") else TOO_LARGE
    assert (status, json.loads(body)) == (413, expected)
    assert headers["content-type"] == "application/json"


def _stream_chunked(
    server: ServerProcess, path: str, total: int, *lines: str
) -> tuple[int, int | None]:
    """Send a chunked body of `total` bytes until the server answers or hangs up; return
    (bytes sent, status answered or None)."""
    chunk = b"x" * (64 * 1024)
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with _connect(server) as sock:
        sock.sendall(_head(server, path, *lines, "Transfer-Encoding: chunked"))
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(framed)
            except (BrokenPipeError, ConnectionResetError):
                return sent, None
            sent += len(chunk)
        try:
            status, _headers, body = _read_answer(sock)
        except (ConnectionResetError, AssertionError):
            return sent, None
    assert json.loads(body) == (ALERT_TOO_LARGE if path.startswith("/alerts/") else TOO_LARGE)
    return sent, status


def test_three_parallel_150_mib_unsigned_slack_bodies_are_cut_at_the_cap(
    server: ServerProcess,
) -> None:
    """The attack of issue 18: RSS went from 130 to 1,615 MiB. Now each stream is refused
    once it crosses 1 MiB and the server's memory barely moves."""
    before = _rss(server)
    peak = before
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss(server))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(3) as pool:
            results = list(
                pool.map(
                    lambda _: _stream_chunked(
                        server, "/slack/events", 150 * MIB, "Content-Type: text/plain"
                    ),
                    range(3),
                )
            )
    finally:
        done.set()
        watcher.join()

    for sent, status in results:
        assert status == 413
        # The cap plus what the kernel's socket buffers took before the refusal.
        assert sent < 32 * MIB, sent
    assert peak - before < 48 * MIB, (before, peak)
    assert httpx.get(f"{server.url}/healthz").status_code == 200


@pytest.mark.parametrize("path", ["/alerts/generic", "/sandbox/api/sandbox.command"])
def test_a_chunked_body_over_the_cap_is_refused_with_413(server: ServerProcess, path: str) -> None:
    lines = [f"Authorization: Bearer {TOKEN}", "Content-Type: application/json"]
    sent, status = _stream_chunked(server, path, 5 * MIB, *lines)

    assert status == 413
    assert sent <= 5 * MIB


def test_a_body_under_the_cap_still_goes_through_chunked(server: ServerProcess) -> None:
    alert = {"title": "Chunked under the cap", "severity": "sev3", "labels": {"service": "x"}}
    raw = json.dumps(alert).encode()
    answer = httpx.post(
        f"{server.url}/alerts/generic",
        content=iter([raw[:10], raw[10:]]),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )

    assert "content-length" not in answer.request.headers
    assert answer.status_code == 202, answer.text


def test_an_alert_group_over_one_mib_is_accepted_on_the_alert_routes_only(
    server: ServerProcess,
) -> None:
    body = alertmanager_group(3000, group_key='{}:{alertname="AcceptedStorm"}')
    assert MIB < len(body) < ALERT_CAP
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

    accepted = httpx.post(f"{server.url}/alerts/alertmanager", content=body, headers=headers)
    # Slack's route, unauthenticated, keeps its small cap.
    refused = httpx.post(f"{server.url}/slack/events", content=body, headers=headers)

    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["alerts"] == 3000
    assert (refused.status_code, refused.json()) == (413, TOO_LARGE)


def test_an_alert_group_over_the_cap_is_refused_and_logged_with_its_group_key(
    server: ServerProcess,
) -> None:
    key = '{}:{alertname="RefusedStorm"}'
    body = alertmanager_group(6000, group_key=key)
    assert len(body) > ALERT_CAP
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

    answer = httpx.post(f"{server.url}/alerts/alertmanager", content=body, headers=headers)

    assert (answer.status_code, answer.json()) == (413, ALERT_TOO_LARGE)
    line = wait_until(
        lambda: next((ln for ln in server.log().splitlines() if "RefusedStorm" in ln), None)
    )
    assert "WARNING" in line
    assert f"refused a {len(body)}-byte alertmanager notification" in line
    assert f"(group key {key!r})" in line
    assert "RefusedStorm" not in _titles(server)


# -- slow and stalled connections ----------------------------------------------------------


def test_a_connection_trickling_its_headers_is_closed_within_the_timeout(
    server: ServerProcess,
) -> None:
    head = _head(server, "/alerts/generic", "Content-Type: application/json")
    closed_at: float | None = None
    with _connect(server) as sock:
        started = time.monotonic()
        for byte in head[:-4]:  # never the blank line that ends the head
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            readable, _, _ = select.select([sock], [], [], 1.0)  # one byte a second
            if readable:
                break
        _waited, said = _closed_after(sock, 5)
        closed_at = time.monotonic() - started

    assert closed_at < RECEIVE_TIMEOUT + 1.5, closed_at
    assert closed_at >= RECEIVE_TIMEOUT - 0.5, closed_at
    assert said.startswith(b"HTTP/1.1 408 "), said
    assert b"request not received within 2 s" in said


def test_many_silent_connections_are_all_closed(server: ServerProcess) -> None:
    """Connections that open and send nothing (or half a request line) do not stay open."""
    socks = [_connect(server) for _ in range(100)]
    try:
        for n, sock in enumerate(socks):
            if n % 2:
                sock.sendall(b"GET /heal")
        started = time.monotonic()
        for sock in socks:
            _closed_after(sock, RECEIVE_TIMEOUT + 5)
        elapsed = time.monotonic() - started
    finally:
        for sock in socks:
            sock.close()

    assert elapsed < RECEIVE_TIMEOUT + 2, elapsed
    assert httpx.get(f"{server.url}/healthz").status_code == 200


def test_a_stalled_body_is_cut_and_stores_nothing(server: ServerProcess) -> None:
    with _connect(server) as sock:
        sock.sendall(
            _head(
                server,
                "/alerts/generic",
                f"Authorization: Bearer {TOKEN}",
                "Content-Type: application/json",
                "Content-Length: 100",
            )
            + b'{"title": "Stalled'
        )
        waited, _said = _closed_after(sock, RECEIVE_TIMEOUT + 5)

    assert waited < RECEIVE_TIMEOUT + 1.5, waited
    assert "Stalled" not in _titles(server)


def test_a_kept_alive_connection_trickling_its_next_request_is_closed(
    server: ServerProcess,
) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status, _headers, _body = _read_answer(sock)
        assert status == 200
        started = time.monotonic()
        for byte in b"GET /healthz HTTP/1.1\r\n":
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            if select.select([sock], [], [], 0.5)[0]:
                break
        _closed_after(sock, 5)
        elapsed = time.monotonic() - started

    assert elapsed < RECEIVE_TIMEOUT + 1.5, elapsed


def test_a_request_sent_slowly_but_within_the_timeout_is_served(server: ServerProcess) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /heal")
        time.sleep(RECEIVE_TIMEOUT / 2)
        sock.sendall(b"thz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status, _headers, body = _read_answer(sock)

    assert (status, json.loads(body)) == (200, {"status": "ok"})


def test_the_deadline_leaves_an_open_websocket_alone(server: ServerProcess) -> None:
    """Socket Mode's connection is a request that never ends: the timer stops at the upgrade."""
    app_token = server.sandbox("sandbox.info")["app_token"]
    opened = httpx.post(
        f"{server.url}/sandbox/api/apps.connections.open",
        headers={"Authorization": f"Bearer {app_token}"},
    ).json()
    with connect(opened["url"], open_timeout=5) as websocket:
        hello = json.loads(websocket.recv(timeout=5))
        time.sleep(RECEIVE_TIMEOUT * 2)
        still_open = server.sandbox("sandbox.sockets")["connections"]
        websocket.ping().wait(timeout=5)

    assert hello["type"] == "hello"
    assert still_open == 1


# -- malformed Slack signature headers ---------------------------------------------------


def _command(title: str = "Forged with malformed headers") -> bytes:
    fields = {
        "command": "/incident",
        "text": f"declare {title}",
        "user_id": "U0ALICE",
        "channel_id": "C0GENERAL",
        "team_id": "T0SANDBOX",
        "trigger_id": "t-malformed",
        "response_url": "http://127.0.0.1:1/none",
    }
    return urlencode(fields).encode()


def _signature(secret: str, timestamp: str, body: bytes) -> str:
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("timestamp", "signature", "reason"),
    [
        pytest.param(b"not-a-number", None, "not a Unix time", id="timestamp-words"),
        # int() would take these (Unicode digits, a space); Slack never sends them.
        pytest.param(
            "１７００００００００".encode(), None, "not a Unix time", id="timestamp-fullwidth"
        ),
        pytest.param(b"1.7e9", None, "not a Unix time", id="timestamp-float"),
        pytest.param(b"9" * 400, None, "not a Unix time", id="timestamp-huge"),
        pytest.param(None, ("v0=" + "é" * 64).encode(), "not v0=", id="signature-non-ascii"),
        pytest.param(None, b"v0=" + bytes(range(128, 192)), "not v0=", id="signature-bytes"),
        pytest.param(None, b"v1=" + b"a" * 64, "not v0=", id="signature-other-version"),
    ],
)
def test_malformed_signature_headers_get_401_json(
    server: ServerProcess, timestamp: bytes | None, signature: bytes | None, reason: str
) -> None:
    body = _command()
    secret = server.sandbox("sandbox.info")["signing_secret"]
    now = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp or now.encode(),
        "X-Slack-Signature": signature or _signature(secret, now, body).encode(),
    }
    answer = httpx.post(f"{server.url}/slack/events", content=body, headers=headers)

    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert reason in answer.json()["error"]
    assert "Forged with malformed headers" not in _titles(server)


def test_a_body_that_is_not_utf8_gets_401_unsigned_and_400_signed(server: ServerProcess) -> None:
    body = b"command=/incident&text=\xff\xfe"
    secret = server.sandbox("sandbox.info")["signing_secret"]
    now = str(int(time.time()))
    form = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": now}
    forged = httpx.post(
        f"{server.url}/slack/events",
        content=body,
        headers={**form, "X-Slack-Signature": "v0=" + "0" * 64},
    )
    signed = httpx.post(
        f"{server.url}/slack/events",
        content=body,
        headers={**form, "X-Slack-Signature": _signature(secret, now, body)},
    )

    assert (forged.status_code, forged.json()["error"]) == (
        401,
        "X-Slack-Signature does not verify",
    )
    assert (signed.status_code, signed.json()) == (400, {"error": "body is not UTF-8"})


def test_a_well_signed_command_still_goes_through(server: ServerProcess) -> None:
    body = _command("Signed after all")
    secret = server.sandbox("sandbox.info")["signing_secret"]
    now = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": now,
        "X-Slack-Signature": _signature(secret, now, body),
    }
    answer = httpx.post(f"{server.url}/slack/events", content=body, headers=headers)

    assert answer.status_code == 200, answer.text
    wait_until(lambda: "Signed after all" in _titles(server), timeout=10)


# -- the framework's own errors ----------------------------------------------------------


def test_wrong_method_and_unknown_route_answer_in_our_error_shape(server: ServerProcess) -> None:
    wrong_method = httpx.delete(f"{server.url}/healthz")
    unknown = httpx.get(f"{server.url}/no/such/route")
    missing_param = httpx.get(f"{server.url}/sandbox/api/sandbox.channel")

    assert (wrong_method.status_code, wrong_method.json()) == (405, {"error": "Method Not Allowed"})
    assert wrong_method.headers["allow"] == "GET"
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Not Found"})
    assert missing_param.status_code == 422
    assert missing_param.json() == {
        "error": "invalid request",
        "details": ["query.channel: Field required"],
    }
