"""The scheduler's leader is fenced: when PostgreSQL cuts the connection holding the leader
lock (`pg_terminate_backend`) and the other replica takes over while the first one, not
yet aware, goes on firing, every escalation still happens exactly once: one timeline
entry, one notice in the incident channel, one announcement, one page in the outbox."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url, text
from sqlmodel import Session, select

from bot.incidents import effects
from bot.scheduling.leader import LOCK_KEY, schema_key
from storage.models import OutboxOp, TimelineEvent
from tests.e2e.test_scheduler_processes import (
    now,
    open_incident,
    outbox_idle,
    server_env,
    sleep_until,
    wait_for_holder,
)
from tests.support.process import ServerProcess, cleanup, start_server
from tests.support.server import wait_until

ACK_WITHIN = timedelta(seconds=8)
INCIDENTS = 6  # opened one after the other, so their escalations come due over ~3 s
PLAYBOOK = """\
id: default
title: Escalate after eight seconds
reminders: {unacknowledged: 8s}
stages:
  - id: respond
    title: Respond
"""
ESCALATED = "has not been acknowledged"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "default.yaml").write_text(PLAYBOOK)
    return tmp_path


@pytest.fixture
def two_servers(database: tuple[Engine, str], workdir: Path) -> Iterator[list[ServerProcess]]:
    url = make_url(database[1])
    with cleanup() as servers:
        for name in ("alpha", "bravo"):  # one after the other: the sandbox creates its tables
            named = url.update_query_dict({"application_name": name})
            env = server_env(workdir, named.render_as_string(hide_password=False))
            servers.append(start_server(name, workdir, env=env))
        yield servers


def cut_leader_lock(engine: Engine, schema: str) -> int:
    """Terminate the backend holding the scheduler lock, as a database failover or an idle
    timeout would; the process that held it lives on, unaware until its next check."""
    with engine.connect() as connection:
        killed = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = "
                "'advisory' AND granted AND objsubid = 2 AND classid::bigint = :k "
                "AND objid::bigint = :s"
            ),
            {"k": LOCK_KEY, "s": schema_key(schema) % (1 << 32)},
        ).scalar()
        connection.commit()
    return int(killed or 0)


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_a_cut_leader_lock_never_fires_an_escalation_twice(
    database: tuple[Engine, str], two_servers: list[ServerProcess]
) -> None:
    engine = database[0]
    with engine.connect() as connection:
        schema = connection.execute(text("SELECT current_schema()")).scalar()
    leader_name = wait_for_holder(engine, schema, lambda holder: holder is not None, 10)
    leader = next(s for s in two_servers if s.name == leader_name)
    follower = next(s for s in two_servers if s is not leader)

    opened = [open_incident(follower, f"Payments down {n}") for n in range(INCIDENTS)]
    first_due = opened[0][2] + ACK_WITHIN
    assert now() < first_due - timedelta(seconds=0.5), "opening took too long to place the cut"
    sleep_until(first_due - timedelta(seconds=0.5))
    assert cut_leader_lock(engine, schema) == 1
    wait_for_holder(engine, schema, lambda holder: holder == follower.name, 6)
    assert leader.alive  # the lock was cut, not the process

    ids = [incident for incident, _channel, _at in opened]

    def escalations() -> Counter[int]:
        with Session(engine) as session:
            rows = session.exec(
                select(TimelineEvent.incident_id).where(TimelineEvent.kind == "escalation")
            )
            return Counter(rows)

    wait_until(lambda: set(escalations()) == set(ids) and outbox_idle(engine), timeout=30)
    assert escalations() == Counter(ids), "an escalation fired twice (or never)"
    with Session(engine) as session:
        ops = list(
            session.exec(
                select(OutboxOp).where(
                    OutboxOp.kind.in_((effects.BROADCAST, effects.PAGE, effects.POST_NOTICE))
                )
            )
        )
    broadcasts = Counter(
        op.incident_id
        for op in ops
        if op.kind == effects.BROADCAST and ESCALATED in op.payload.get("text", "")
    )
    assert broadcasts == Counter(ids)
    pages = Counter(
        op.incident_id for op in ops if op.kind == effects.PAGE and op.payload.get("escalation")
    )
    assert pages == Counter(ids)
    announced = Counter(
        m["text"].split(")")[0]
        for m in follower.sandbox("sandbox.messages", channel="incidents")["messages"]
        if ESCALATED in m.get("text", "")
    )
    assert sorted(announced.values()) == [1] * INCIDENTS, announced
    for incident, channel, _at in opened:
        notices = [
            m
            for m in follower.sandbox("sandbox.messages", channel=channel)["messages"]
            if "Not acknowledged after" in m.get("text", "")
        ]
        assert len(notices) == 1, (incident, notices)
