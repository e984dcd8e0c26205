"""Sandbox mode is for this machine only: a web page in the user's browser (by DNS rebinding
or a cross-site POST) reaches neither the sandbox's secrets and controls nor the tokenless
alert route; `warroom serve` will not put the sandbox on a public address unless told to.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from bot.sandbox.socket import SOCKET_PATH
from tests.e2e.conftest import Service, serving
from tests.support.process import child_env, cleanup, start_server
from tests.support.server import free_port

# Host and Origin are checked before anything touches the database: SQLite suffices.
SQLITE = pytest.mark.parametrize("database", ["sqlite"], indirect=True)

JSON = {"Content-Type": "application/json"}
EVIL = "http://evil.example"


@pytest.fixture
def tokenless(database: tuple[Engine, str]) -> Iterator[Service]:
    """Sandbox mode without WARROOM_ALERT_TOKEN: /alerts and /api trust loopback clients."""
    with serving(database[1], WARROOM_ALERT_TOKEN="") as running:
        yield running


def _host(service: Service) -> str:
    return service.url.removeprefix("http://")


def _command(service: Service, headers: dict[str, str], content: bytes) -> httpx.Response:
    return httpx.post(
        f"{service.url}/sandbox/api/sandbox.command", content=content, headers=headers
    )


def _channel_texts(service: Service, channel: str = "general") -> list[str]:
    return [m.get("text", "") for m in service.sandbox.messages(channel)]


@SQLITE
@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:3000",
        "127.0.0.1.nip.io",
        "localhost.evil.example",
        "[::2]:3000",
    ],
)
def test_sandbox_info_is_refused_under_any_other_host_name(service: Service, host: str) -> None:
    answer = httpx.get(f"{service.url}/sandbox/api/sandbox.info", headers={"Host": host})

    assert answer.status_code == 421
    assert answer.json() == {
        "ok": False,
        "error": "the sandbox answers only at localhost, 127.0.0.1 or [::1]",
    }
    assert "signing_secret" not in answer.text and "xoxb-" not in answer.text


@SQLITE
@pytest.mark.parametrize("host", ["localhost:{port}", "127.0.0.1:{port}", "LocalHost", "[::1]"])
def test_sandbox_answers_loopback_names(service: Service, host: str) -> None:
    port = service.url.rsplit(":", 1)[1]
    answer = httpx.get(
        f"{service.url}/sandbox/api/sandbox.info", headers={"Host": host.format(port=port)}
    )

    assert answer.status_code == 200
    assert answer.json()["signing_secret"]


@SQLITE
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({**JSON, "Origin": EVIL}, 403, id="json-from-another-origin"),
        pytest.param({"Content-Type": "text/plain", "Origin": EVIL}, 403, id="text-plain-form"),
        pytest.param({"Content-Type": "text/plain", "Origin": "null"}, 403, id="sandboxed-frame"),
        pytest.param(
            {"Content-Type": "text/plain", "Sec-Fetch-Site": "cross-site"}, 403, id="fetch-site"
        ),
        # Another port of this machine: another origin as far as the browser is concerned.
        pytest.param({**JSON, "Origin": "http://localhost:1"}, 403, id="other-port"),
        # No Origin at all (an old browser): the content type still tells a form from JSON.
        pytest.param({"Content-Type": "text/plain"}, 415, id="text-plain-no-origin"),
    ],
)
def test_cross_site_posts_to_sandbox_command_are_refused_and_run_nothing(
    service: Service, headers: dict[str, str], status: int
) -> None:
    before = _channel_texts(service)
    body = b'{"user": "alice", "channel": "general", "text": "/incident declare Forged by a page"}'

    answer = _command(service, headers, body)

    assert answer.status_code == status, answer.text
    assert answer.json()["ok"] is False
    assert _channel_texts(service) == before
    assert httpx.get(f"{service.url}/api/incidents", headers=service.auth).json() == {
        "incidents": [],
        "next_cursor": None,
    }


@SQLITE
def test_the_sandbox_page_itself_still_posts(service: Service) -> None:
    """What the page's own fetch sends: same origin, JSON."""
    origin = service.url
    headers = {**JSON, "Origin": origin, "Sec-Fetch-Site": "same-origin"}
    body = b'{"user": "alice", "channel": "general", "text": "hello from the page"}'

    answer = httpx.post(f"{service.url}/sandbox/ui/post", content=body, headers=headers)

    assert answer.status_code == 200 and answer.json()["ok"], answer.text
    assert "hello from the page" in _channel_texts(service)


@SQLITE
def test_a_cross_site_websocket_to_the_socket_endpoint_is_refused(service: Service) -> None:
    url = service.url.replace("http://", "ws://") + f"/sandbox/{SOCKET_PATH}?ticket=x"

    with pytest.raises(InvalidStatus) as refused:
        connect(url, origin=EVIL, open_timeout=5)  # type: ignore[arg-type]

    assert refused.value.response.status_code == 403


@SQLITE
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({**JSON, "Host": "evil.example"}, 421, id="rebound-host"),
        pytest.param({"Content-Type": "text/plain", "Origin": EVIL}, 403, id="cross-site-form"),
        pytest.param({"Content-Type": "text/plain"}, 415, id="text-plain"),
    ],
)
def test_the_tokenless_alert_route_refuses_what_a_page_could_send(
    tokenless: Service, headers: dict[str, str], status: int
) -> None:
    body = b'{"title": "Paged by a web page", "severity": "sev1"}'

    answer = httpx.post(f"{tokenless.url}/alerts/generic", content=body, headers=headers)

    assert answer.status_code == status, answer.text
    assert "error" in answer.json()
    assert httpx.get(f"{tokenless.url}/api/incidents").json() == {
        "incidents": [],
        "next_cursor": None,
    }


@SQLITE
def test_the_tokenless_alert_route_still_takes_local_json(tokenless: Service) -> None:
    body = b'{"title": "Paged from a terminal", "severity": "sev3"}'

    answer = httpx.post(f"{tokenless.url}/alerts/generic", content=body, headers=JSON)

    assert answer.status_code == 202, answer.text
    listed = httpx.get(f"{tokenless.url}/api/incidents").json()["incidents"]
    assert [incident["title"] for incident in listed] == ["Paged from a terminal"]


# -- binding ------------------------------------------------------------------------------


def _serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-P", "-m", "bot", "serve", "--port", str(free_port()), *args],
        env=child_env(DATABASE_URL=f"sqlite:///{tmp_path / 'w.db'}", **env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "warroom.internal"])
def test_serve_refuses_the_sandbox_on_a_non_loopback_address(tmp_path: Path, host: str) -> None:
    done = _serve(tmp_path, "--host", host)

    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert f"would serve the local sandbox on {host}" in done.stderr
    assert "--allow-remote-sandbox" in done.stderr and "WARROOM_SANDBOX_ALLOW_REMOTE" in done.stderr
    assert not (tmp_path / "w.db").exists(), "refused before touching the database"


@pytest.mark.parametrize(
    ("args", "env"),
    [
        pytest.param(["--allow-remote-sandbox"], {}, id="flag"),
        pytest.param([], {"WARROOM_SANDBOX_ALLOW_REMOTE": "1"}, id="env"),
    ],
)
def test_serve_puts_the_sandbox_on_all_addresses_when_told_to(
    tmp_path: Path, args: list[str], env: dict[str, str]
) -> None:
    process = start_server(
        "remote",
        tmp_path,
        env=child_env(
            DATABASE_URL=f"sqlite:///{tmp_path / 'w.db'}", WARROOM_ALERT_TOKEN="t" * 32, **env
        ),
        args=["--host", "0.0.0.0", *args],
    )
    with cleanup(process):
        # Still only under a loopback name: a remote browser must come through a tunnel.
        info = httpx.get(f"{process.url}/sandbox/api/sandbox.info")
        spoofed = httpx.get(
            f"{process.url}/sandbox/api/sandbox.info", headers={"Host": "warroom.example.com"}
        )
    assert info.status_code == 200
    assert spoofed.status_code == 421
