"""The channel says only what happened, and follows the incident's state.

Slash commands in the sandbox, as responders type them; PagerDuty's Events API is the
local stand-in of tests/e2e/test_pagerduty_both_ways.py (answering as documented, "Send
an Alert Event": 202 with status, message and dedup_key) and its V3 webhooks are
PagerDuty's documented examples (tests/bot/alerts/payloads/pagerduty_v3/README.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Engine

from bot.sandbox.client import SandboxClient
from tests.e2e.conftest import Service, serving
from tests.e2e.test_pagerduty_both_ways import ROUTING_KEY, deliver, events_api, webhook
from tests.support.server import run_app_in_thread, wait_until

TRADING = "/incident declare Spot trading errors sev1 playbook:trading-engine-outage"


def _open(service: Service) -> tuple[Any, str]:
    """alice declares the trading incident; its channel once its card is up."""
    alice = service.sandbox.as_user("alice")
    assert alice.command(TRADING, "general")["ok"]
    channel = wait_until(
        lambda: next(
            (c["id"] for c in service.sandbox.info()["channels"] if c["name"].startswith("inc-")),
            None,
        ),
        timeout=15,
    )
    wait_until(lambda: _card(service.sandbox, channel), timeout=15)
    return alice, channel


def _texts(sandbox: SandboxClient, channel: str) -> list[str]:
    return [m.get("text", "") for m in sandbox.messages(channel) if not m.get("subtype")]


def _card(sandbox: SandboxClient, channel: str) -> dict[str, Any] | None:
    return next(
        (m for m in sandbox.messages(channel) if m.get("blocks") and m.get("pinned_to")), None
    )


def _field(card: dict[str, Any], label: str) -> str:
    for block in card["blocks"]:
        for field in block.get("fields", []):
            name, _, value = field["text"].partition("\n")
            if name == f"*{label}*":
                return str(value)
    raise KeyError(label)


def _buttons(card: dict[str, Any]) -> list[str]:
    return [
        e["text"]["text"] for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]


def _private(sandbox: SandboxClient, channel: str, needle: str) -> str:
    return str(
        wait_until(
            lambda: next(
                (
                    m["text"]
                    for m in sandbox.messages(channel, ephemeral=True)
                    if m.get("is_ephemeral") and needle in m.get("text", "")
                ),
                None,
            ),
            timeout=15,
        )
    )


def test_without_pagerduty_the_channel_says_nobody_was_paged(
    database: tuple[Engine, str],
) -> None:
    with serving(database[1]) as service:
        sandbox = service.sandbox
        alice, channel = _open(service)
        opened = wait_until(
            lambda: [t for t in _texts(sandbox, channel) if "paged" in t.lower()], timeout=15
        )
        assert opened == [":pager: Not paged: PagerDuty is not configured."]

        assert alice.command("/incident ack", channel)["ok"]
        texts = wait_until(
            lambda: (
                (t := _texts(sandbox, channel))
                and sum("Not paged" in x for x in t) == 2
                and "Emergency response protocol started." in t
                and t
            ),
            timeout=15,
        )
    # The stage's page, told after its post and once it is known nothing was sent.
    started = texts.index("Emergency response protocol started.")
    assert texts[started + 1 :].count(":pager: Not paged: PagerDuty is not configured.") == 1
    assert not [t for t in texts if "being paged" in t or "Escalating" in t]


def test_a_page_after_the_ack_reaches_pagerduty_as_a_new_alert_and_is_told_so(
    database: tuple[Engine, str],
) -> None:
    received: list[dict[str, Any]] = []
    with run_app_in_thread(events_api(received)) as pagerduty:
        settings = {
            "WARROOM_PAGERDUTY_ROUTING_KEY": ROUTING_KEY,
            "WARROOM_PAGERDUTY_URL": f"{pagerduty}/v2/enqueue",
        }
        with serving(database[1], **settings) as service:
            sandbox = service.sandbox
            alice, channel = _open(service)
            wait_until(lambda: len(received) == 1, timeout=15)
            assert alice.command("/incident ack", channel)["ok"]
            wait_until(lambda: len(received) == 3, timeout=15)
            texts = wait_until(
                lambda: (
                    (t := _texts(sandbox, channel))
                    and sum("PagerDuty paged" in x for x in t) == 2
                    and t
                ),
                timeout=15,
            )
            # PagerDuty's webhook about the second alert is about this same incident.
            now = datetime.now(UTC).replace(microsecond=0)
            answer = deliver(service, webhook("triggered", "warroom-1-2", now))

    assert [(e["event_action"], e["dedup_key"]) for e in received] == [
        ("trigger", "warroom-1"),
        ("acknowledge", "warroom-1"),
        ("trigger", "warroom-1-2"),
    ]
    paged = [t for t in texts if "PagerDuty paged" in t]
    assert paged == [
        ":pager: PagerDuty paged: [SEV1] Incident #1: Spot trading errors",
        ":pager: PagerDuty paged: [SEV1] Incident #1: Spot trading errors "
        "(page 2, a new alert: `warroom-1-2`)",
    ]
    assert (answer["incidents"][0]["id"], answer["incidents"][0]["created"]) == (1, False)


def test_topic_card_and_private_answers_follow_the_state_and_name_people(
    database: tuple[Engine, str],
) -> None:
    with serving(database[1]) as service:
        sandbox = service.sandbox
        alice, channel = _open(service)
        assert sandbox.channel(channel)["topic"]["value"] == (
            "SEV1 · investigating · Spot trading errors"
        )
        card = _card(sandbox, channel)
        assert card is not None
        assert _field(card, "Acknowledged") == "_not yet_"
        assert _buttons(card) == ["Acknowledge", "Add note", "Resolve"]

        assert alice.command("/incident ack", channel)["ok"]
        card = wait_until(
            lambda: (
                (c := _card(sandbox, channel)) and _field(c, "Acknowledged") != "_not yet_" and c
            ),
            timeout=15,
        )
        assert _field(card, "Acknowledged").startswith("<@U0ALICE> at ")
        assert _buttons(card) == ["Add note", "Resolve"]

        assert alice.command("/incident sev 2", channel)["ok"]
        wait_until(
            lambda: (
                sandbox.channel(channel)["topic"]["value"]
                == "SEV2 · investigating · Spot trading errors"
            ),
            timeout=15,
        )
        assert alice.command("/incident status identified dependency down", channel)["ok"]
        wait_until(
            lambda: (
                sandbox.channel(channel)["topic"]["value"]
                == "SEV2 · identified · Spot trading errors"
            ),
            timeout=15,
        )
        purpose = sandbox.channel(channel)["purpose"]["value"]
        assert purpose.startswith("Incident #1: Spot trading errors. Opened ")

        bob = sandbox.as_user("bob")
        bob.join(channel)
        assert bob.command("/incident ack", channel)["ok"]
        refused = _private(sandbox, channel, "Already acknowledged")
        assert alice.command("/incident role comms @bob", channel)["ok"]
        wait_until(lambda: any("comms is now" in t for t in _texts(sandbox, channel)), 15)
        assert alice.command("/incident timeline", channel)["ok"]
        timeline = _private(sandbox, channel, "Timeline of incident #1")
        api = httpx.get(f"{service.url}/api/incidents/1/timeline", headers=service.auth)

    assert refused == "Already acknowledged by alice"
    assert "acknowledged — alice" in timeline
    assert "comms is now bob — alice" in timeline
    assert "U0ALICE" not in timeline and "U0BOB" not in timeline
    # The record keeps the ids; only what people read is worded with names.
    assert {"ack", "role"} <= {e["kind"] for e in api.json()["events"]}
