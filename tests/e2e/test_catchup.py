"""`/incident catchup` over HTTP against the sandbox: one private message tells a late
responder where the incident stands."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from storage.models import InboxRequest
from tests.e2e.conftest import Service, serving
from tests.e2e.test_refire import MovableClock
from tests.e2e.test_slack_flow import _card, _events, _incident
from tests.support.server import wait_until


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def service(database: tuple[Engine, str], clock: MovableClock) -> Iterator[Service]:
    with serving(database[1], clock=clock) as running:
        yield running


def _run(service: Service, user: str, text: str, channel: str, kind: str) -> None:
    """Type `/incident <text>` as `user` and wait until its entry is in the timeline."""
    before = sum(e["kind"] == kind for e in _events(service, 1))
    assert service.sandbox.as_user(user).command(f"/incident {text}", channel)["ok"]
    wait_until(lambda: sum(e["kind"] == kind for e in _events(service, 1)) > before, timeout=10)


def test_catchup_answers_privately_with_stage_roles_last_update_and_latest_entries(
    service: Service, clock: MovableClock
) -> None:
    sandbox = service.sandbox
    sandbox.rate_limits(False)
    sandbox.as_user("alice").command("/incident declare Margin calls delayed sev2", "general")
    channel = wait_until(lambda: _incident(service, 1).get("channel_id"), timeout=10)
    wait_until(lambda: _card(service, channel), timeout=10)
    for name in ("alice", "bob", "carol"):
        sandbox.as_user(name).join(channel)
    _run(service, "alice", "ack", channel, "ack")
    _run(service, "bob", "update Risk engine queue draining, ETA 10 min", channel, "update")
    clock.ahead = timedelta(minutes=4)
    _run(service, "alice", "note queue at 12k", channel, "note")
    entries = len(_events(service, 1))

    assert sandbox.as_user("carol").command("/incident catchup", channel)["ok"]

    answer = wait_until(
        lambda: [
            m
            for m in sandbox.messages(channel, ephemeral=True)
            if m["text"].startswith("*Catch-up on incident #1") and "queue at 12k" in m["text"]
        ],
        timeout=10,
    )
    assert [m["ephemeral_user"] for m in answer] == ["U0CAROL"]
    text = answer[0]["text"]
    assert "*Severity* sev2 · *Status* investigating" in text
    assert "*Stage* Respond" in text
    assert ":white_large_square: 4. Record who and what is affected" in text  # open
    assert ":white_large_square: 3." not in text  # bob's update posted the first one
    assert "commander alice" in text
    assert re.search(
        r"\*Last update\* 4m( \d\ds)? ago \(`\d\d:\d\d`\): Risk engine queue draining, "
        r"ETA 10 min — bob",
        text,
    ), text
    assert text.endswith("note: queue at 12k — alice"), text
    # Nobody else sees it, and reading it records nothing.
    assert not any("Catch-up" in m["text"] for m in sandbox.messages(channel))
    assert len(_events(service, 1)) == entries


def _catchups(service: Service, channel: str) -> list[dict]:
    return [
        m
        for m in service.sandbox.messages(channel, ephemeral=True)
        if m["text"].startswith("*Catch-up on incident #1")
    ]


def _all_carried_out(service: Service) -> bool:
    with service.runtime.sessions() as session:
        return all(row.done_at is not None for row in session.scalars(select(InboxRequest)))


def test_a_late_joiner_is_sent_the_catchup_privately_once(service: Service) -> None:
    sandbox = service.sandbox
    sandbox.rate_limits(False)
    alice = sandbox.as_user("alice")
    alice.command("/incident declare Margin calls delayed sev2", "general")
    channel = wait_until(lambda: _incident(service, 1).get("channel_id"), timeout=10)
    wait_until(lambda: _card(service, channel), timeout=10)
    _run(service, "alice", "ack", channel, "ack")
    _run(service, "alice", "update Risk engine queue draining", channel, "update")

    sandbox.as_user("bob").join(channel)

    sent = wait_until(lambda: _catchups(service, channel), timeout=10)
    assert [m["ephemeral_user"] for m in sent] == ["U0BOB"]  # not alice, invited at opening
    assert "*Last update* " in sent[0]["text"] and "Risk engine queue draining" in sent[0]["text"]
    assert "commander alice" in sent[0]["text"]
    # Out and back in: the second join sends nothing again; nor does joining a channel that
    # is no incident's. Carol joining late after both is the mark they were carried out by.
    coffee = alice.web.conversations_create(name="coffee")["channel"]["id"]
    alice.web.conversations_kick(channel=channel, user="U0BOB")
    sandbox.as_user("bob").join(channel)
    sandbox.as_user("bob").join(coffee)
    sandbox.as_user("carol").join(channel)
    wait_until(lambda: "U0CAROL" in [m["ephemeral_user"] for m in _catchups(service, channel)])
    wait_until(lambda: _all_carried_out(service), timeout=10)
    assert sorted(m["ephemeral_user"] for m in _catchups(service, channel)) == [
        "U0BOB",
        "U0CAROL",
    ]
    assert sandbox.messages(coffee, ephemeral=True) == sandbox.messages(coffee)
    assert not any(e["kind"] == "catchup" for e in _events(service, 1))  # nothing recorded
