"""Reminders from real `python -m bot serve` processes: reset, SIGKILL and restart, failover.

Every assertion reads what users and the API see: reminder entries in the incident's
timeline (their times are when the job fired) and reminder messages in the channel.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url, text
from sqlmodel import Session, select

from bot.scheduling.leader import LOCK_KEY, schema_key
from storage.models import TimelineEvent
from tests.support.process import ServerProcess, child_env, cleanup, start_server
from tests.support.server import wait_until

CADENCE = timedelta(seconds=3)
# How late a job may fire and still count as on time: a loaded CI box, not a bug.
LATE = timedelta(seconds=0.8)
TOKEN = "process-alert-token"
PLAYBOOK = """\
id: default
title: Three-second reminders
reminders: {status_update: 3s}
stages:
  - id: respond
    title: Respond
"""
NUDGE = "It has been"


def now() -> datetime:
    return datetime.now(UTC)


def sleep_until(moment: datetime) -> None:
    """Let time pass up to a moment (to place a kill or a restart, never to await a result)."""
    time.sleep(max(0.0, (moment - now()).total_seconds()))


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder for the servers' logs, with a playbook that reminds every 3 seconds."""
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "default.yaml").write_text(PLAYBOOK)
    return tmp_path


def server_env(workdir: Path, url: str) -> dict[str, str]:
    return child_env(
        DATABASE_URL=url,
        WARROOM_PLAYBOOKS=str(workdir / "playbooks"),
        WARROOM_ALERT_TOKEN=TOKEN,
        WARROOM_BROADCAST_CHANNEL="incidents",
    )


def open_incident(server: ServerProcess, title: str) -> tuple[int, str, datetime]:
    """Open an incident by alert; return its id, channel id, and when it opened."""
    answer = server.post("/alerts/generic", {"title": title, "severity": "sev2", "labels": {}})
    incident = answer["incidents"][0]["id"]
    channel = wait_until(lambda: server.get(f"/api/incidents/{incident}")["channel_id"], timeout=10)
    opened = next(e["at"] for e in server.timeline(incident) if e["kind"] == "declared")
    return incident, channel, opened


def reminders(server: ServerProcess, incident: int) -> list[datetime]:
    """When each status-update reminder fired, oldest first."""
    return sorted(e["at"] for e in server.timeline(incident) if e["kind"] == "reminder")


def reminders_in_db(database: tuple[Engine, str]) -> list[datetime]:
    """Reminder times straight from the database (for a server that is down)."""
    query = select(TimelineEvent.occurred_at).where(TimelineEvent.kind == "reminder")
    with Session(database[0]) as session:
        return sorted(session.exec(query))


def outbox_idle(engine: Engine) -> bool:
    """No Slack operation waiting or in flight.

    Killing a process while it holds one is the outbox's own crash test: its lease keeps the
    incident's messages waiting 15 s, then redoes the operation. Here the kill comes between
    operations, so the reminders are all that is measured.
    """
    with engine.connect() as connection:
        busy = connection.execute(
            text("SELECT count(*) FROM outbox WHERE state IN ('pending', 'running')")
        ).scalar()
    return busy == 0


def nudges(server: ServerProcess, channel: str) -> list[str]:
    """The reminder messages posted in the incident channel."""
    messages = server.sandbox("sandbox.messages", channel=channel)["messages"]
    return [m["text"] for m in messages if NUDGE in m.get("text", "")]


def due_index(opened: datetime, fired: datetime) -> int:
    """Which due time (opened + k * cadence) a reminder fired for; jobs never fire early."""
    return int((fired - opened) / CADENCE)


def test_an_update_pushes_the_next_reminder_a_full_cadence_away(
    database: tuple[Engine, str], workdir: Path
) -> None:
    with cleanup() as servers:
        server = start_server("solo", workdir, env=server_env(workdir, database[1]))
        servers.append(server)
        incident, channel, opened = open_incident(server, "Settlement batch stuck")

        # Two seconds before the first due time, so a loaded machine still records it well
        # before then; a reminder left in place would come 2 s after it (plus lateness up
        # to LATE), not the full cadence the assertion below wants.
        sleep_until(opened + timedelta(seconds=1))
        server.command("/incident update Settlement paused; replaying the batch", channel=channel)
        updated = wait_until(
            lambda: [e["at"] for e in server.timeline(incident) if e["kind"] == "update"]
        )[0]
        assert updated - opened < CADENCE - timedelta(seconds=0.3), "the update came too late"

        fired = wait_until(lambda: reminders(server, incident), timeout=10)
        # The reminder due at opened + 3s was replaced: the first one comes 3s after the update.
        assert len(fired) == 1, fired
        assert CADENCE <= fired[0] - updated <= CADENCE + LATE, (updated, fired)
        texts = wait_until(lambda: nudges(server, channel))
        assert texts == [
            ":alarm_clock: It has been 3s since the last status update. "
            "Post one with `/incident update &lt;text&gt;`."
        ]


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_server_killed_and_restarted_keeps_reminding_and_catches_up_once(
    database: tuple[Engine, str], workdir: Path
) -> None:
    env = server_env(workdir, database[1])
    with cleanup() as servers:
        launched = time.monotonic()
        first = start_server("first", workdir, env=env)
        servers.append(first)
        startup = timedelta(seconds=time.monotonic() - launched)
        incident, channel, opened = open_incident(first, "Margin calls delayed")
        wait_until(lambda: nudges(first, channel) and outbox_idle(database[0]), timeout=10)
        first.kill()
        killed = now()
        assert [due_index(opened, at) for at in reminders_in_db(database)] == [1]

        # Two due times pass while nothing runs (opened + 6s and + 9s). Come back half a
        # cadence after the second, so a catch-up cannot be taken for a regular reminder.
        sleep_until(opened + 3.5 * CADENCE - startup)
        restarted = now()
        second = start_server("second", workdir, env=env)
        servers.append(second)
        up = now()

        fired = wait_until(lambda: (f := reminders(second, incident)) and len(f) >= 4 and f, 15)
        catch_up, *regular = fired[1:]
        assert killed < restarted <= catch_up <= up + LATE, (restarted, catch_up, up)
        following = opened + (due_index(opened, catch_up) + 1) * CADENCE
        assert following - catch_up >= timedelta(seconds=0.3), "restart landed on a due time"
        # Once, not one per missed due time: nothing else until the next regular due time.
        assert [at for at in fired if killed < at < following] == [catch_up]
        for at in regular:
            due = opened + due_index(opened, at) * CADENCE
            assert at - due <= LATE, (due, at)
        assert [due_index(opened, at) for at in regular] == [
            due_index(opened, catch_up) + 1,
            due_index(opened, catch_up) + 2,
        ]
        texts = wait_until(lambda: (t := nudges(second, channel)) and len(t) >= 4 and t)
        assert len(texts) == 4, texts
        assert "since the incident opened" in texts[1]


def lock_holder(engine: Engine, schema: str) -> str | None:
    """The application name of the connection holding this schema's scheduler lock."""
    with engine.connect() as connection:
        return connection.execute(
            text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
                "AND l.classid::bigint = :k AND l.objid::bigint = :s"
            ),
            {"k": LOCK_KEY, "s": schema_key(schema) % (1 << 32)},
        ).scalar()


def advisory_locks(engine: Engine) -> list[tuple[object, ...]]:
    """Every advisory lock in the database and who holds it (for a failure's report)."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                text(
                    "SELECT l.classid, l.objid, l.objsubid, l.granted, a.application_name, "
                    "a.state FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                    "WHERE l.locktype = 'advisory'"
                )
            ).tuples()
        )


def wait_for_holder(
    engine: Engine, schema: str, wanted: Callable[[str | None], bool], timeout: float
) -> str | None:
    """Wait until the lock holder is as wanted; on failure, tell every advisory lock."""
    try:
        return wait_until(
            lambda: (holder := lock_holder(engine, schema), wanted(holder))[1] and holder,
            timeout=timeout,
        )
    except AssertionError as error:
        key = (LOCK_KEY, schema_key(schema) % (1 << 32))
        raise AssertionError(f"{error}; wanted {key} in {advisory_locks(engine)}") from None


@pytest.fixture
def two_servers(database: tuple[Engine, str], workdir: Path) -> Iterator[list[ServerProcess]]:
    """Two servers on one PostgreSQL schema, told apart by their connections' application name."""
    url = make_url(database[1])
    with cleanup() as servers:
        # One after the other: the sandbox creates its tables on start, not atomically.
        for name in ("alpha", "bravo"):
            named = url.update_query_dict({"application_name": name})
            env = server_env(workdir, named.render_as_string(hide_password=False))
            servers.append(start_server(name, workdir, env=env))
        yield servers


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_two_servers_on_postgres_remind_once_and_fail_over(
    database: tuple[Engine, str], two_servers: list[ServerProcess]
) -> None:
    engine = database[0]
    with engine.connect() as connection:
        schema = connection.execute(text("SELECT current_schema()")).scalar()
    leader_name = wait_for_holder(engine, schema, lambda holder: holder is not None, 10)
    leader = next(s for s in two_servers if s.name == leader_name)
    follower = next(s for s in two_servers if s is not leader)

    # Either process may carry out the effect that writes the job; only the leader fires it.
    incident, channel, opened = open_incident(follower, "Order gateway timeouts")
    wait_until(lambda: len(nudges(follower, channel)) >= 2 and outbox_idle(engine), timeout=12)
    assert [due_index(opened, at) for at in reminders(follower, incident)] == [1, 2]

    leader.kill()
    killed = time.monotonic()
    wait_for_holder(engine, schema, lambda holder: holder == follower.name, 6)
    assert time.monotonic() - killed < 5, "the follower took too long to take over"

    fired = wait_until(
        lambda: (f := reminders(follower, incident)) and due_index(opened, f[-1]) >= 4 and f,
        timeout=12,
    )
    # One reminder per due time, before and after the failover: never two, none skipped.
    assert Counter(due_index(opened, at) for at in fired) == {1: 1, 2: 1, 3: 1, 4: 1}, fired
    assert fired[-1] - (opened + 4 * CADENCE) <= LATE
    texts = wait_until(lambda: (t := nudges(follower, channel)) and len(t) >= 4 and t)
    assert len(texts) == 4, texts
