"""Attackers at the door: Slack requests with an altered body or missing signature headers
are refused and change nothing; outside sandbox mode `/api` and `/alerts` never serve
without WARROOM_ALERT_TOKEN, not even to loopback clients.

(A wrong signing secret and a stale timestamp are in test_slack_flow.py.)"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from bot.composition.app import create_app
from bot.composition.runtime import build_runtime
from bot.web.auth import TOKEN_REQUIRED
from storage.models import Incident, TimelineEvent
from tests.e2e.conftest import Service, make_settings
from tests.support.server import free_port, run_app_in_thread


def _command(text: str) -> bytes:
    return urlencode(
        {
            "command": "/incident",
            "text": text,
            "user_id": "U0ALICE",
            "user_name": "alice",
            "channel_id": "C0GENERAL",
            "team_id": "T0SANDBOX",
            "trigger_id": f"t-{text}",
            "response_url": "http://127.0.0.1:1/none",
        }
    ).encode()


def _headers(secret: str, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    signature = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": "v0=" + signature.hexdigest(),
        "Content-Type": "application/x-www-form-urlencoded",
    }


def _nothing_recorded(engine: Engine) -> bool:
    with Session(engine) as session:
        incidents = session.scalar(select(func.count()).select_from(Incident))
        events = session.scalar(select(func.count()).select_from(TimelineEvent))
    return incidents == 0 and events == 0


# Signatures are checked before anything touches the database: SQLite suffices.
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "tamper",
    ["altered-body", "no-signature", "no-timestamp", "no-headers", "empty-signature"],
)
def test_tampered_or_unsigned_slack_requests_get_401_and_record_nothing(
    service: Service, database: tuple[Engine, str], tamper: str
) -> None:
    signed = _command("declare Signed incident")
    headers = _headers(service.sandbox.signing_secret, signed)
    body = signed
    if tamper == "altered-body":
        body = _command("declare Forged incident sev1")  # same headers, another body
    elif tamper == "no-signature":
        del headers["X-Slack-Signature"]
    elif tamper == "no-timestamp":
        del headers["X-Slack-Request-Timestamp"]
    elif tamper == "no-headers":
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    else:
        headers["X-Slack-Signature"] = ""
    answer = httpx.post(f"{service.url}/slack/events", content=body, headers=headers)
    assert answer.status_code == 401, answer.text
    assert _nothing_recorded(database[0])
    # The genuine request goes through afterwards, so the refusal was about the signature.
    ok = httpx.post(
        f"{service.url}/slack/events",
        content=signed,
        headers=_headers(service.sandbox.signing_secret, signed),
    )
    assert ok.status_code == 200
    with Session(database[0]) as session:
        titles = list(session.scalars(select(Incident.title)))
    assert "Forged incident" not in titles
    assert all(t == "Signed incident" for t in titles)


@pytest.fixture
def real_slack_app(database: tuple[Engine, str]) -> Iterator[tuple[str, Engine]]:
    """warroom with (dummy) real-Slack credentials and no WARROOM_ALERT_TOKEN, on loopback."""
    settings = make_settings(
        database[1],
        SLACK_BOT_TOKEN="xoxb-not-a-real-token",
        SLACK_SIGNING_SECRET="not-a-real-signing-secret",
        # Nothing listens there: no request may ever reach a real Slack.
        SLACK_API_URL=f"http://127.0.0.1:{free_port()}/",
        WARROOM_ALERT_TOKEN="",
    )
    assert not settings.sandbox_mode
    runtime = build_runtime(settings)
    port = free_port()
    app = create_app(runtime, public_url=f"http://127.0.0.1:{port}")
    with run_app_in_thread(app, port=port) as base:
        yield base, database[0]
    runtime.close()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/api/incidents", {}),
        ("GET", "/api/incidents/1", {"Authorization": "Bearer"}),
        ("GET", "/api/incidents/1/timeline", {"Authorization": "Bearer guess"}),
        ("POST", "/alerts/generic", {}),
        ("POST", "/alerts/alertmanager", {"Authorization": "Basic OmFueQ=="}),
    ],
)
def test_without_a_token_outside_sandbox_mode_nothing_is_served(
    real_slack_app: tuple[str, Engine], method: str, path: str, headers: dict[str, str]
) -> None:
    base, engine = real_slack_app
    body = {"title": "Injected", "severity": "sev1"} if method == "POST" else None
    answer = httpx.request(method, base + path, json=body, headers=headers)
    assert answer.status_code == 401
    assert answer.json() == {"error": TOKEN_REQUIRED}
    assert _nothing_recorded(engine)
    assert httpx.get(base + "/sandbox/api/sandbox.info").status_code == 404  # no sandbox
