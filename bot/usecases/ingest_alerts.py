"""Use case: alert notifications in, alerts stored with their incidents, one answer each."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from bot.incidents.alerts import NormalizedAlert
from bot.incidents.context import Domain
from bot.incidents.ingest import IngestResult, ingest_alerts
from bot.incidents.pager_updates import UpdateResult, apply_updates
from bot.incidents.paging import PagingUpdate
from storage.models import Delivery
from storage.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notification:
    """One webhook delivery's alerts; `delivery_id` when the source names its deliveries
    (the answer is then stored for its retries); `updates` a paging tool's news about
    incidents it tracks, applied after the alerts."""

    source: str
    alerts: list[NormalizedAlert]
    delivery_id: str | None = None
    updates: list[PagingUpdate] = field(default_factory=list)


@dataclass
class Touched:
    """An incident a notification opened or joined; its channel named only once Slack
    created it (the name asked for may have come back with a `-2`)."""

    id: int
    channel_id: str | None
    channel_name: str | None
    channel_status: str  # "pending" until the channel exists, then "ready"
    created: bool

    @classmethod
    def of(
        cls,
        incident_id: int,
        channel_id: str | None,
        channel_name: str | None,
        created: bool = False,
    ) -> Touched:
        """The reference to an incident, its channel's name given only once it exists."""
        ready = channel_id is not None
        status = "ready" if ready else "pending"
        return cls(incident_id, channel_id, channel_name if ready else None, status, created)

    def as_dict(self) -> dict[str, Any]:
        """The reference as the answer carries it."""
        # Not dataclasses.asdict: it deep-copies field by field, once per alert of a storm.
        return {
            "id": self.id,
            "channel_id": self.channel_id,
            "channel_name": self.channel_name,
            "channel_status": self.channel_status,
            "created": self.created,
        }


@dataclass(frozen=True)
class Ingested:
    """A notification's answer (JSON-able) and whether it queued work for the outbox."""

    answer: dict[str, Any]
    queued: bool


class RepeatedDelivery(Exception):
    """The delivery id was stored by a concurrent request first: answer with its answer."""


def ingest_notifications(
    uow: UnitOfWork, domain: Domain, notes: list[Notification]
) -> list[Ingested]:
    """Store every notification's alerts; one answer each, in order. Alerts of runs of
    plain notifications are ingested together; a named delivery on its own."""
    answers: list[Ingested] = []
    plain: list[Notification] = []
    for note in notes:
        if note.delivery_id is None and not note.updates:
            plain.append(note)
            continue
        answers += _plain(uow, domain, plain)
        plain = []
        answers.append(_delivered(uow, domain, note))
    answers += _plain(uow, domain, plain)
    return answers


def stored_answer(session: Session, source: str, delivery_id: str | None) -> dict[str, Any] | None:
    """The answer given to a named delivery before, if any."""
    row = session.scalar(_delivery(source, delivery_id))
    return row.response if row is not None else None


def _delivery(source: str, delivery_id: str | None) -> Any:
    return select(Delivery).where(
        col(Delivery.source) == source, col(Delivery.delivery_id) == delivery_id
    )


def _plain(uow: UnitOfWork, domain: Domain, notes: list[Notification]) -> list[Ingested]:
    alerts = [alert for note in notes for alert in note.alerts]
    results = iter(ingest_alerts(uow, domain, alerts))
    return [_answer(note, [next(results) for _ in note.alerts]) for note in notes]


def _delivered(uow: UnitOfWork, domain: Domain, note: Notification) -> Ingested:
    if note.delivery_id is None:
        return _updated(uow, domain, note, _plain(uow, domain, [note])[0])
    session = uow.session
    stored = session.scalar(_delivery(note.source, note.delivery_id))
    if stored is not None:
        return Ingested(stored.response, queued=False)
    delivery = Delivery(
        source=note.source, delivery_id=note.delivery_id, received_at=domain.clock.now()
    )
    session.add(delivery)
    try:
        # First, so a concurrent twin waits on the unique index, not after its work.
        session.flush()
    except IntegrityError as error:
        raise RepeatedDelivery from error
    ingested = _updated(uow, domain, note, _plain(uow, domain, [note])[0])
    delivery.response = ingested.answer
    session.add(delivery)
    return ingested


def _updated(uow: UnitOfWork, domain: Domain, note: Notification, ingested: Ingested) -> Ingested:
    """Apply the notification's updates after its alerts (an alert may have just opened the
    incident an update is about); the answer lists them and the incidents they touched."""
    if not note.updates:
        return ingested
    results = apply_updates(uow, domain, note.updates)
    answer = dict(ingested.answer)
    incidents = list(answer.get("incidents", []))
    listed = {ref["id"] for ref in incidents}
    for result in results:
        if result.incident_id is not None and result.incident_id not in listed:
            listed.add(result.incident_id)
            incidents.append(
                Touched.of(result.incident_id, result.channel_id, result.channel_name).as_dict()
            )
    answer["incidents"] = incidents
    answer["updates"] = [
        _update_answer(update, result) for update, result in zip(note.updates, results, strict=True)
    ]
    queued = ingested.queued or any(r.outcome and r.outcome.effects for r in results)
    return Ingested(answer, queued)


def _update_answer(update: PagingUpdate, result: UpdateResult) -> dict[str, Any]:
    if not result.applied:
        # Said in the answer and the log: a sender's event that changed nothing is no error
        # (PagerDuty would retry an error), but someone may wonder where it went.
        log.info(
            "%s %s for %s not applied: %s",
            update.source,
            update.kind,
            update.external_id,
            result.reason,
        )
    return {
        "kind": update.kind,
        "incident_id": result.incident_id,
        "applied": result.applied,
        "reason": result.reason,
    }


def _answer(note: Notification, results: list[IngestResult]) -> Ingested:
    touched: dict[int, Touched] = {}
    # Most alerts of a storm only join their incident: nothing for the outbox.
    queued = any(result.outcome and result.outcome.effects for result in results)
    for result in results:
        if result.incident_id is None:
            continue
        ref = touched.get(result.incident_id)
        if ref is None:
            touched[result.incident_id] = Touched.of(
                result.incident_id, result.channel_id, result.channel_name, result.created
            )
        elif result.created:
            ref.created = True
    answer = {"incidents": [ref.as_dict() for ref in touched.values()], "alerts": len(note.alerts)}
    return Ingested(answer, queued)
