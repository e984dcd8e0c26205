"""`kill -9` in the middle of an alert storm: every acknowledged alert survives, and after a
restart each incident's Slack work is done exactly once (one channel, one card)."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import Engine, select
from sqlmodel import Session

from storage import outbox
from storage.models import Alert, Incident, OutboxOp
from tests.e2e.test_faults import alertmanager
from tests.support.process import child_env, cleanup, start_server
from tests.support.server import wait_until

TOKEN = "crash-alert-token"
GROUPS = 20
CONNECTIONS = 20
ALERTS = 300  # alert i belongs to group i % GROUPS
KILL_AFTER = 120  # acknowledged alerts before the kill


def storm(url: str, numbers: list[int], *, stop_after: int | None = None, on_stop=None) -> set[int]:
    """Send alerts over CONNECTIONS connections; return the numbers that got a 202."""
    acked: set[int] = set()
    lock = threading.Lock()
    local = threading.local()

    def send(n: int) -> None:
        if not hasattr(local, "http"):
            local.http = httpx.Client(
                timeout=10, headers={"Authorization": f"Bearer {TOKEN}"}, base_url=url
            )
        try:
            answer = local.http.post("/alerts/alertmanager", json=alertmanager(n % GROUPS, n))
        except httpx.HTTPError:
            return  # the server died under this request: no 202, no promise
        if answer.status_code == 202:
            with lock:
                acked.add(n)
                if stop_after is not None and len(acked) == stop_after and on_stop:
                    on_stop()

    with ThreadPoolExecutor(max_workers=CONNECTIONS) as pool:
        list(pool.map(send, numbers))
    return acked


def stored(engine: Engine) -> set[str]:
    with Session(engine) as session:
        return set(session.scalars(select(Alert.fingerprint)))


def outbox_open(engine: Engine) -> int:
    with Session(engine) as session:
        return outbox.pending_count(session=session)


def test_kill_9_mid_storm_loses_no_acknowledged_alert_and_doubles_no_slack_work(
    database: tuple[Engine, str], tmp_path: Path
) -> None:
    engine, url = database
    env = child_env(
        DATABASE_URL=url, WARROOM_ALERT_TOKEN=TOKEN, WARROOM_BROADCAST_CHANNEL="incidents"
    )
    with cleanup() as servers:
        first = start_server("first", tmp_path, env=env)
        servers.append(first)
        acked = storm(first.url, list(range(ALERTS)), stop_after=KILL_AFTER, on_stop=first.kill)
        assert not first.alive
        assert KILL_AFTER <= len(acked) < ALERTS, "the kill did not land mid-storm"
        fingerprints = {f"g{n % GROUPS}-a{n}" for n in acked}
        missing = fingerprints - stored(engine)
        assert missing == set(), f"{len(missing)} acknowledged alerts were lost"

        second = start_server("second", tmp_path, env=env)
        servers.append(second)
        # The alerts that never got a 202 are sent again, as Alertmanager would.
        again = storm(second.url, sorted(set(range(ALERTS)) - acked))
        assert again == set(range(ALERTS)) - acked
        assert len(stored(engine)) == ALERTS

        # Operations the dead process had claimed wait out their lease, then run once.
        wait_until(lambda: outbox_open(engine) == 0, timeout=60, interval=0.25)

        with Session(engine) as session:
            incidents = list(session.scalars(select(Incident)))
            failed = list(session.scalars(select(OutboxOp).where(OutboxOp.state == "failed")))
        assert failed == [], [(op.kind, op.last_error) for op in failed]
        assert len(incidents) == GROUPS
        assert all(i.channel_id and i.card_ts for i in incidents)
        channels = [
            c for c in second.sandbox("sandbox.info")["channels"] if c["name"].startswith("inc-")
        ]
        cards = {
            i.id: [
                m
                for m in second.sandbox("sandbox.messages", channel=i.channel_id)["messages"]
                if m.get("blocks") and m.get("pinned_to")
            ]
            for i in incidents
        }
        # A kill between Slack's answer and storing its id must not double anything: the
        # retry adopts the channel (name_taken) and the card (its block id) it left.
        assert len(channels) == GROUPS, [c["name"] for c in channels]
        assert {c["id"] for c in channels} == {i.channel_id for i in incidents}
        for incident in incidents:
            assert [m["ts"] for m in cards[incident.id]] == [incident.card_ts]
        announcements = second.sandbox("sandbox.messages", channel="incidents")["messages"]
        texts = Counter(m["text"] for m in announcements if m.get("subtype") != "channel_join")
        assert sum(texts.values()) == GROUPS and max(texts.values()) == 1, texts
