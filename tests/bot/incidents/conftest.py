"""Helpers to drive the domain the way the Slack adapter does: one transaction per command."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.incidents.alerts import NormalizedAlert
from bot.incidents.commands import parse_command
from bot.incidents.context import Domain
from bot.incidents.ingest import IngestResult, ingest_alert
from bot.incidents.records import Outcome
from bot.incidents.service import execute
from storage.models import Incident, Milestone, OutboxOp, TimelineEvent
from storage.unit_of_work import unit_of_work

Run = Callable[..., Outcome]


@pytest.fixture
def run(sessions: sessionmaker[Session], domain: Domain) -> Run:
    """Run `/incident <text>` as `actor` in incident `incident_id`'s channel, and commit."""

    def _run(
        text: str, incident_id: int | None = None, actor: str = "U0ALICE", key: str | None = None
    ) -> Outcome:
        with unit_of_work(sessions) as uow:
            incident = uow.session.get(Incident, incident_id) if incident_id else None
            return execute(
                uow, domain, parse_command(text), incident=incident, actor=actor, key=key
            )

    return _run


@pytest.fixture
def ingest(sessions: sessionmaker[Session], domain: Domain) -> Callable[..., IngestResult]:
    """Ingest one alert in its own transaction."""

    def _ingest(alert: NormalizedAlert) -> IngestResult:
        with unit_of_work(sessions) as uow:
            return ingest_alert(uow, domain, alert)

    return _ingest


def reference_alert(**changes) -> NormalizedAlert:
    """The reference incident's first alert: matching engine errors at 17:56 HKT."""
    fields = {
        "source": "alertmanager",
        "fingerprint": "f1",
        "title": "API error 30030: matching engine upgrade in progress",
        "name": "MatchingEngineErrors",
        "labels": {"alertname": "MatchingEngineErrors", "service": "matching-engine"},
        "starts_at": datetime(2021, 3, 10, 9, 56, tzinfo=UTC),
        "group_key": '{}:{alertname="MatchingEngineErrors"}',
        "severity": "sev1",
    }
    fields.update(changes)
    return NormalizedAlert(**fields)


class Store:
    """Read what a user would see stored, each call in a fresh session."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def incident(self, incident_id: int) -> Incident:
        with self.sessions() as session:
            row = session.get(Incident, incident_id)
            assert row is not None
            return row

    def incidents(self) -> list[Incident]:
        with self.sessions() as session:
            return list(session.scalars(select(Incident).order_by(Incident.id)))

    def events(self, incident_id: int) -> list[TimelineEvent]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(TimelineEvent)
                    .where(TimelineEvent.incident_id == incident_id)
                    .order_by(TimelineEvent.id)
                )
            )

    def milestones(self, incident_id: int) -> dict[str, Milestone]:
        with self.sessions() as session:
            rows = session.scalars(select(Milestone).where(Milestone.incident_id == incident_id))
            return {row.name: row for row in rows}

    def outbox(self, incident_id: int) -> list[OutboxOp]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(OutboxOp)
                    .where(OutboxOp.incident_id == incident_id)
                    .order_by(OutboxOp.id)
                )
            )


@pytest.fixture
def store(sessions: sessionmaker[Session]) -> Store:
    """What is stored, as the API would read it."""
    return Store(sessions)
