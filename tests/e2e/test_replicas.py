"""Two replicas on one PostgreSQL: one incident and one channel per group, and every outbox
operation carried out by exactly one of them (`FOR UPDATE SKIP LOCKED`)."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from storage import outbox
from storage.models import Alert, Incident, OutboxOp
from tests.e2e.test_faults import alertmanager
from tests.support.process import ServerProcess, child_env, cleanup, start_server
from tests.support.server import wait_until

TOKEN = "replica-alert-token"
GROUPS = 20
ALERTS = 200


def outbox_open(engine: Engine) -> int:
    with Session(engine) as session:
        return outbox.pending_count(session=session)


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_two_replicas_open_one_incident_and_one_channel_per_group(
    database: tuple[Engine, str], tmp_path: Path
) -> None:
    engine, url = database
    env = child_env(
        DATABASE_URL=url, WARROOM_ALERT_TOKEN=TOKEN, WARROOM_BROADCAST_CHANNEL="incidents"
    )
    with cleanup() as servers:
        # One after the other: the sandbox creates its tables on start, not atomically.
        for name in ("alpha", "bravo"):
            servers.append(start_server(name, tmp_path, env=env))
        local = threading.local()

        def send(n: int) -> int:
            if not hasattr(local, "http"):
                local.http = httpx.Client(timeout=30, headers={"Authorization": f"Bearer {TOKEN}"})
            server: ServerProcess = servers[n % 2]  # like a load balancer, round robin
            answer = local.http.post(
                f"{server.url}/alerts/alertmanager", json=alertmanager(n % GROUPS, n)
            )
            assert answer.status_code == 202, answer.text
            return answer.json()["incidents"][0]["id"]

        with ThreadPoolExecutor(max_workers=20) as pool:
            ids = list(pool.map(send, range(ALERTS)))
        wait_until(lambda: outbox_open(engine) == 0, timeout=60, interval=0.25)

        with Session(engine) as session:
            incidents = list(session.scalars(select(Incident)))
            assert len(incidents) == GROUPS
            assert set(ids) == {i.id for i in incidents}
            assert session.scalar(select(func.count()).select_from(Alert)) == ALERTS
            ops = list(session.scalars(select(OutboxOp)))
        assert [op for op in ops if op.state != "done"] == []
        workers = Counter(op.claimed_by for op in ops)
        assert None not in workers
        assert len(workers) == 2, f"both replicas should have taken work: {workers}"

        alpha, bravo = servers
        channels = [
            c for c in alpha.sandbox("sandbox.info")["channels"] if c["name"].startswith("inc-")
        ]
        assert len(channels) == GROUPS
        assert {c["id"] for c in channels} == {i.channel_id for i in incidents}
        calls = [
            call
            for server in servers
            for call in server.sandbox("sandbox.calls")["calls"]
            if call["ok"]
        ]
        made = Counter(call["method"] for call in calls)
        assert made["conversations.create"] == GROUPS
        assert made["pins.add"] == GROUPS
        for incident in incidents:
            messages = bravo.sandbox("sandbox.messages", channel=incident.channel_id)["messages"]
            cards = [m for m in messages if m.get("blocks") and m.get("pinned_to")]
            assert len(cards) == 1, (incident.id, messages)
        announcements = [
            m
            for m in alpha.sandbox("sandbox.messages", channel="incidents")["messages"]
            if m.get("subtype") != "channel_join"
        ]
        assert len(announcements) == GROUPS
