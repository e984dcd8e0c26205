"""Finding channels without listing the workspace: a taken incident-channel name, a channel
an interrupted attempt created, a private broadcast channel given by name."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, insert
from sqlmodel import select

from bot.sandbox import tables as t
from bot.slack import wiring
from storage.models import Incident
from tests.e2e.conftest import Service, serving
from tests.e2e.test_refusals import generic, open_incident, said
from tests.support.server import wait_until

WORKSPACE_CHANNELS = 10_000


def crowd(engine: Engine, count: int) -> None:
    """Fill the workspace with other people's channels, straight into the sandbox's table."""
    empty = {"value": "", "creator": "", "last_set": 0}
    rows = [
        {
            "id": f"C9{n:09d}",
            "name": f"team-{n}",
            "is_private": False,
            "is_im": False,
            "is_general": False,
            "is_archived": False,
            "creator": "U0ALICE",
            "created": 1_600_000_000,
            "created_ts": f"1600000000.{n:06d}",
            "topic": empty,
            "purpose": empty,
            "bookmarks": [],
        }
        for n in range(count)
    ]
    with engine.begin() as conn:
        conn.execute(insert(t.channels), rows)


def test_a_taken_name_gets_the_next_suffix_without_listing_a_crowded_workspace(
    database: tuple[Engine, str],
) -> None:
    # The broadcast channel by id: finding it by name is the one listing warroom does.
    with serving(database[1], WARROOM_BROADCAST_CHANNEL="C0INCIDENTS") as service:
        crowd(service.runtime.engine, WORKSPACE_CHANNELS)
        _, first = open_incident(service, generic("Quotes stale", "quotes", "q1"))
        _, second = open_incident(service, generic("Quotes stale", "quotes", "q2"))

        first_name = service.sandbox.channel(first)["name"]
        assert service.sandbox.channel(second)["name"] == f"{first_name}-2"
        assert service.sandbox.calls("conversations.list") == []
        assert service.sandbox.calls("users.conversations") == []
        taken = [c for c in service.sandbox.calls("conversations.create") if not c["ok"]]
        assert [c["error"] for c in taken] == ["name_taken"]


@pytest.fixture
def impatient(database: tuple[Engine, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    """warroom whose Web API client gives up after a second."""
    monkeypatch.setattr(wiring, "WEB_API_TIMEOUT", 1)
    with serving(database[1], WARROOM_BROADCAST_CHANNEL="C0INCIDENTS") as running:
        yield running


def test_a_channel_created_by_an_attempt_whose_answer_was_lost_is_adopted(
    impatient: Service,
) -> None:
    service = impatient
    crowd(service.runtime.engine, 1_000)
    # Slack creates the channel but answers after the client gave up: the retry meets
    # name_taken on its own channel and finds it among the bot's channels, not the workspace's.
    service.sandbox.faults("late", count=1, delay=2.5, methods=["conversations.create"])
    incident_id, channel_id = open_incident(service, generic("Feed lag", "feeds", "f1"))

    inc_channels = [c for c in service.sandbox.info()["channels"] if c["name"].startswith("inc-")]
    assert [c["id"] for c in inc_channels] == [channel_id]
    with service.runtime.sessions() as session:
        incident = session.scalars(select(Incident).where(Incident.id == incident_id)).one()
    assert incident.channel_name == inc_channels[0]["name"]
    assert service.sandbox.calls("conversations.list") == []
    assert len(service.sandbox.calls("users.conversations")) == 1
    wait_until(lambda: len(said(service, channel_id, "Feed lag")) == 1, timeout=15)


def test_a_private_broadcast_channel_given_by_name_is_found_and_looked_up_once(
    database: tuple[Engine, str],
) -> None:
    with serving(database[1], WARROOM_BROADCAST_CHANNEL="sev-desk") as service:
        alice = service.sandbox.as_user("alice").web
        desk = alice.conversations_create(name="sev-desk", is_private=True)["channel"]["id"]
        bot_user = service.sandbox.info()["bot"]["user_id"]
        alice.conversations_invite(channel=desk, users=bot_user)

        open_incident(service, generic("Orders rejected", "orders", "o1"))
        open_incident(service, generic("Fills delayed", "fills", "f1"))

        def announced() -> list[str]:
            return said(service, desk, "Orders rejected|Fills delayed")

        assert len(wait_until(lambda: len(announced()) == 2 and announced(), timeout=15)) == 2
        # One listing (public and private channels) served both announcements.
        assert len(service.sandbox.calls("conversations.list")) == 1


def test_app_rate_limited_is_acked_and_logged(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    """docs.slack.dev/reference/events/app_rate_limited: sent to the Request URL when the app
    passes 30,000 events an hour in a workspace; Slack counts answers other than 200
    toward turning the app's event subscriptions off."""
    body = {
        "token": "legacy-verification-token",
        "type": "app_rate_limited",
        "team_id": service.sandbox.info()["team"]["id"],
        "minute_rate_limited": 1518467820,
        "api_app_id": service.sandbox.info()["bot"]["app_id"],
    }
    raw = json.dumps(body).encode()
    timestamp = str(int(time.time()))
    secret = service.sandbox.signing_secret.encode()
    digest = hmac.new(secret, f"v0:{timestamp}:".encode() + raw, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
    }
    with caplog.at_level("WARNING"):
        answer = httpx.post(f"{service.url}/slack/events", content=raw, headers=headers)
    assert answer.status_code == 200
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("app_rate_limited" in m and "1518467820" in m for m in warned), warned
    unsigned = httpx.post(
        f"{service.url}/slack/events",
        content=raw,
        headers=headers | {"X-Slack-Signature": "v0=" + "0" * 64},
    )
    assert unsigned.status_code == 401
