"""Fifty concurrent ingestions of one alert group open exactly one incident."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import func, select

from bot.incidents.alerts import NormalizedAlert
from bot.incidents.ingest import ingest_alert
from storage.models import Alert, Incident, OutboxOp
from storage.unit_of_work import unit_of_work


def test_fifty_concurrent_alerts_of_one_group_make_one_incident(sessions, domain) -> None:
    def ingest(n: int) -> int:
        alert = NormalizedAlert(
            source="alertmanager",
            fingerprint=f"fp{n % 10}",  # ten alerts, each delivered five times
            title="Matching engine errors",
            labels={"service": "matching-engine", "instance": f"me-{n % 10}"},
            starts_at=datetime(2021, 3, 10, 9, 56, tzinfo=UTC),
            group_key="storm",
        )
        with unit_of_work(sessions) as uow:
            result = ingest_alert(uow, domain, alert)
            assert result.incident_id is not None
            return result.incident_id

    with ThreadPoolExecutor(max_workers=50) as pool:
        ids = set(pool.map(ingest, range(50)))

    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 1
        assert ids == {session.scalar(select(Incident.id))}
        alerts = list(session.scalars(select(Alert)))
        assert sorted(a.fingerprint for a in alerts) == [f"fp{i}" for i in range(10)]
        assert sum(a.seen_count for a in alerts) == 50
        channel_opens = session.scalar(
            select(func.count()).select_from(OutboxOp).where(OutboxOp.kind == "channel.open")
        )
        assert channel_opens == 1
