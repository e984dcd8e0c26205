"""warroom against Slack's rate limits, kept by the sandbox (on by default)."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine, func, select

from storage.models import Incident, OutboxOp
from tests.e2e.conftest import Service, serving
from tests.e2e.test_refusals import generic
from tests.support.server import wait_until

INCIDENTS = 2
TIER_2_BURST = 20


def test_incidents_opened_past_tier_2_s_budget_all_get_their_channel_and_card(
    database: tuple[Engine, str],
) -> None:
    """docs.slack.dev/apis/web-api/rate-limits: past a Tier 2 method's budget Slack answers
    429 with Retry-After; warroom waits it out and loses nothing."""
    # No broadcast channel: its one-a-second posts would only make the test slower.
    with serving(database[1], WARROOM_BROADCAST_CHANNEL="") as service:
        # Another part of the app spent conversations.create's minute just before.
        bot = service.sandbox.bot()
        for n in range(TIER_2_BURST):
            bot.conversations_create(name=f"project-{n}")
        _open_and_settle(service, INCIDENTS)
        refused = [c for c in service.sandbox.calls("conversations.create") if c["status"] == 429]
        assert refused, "the incidents never met conversations.create's limit"
        with service.runtime.sessions() as session:
            incidents = list(session.scalars(select(Incident)))
        assert len(incidents) == INCIDENTS
        for incident in incidents:
            assert incident.channel_id and incident.card_ts
            pinned = [
                m for m in service.sandbox.messages(incident.channel_id) if m.get("pinned_to")
            ]
            assert [m["ts"] for m in pinned] == [incident.card_ts]
        channels = [c for c in service.sandbox.info()["channels"] if c["name"].startswith("inc-")]
        assert len(channels) == INCIDENTS


def test_the_switch_turns_the_sandbox_s_rate_limits_off(database: tuple[Engine, str]) -> None:
    with serving(database[1], WARROOM_SANDBOX_RATE_LIMITS="0") as service:
        state = httpx.get(f"{service.url}/sandbox/api/sandbox.rateLimits").json()
        assert state == {"ok": True, "enabled": False}
        bot = service.sandbox.bot()
        for n in range(TIER_2_BURST + 5):
            bot.conversations_create(name=f"project-{n}")
        assert {c["status"] for c in service.sandbox.calls("conversations.create")} == {200}


def test_incidents_opened_together_take_turns_in_the_broadcast_channel(
    database: tuple[Engine, str],
) -> None:
    """docs.slack.dev/apis/web-api/rate-limits: chat.postMessage allows about one message a
    second per channel, with short bursts. Incidents opened together each post to the
    broadcast channel: their posts take turns instead of meeting 429s together."""
    together = 8
    with serving(database[1]) as service:
        _open_and_settle(service, together)
        (broadcast,) = [c for c in service.sandbox.info()["channels"] if c["name"] == "incidents"]
        posted = [m["text"] for m in service.sandbox.messages(broadcast["id"])]
        for n in range(together):
            assert sum(f"Venue {n} down" in text for text in posted) == 1, posted
        posts = service.sandbox.calls("chat.postMessage")
        assert [c for c in posts if c["status"] == 429] == []
        assert service.sandbox.calls("conversations.history") == []


def _open_and_settle(service: Service, count: int) -> None:
    """Send `count` alerts of groups of their own; wait until the outbox has done it all."""
    for n in range(count):
        body = generic(f"Venue {n} down", "venues", f"v{n}")
        answer = httpx.post(f"{service.url}/alerts/generic", json=body, headers=service.auth)
        assert answer.status_code == 202, answer.text

    def settled() -> bool:
        with service.runtime.sessions() as session:
            waiting = select(func.count()).select_from(OutboxOp)
            return session.scalar(waiting.where(OutboxOp.state != "done")) == 0

    wait_until(settled, timeout=60, interval=0.2)
