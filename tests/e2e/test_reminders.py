"""Reminders on a real clock with short cadences: they fire, reset on update, stop on resolve."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.sandbox.client import SandboxClient
from tests.e2e.conftest import Service, serving
from tests.support.commands import run_command
from tests.support.server import wait_until

FAST = """\
id: default
title: Fast reminders
reminders: {status_update: 2s, unacknowledged: 1s}
stages:
  - id: respond
    title: Respond
    timebox: 1s
    tasks: ["Look"]
  - id: fix
    title: Fix
"""


@pytest.fixture
def fast_service(database: tuple[Engine, str], tmp_path: Path) -> Iterator[Service]:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "default.yaml").write_text(FAST)
    with serving(database[1], WARROOM_PLAYBOOKS=str(folder)) as running:
        yield running


def _channel_texts(sandbox: SandboxClient) -> list[str]:
    channels = [c for c in sandbox.info()["channels"] if c["name"].startswith("inc-")]
    if not channels:
        return []
    return [m.get("text", "") for m in sandbox.messages(channels[0]["id"])]


def test_reminders_fire_escalate_and_stop_on_resolve(fast_service: Service) -> None:
    sandbox = fast_service.sandbox
    run_command(fast_service.runtime, "declare Settlement job stuck sev2", user_id="U0ALICE")
    texts = wait_until(
        lambda: (t := _channel_texts(sandbox)) and any("It has been" in x for x in t) and t,
        timeout=15,
    )
    assert any("Not acknowledged after" in text for text in texts)
    assert any("ran past its 1s timebox" in text for text in texts)
    announced = wait_until(
        lambda: [
            m for m in sandbox.messages("incidents") if "has not been acknowledged" in m["text"]
        ]
    )
    assert announced
    channel_id = next(c["id"] for c in sandbox.info()["channels"] if c["name"].startswith("inc-"))
    reply = run_command(
        fast_service.runtime, "resolve done", user_id="U0ALICE", channel_id=channel_id
    )
    assert reply.private is None, reply
    wait_until(lambda: "Incident resolved" in " ".join(_channel_texts(sandbox)), timeout=10)
    count = sum("It has been" in t for t in _channel_texts(sandbox))
    # The reminder job is gone from the store once the resolve went through the outbox.
    from sqlalchemy import text

    def reminder_jobs() -> int:
        with fast_service.runtime.engine.connect() as connection:
            return connection.execute(
                text("SELECT count(*) FROM apscheduler_jobs WHERE id LIKE 'reminder:%'")
            ).scalar()

    wait_until(lambda: reminder_jobs() == 0, timeout=10)
    assert sum("It has been" in t for t in _channel_texts(sandbox)) <= count + 1
