"""`/incident catchup` over HTTP against the sandbox: one private message tells a late
responder where the incident stands."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine

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
            if m["text"].startswith("*Catch-up on incident #1")
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
