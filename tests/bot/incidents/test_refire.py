"""The re-fire policy in the domain: a group firing after its incident was resolved, measured
against the playbook's `refire_window` on a simulated clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.incidents.clock import SimulatedClock
from bot.incidents.context import Domain
from bot.incidents.ingest import IngestResult, ingest_alerts
from playbooks import Catalog, load_dir
from storage.unit_of_work import unit_of_work
from tests.bot.incidents.conftest import Run, Store, reference_alert

PLAYBOOK = """\
id: short-memory
title: Short memory
refire_window: 10m
stages:
  - {id: respond, title: Respond}
"""


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    """One playbook, whose group re-fires into its resolved incident for 10 minutes."""
    (tmp_path / "short-memory.yaml").write_text(PLAYBOOK)
    return load_dir(tmp_path)


def _resolved(ingest: Callable[..., IngestResult], run: Run) -> int:
    opened = ingest(reference_alert())
    assert opened.created and opened.incident_id is not None
    run("resolve mitigated", opened.incident_id)
    return opened.incident_id


def _notices(store: Store, incident_id: int) -> list[str]:
    return [
        op.payload["notice"]["name"] for op in store.outbox(incident_id) if op.kind == "notice.post"
    ]


def test_inside_the_playbooks_window_the_group_joins_its_resolved_incident_once_told(
    ingest: Callable[..., IngestResult], run: Run, store: Store, clock: SimulatedClock
) -> None:
    incident_id = _resolved(ingest, run)
    clock.advance(timedelta(minutes=9, seconds=59))

    first = ingest(reference_alert())
    again = ingest(reference_alert())
    newcomer = ingest(reference_alert(fingerprint="f2", title="Second node down"))

    assert [(r.incident_id, r.created) for r in (first, again, newcomer)] == [
        (incident_id, False)
    ] * 3
    assert first.outcome is not None and first.outcome.effects  # the dispatcher is woken
    assert again.repeat
    assert _notices(store, incident_id) == ["still_firing_after_resolve"]
    kinds = [(e.kind, e.text) for e in store.events(incident_id)][-2:]
    assert kinds == [
        (
            "refiring",
            "Still firing after resolve: API error 30030: matching engine upgrade in progress",
        ),
        ("alert", "Alert firing: Second node down"),
    ]
    assert store.incident(incident_id).status == "resolved"
    assert len(store.incidents()) == 1


def test_one_batch_repeating_the_group_tells_the_channel_once(
    ingest: Callable[..., IngestResult],
    run: Run,
    store: Store,
    clock: SimulatedClock,
    sessions: sessionmaker[Session],
    domain: Domain,
) -> None:
    incident_id = _resolved(ingest, run)
    clock.advance(timedelta(minutes=1))

    with unit_of_work(sessions) as uow:
        results = ingest_alerts(uow, domain, [reference_alert()] * 3)
    with unit_of_work(sessions) as uow:
        ingest_alerts(uow, domain, [reference_alert(fingerprint="f3")])

    assert {r.incident_id for r in results} == {incident_id}
    assert _notices(store, incident_id) == ["still_firing_after_resolve"]


def test_past_the_playbooks_window_a_new_incident_names_the_previous_one(
    ingest: Callable[..., IngestResult], run: Run, store: Store, clock: SimulatedClock
) -> None:
    incident_id = _resolved(ingest, run)
    clock.advance(timedelta(minutes=10, seconds=1))

    opened = ingest(reference_alert())

    assert opened.created and opened.incident_id != incident_id
    assert opened.incident_id is not None
    assert store.incident(opened.incident_id).recurrence_of == incident_id
    assert _notices(store, incident_id) == []
    texts = [e.text for e in store.events(opened.incident_id) if e.kind == "recurrence"]
    assert texts == [f"Recurrence of incident #{incident_id}: its alerts fired again"]
    [broadcast] = [op for op in store.outbox(opened.incident_id) if op.kind == "broadcast.post"]
    assert broadcast.payload["text"].endswith(f"(recurrence of #{incident_id})")


def test_a_recovery_after_resolve_changes_nothing(
    ingest: Callable[..., IngestResult], run: Run, store: Store, clock: SimulatedClock
) -> None:
    incident_id = _resolved(ingest, run)
    events = len(store.events(incident_id))
    clock.advance(timedelta(minutes=1))

    result = ingest(reference_alert(status="resolved"))

    assert result.incident_id is None
    assert len(store.events(incident_id)) == events
    assert _notices(store, incident_id) == []
