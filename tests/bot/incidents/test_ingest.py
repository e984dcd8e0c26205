"""A batch of alerts in one transaction: each lands where it would have landed alone."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.incidents import effects
from bot.incidents.ingest import ingest_alerts
from storage.models import Alert
from storage.unit_of_work import unit_of_work
from tests.bot.incidents.conftest import reference_alert

ENDED = datetime(2021, 3, 10, 10, 15, tzinfo=UTC)


def _other_group(**changes):
    return reference_alert(
        group_key='{}:{alertname="OrderGatewayLatency"}',
        title="Order gateway latency",
        **changes,
    )


def test_a_batch_opens_joins_repeats_and_resolves_in_arrival_order(sessions, domain, store) -> None:
    batch = [
        reference_alert(fingerprint="a"),  # opens incident 1
        _other_group(fingerprint="b"),  # opens incident 2
        reference_alert(fingerprint="a"),  # a repeat
        reference_alert(fingerprint="c", title="Matching engine restarts"),  # joins 1
        reference_alert(fingerprint="a", status="resolved", ends_at=ENDED),  # recovers
        reference_alert(group_key="nothing-open", status="resolved"),  # nowhere to go
    ]
    with unit_of_work(sessions) as uow:
        results = ingest_alerts(uow, domain, batch)

    first, second = (incident.id for incident in store.incidents())
    assert [(r.incident_id, r.created, r.repeat) for r in results] == [
        (first, True, False),
        (second, True, False),
        (first, False, True),
        (first, False, False),
        (first, False, False),
        (None, False, False),
    ]
    # Only the recovery changes what the card shows.
    assert results[3].outcome is None
    assert results[4].outcome is not None
    assert [e.kind for e in results[4].outcome.effects] == [effects.UPDATE_CARD]

    alert_entries = [e.text for e in store.events(first) if e.kind == "alert"]
    assert alert_entries == [
        "Alert firing: API error 30030: matching engine upgrade in progress",
        "Alert firing: Matching engine restarts",
        "Alert resolved: API error 30030: matching engine upgrade in progress",
    ]
    with sessions() as session:
        stored = {
            a.fingerprint: (a.incident_id, a.status, a.seen_count, a.ends_at)
            for a in session.scalars(select(Alert))
        }
    assert stored == {
        "a": (first, "resolved", 2, ENDED),
        "b": (second, "firing", 1, None),
        "c": (first, "firing", 1, None),
    }


def test_a_batch_joins_an_incident_opened_by_an_earlier_transaction(
    sessions, domain, store
) -> None:
    with unit_of_work(sessions) as uow:
        (opened,) = ingest_alerts(uow, domain, [reference_alert(fingerprint="a")])
    with unit_of_work(sessions) as uow:
        results = ingest_alerts(
            uow, domain, [reference_alert(fingerprint=f"x{n}") for n in range(3)]
        )

    assert {r.incident_id for r in results} == {opened.incident_id}
    assert not any(r.created for r in results)
    assert len(store.incidents()) == 1
    fired = [e for e in store.events(opened.incident_id or 0) if e.kind == "alert"]
    assert len(fired) == 4
