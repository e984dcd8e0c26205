"""Updates from the paging tool applied to the warroom incident they are about.

Each kind goes through the path a responder's command takes (ack, note, severity), with
the tool's time and person, and is told in the incident channel. Nothing goes back to
the tool: it already knows, and echoing would loop (an ack from PagerDuty sent back as an
acknowledge, a priority change re-paging). A change warroom already has (an ack coming
back after `/incident ack` sent it to PagerDuty) records nothing a second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from bot.incidents import effects, lifecycle, notes
from bot.incidents.context import Domain
from bot.incidents.errors import DomainError
from bot.incidents.paging import PagingUpdate
from bot.incidents.records import Origin, Outcome, Recorder, milestones_of
from storage.models import Alert, Incident, PagedIncident
from storage.unit_of_work import UnitOfWork

SOURCE = "pager"  # the timeline's and milestones' `source` for what a paging tool did
TOOL_NAMES = {"pagerduty": "PagerDuty"}


@dataclass(frozen=True)
class UpdateResult:
    """What one update did: the incident it is about (None if warroom knows none), whether
    anything was recorded, and if not, why."""

    incident_id: int | None
    applied: bool
    reason: str | None = None
    channel_id: str | None = None
    channel_name: str | None = None
    outcome: Outcome | None = None


def tool_name(source: str) -> str:
    """The paging tool's name as people know it."""
    return TOOL_NAMES.get(source, source)


def apply_updates(
    uow: UnitOfWork, domain: Domain, updates: list[PagingUpdate]
) -> list[UpdateResult]:
    """Apply each update to its incident, in order; one result each."""
    return [apply_update(uow, domain, update) for update in updates]


def apply_update(uow: UnitOfWork, domain: Domain, update: PagingUpdate) -> UpdateResult:
    """Apply one update to the incident it is about, or say why nothing was recorded."""
    tool = tool_name(update.source)
    incident = _find(uow, update)
    if incident is None or incident.id is None:
        if update.incident_id is not None:
            reason = f"{tool} paged for incident #{update.incident_id}, which does not exist"
        else:
            reason = f"{tool} incident {update.external_id} is not one warroom knows"
        return UpdateResult(None, False, reason)
    now = domain.clock.now()
    _link(uow, update, incident.id, now)
    where = (incident.channel_id, incident.channel_name)
    if incident.status == "resolved":
        reason = f"incident #{incident.id} is resolved; {update.kind} from {tool} not recorded"
        return UpdateResult(incident.id, False, reason, *where)
    try:
        with uow.savepoint():
            rec = Recorder(uow, incident, now, domain.tz)
            # First in the outbox, so the channel reads what happened, then its effects.
            told = rec.effect(effects.PostMessage(text=""))
            origin = Origin(source=SOURCE, at=update.at, pager=tool)
            rec.amend(told, text=_apply(rec, update, origin))
            rec.close()
    except DomainError as refused:
        return UpdateResult(incident.id, False, str(refused), *where)
    return UpdateResult(incident.id, True, None, *where, outcome=rec.outcome)


def _apply(rec: Recorder, update: PagingUpdate, origin: Origin) -> str:
    """Record the update; return what the channel is told."""
    tool = origin.pager
    who = update.actor or tool or update.source
    ref = f"{tool} incident #{update.number}" if update.number else f"{tool} incident"
    match update.kind:
        case "acknowledged":
            assert rec.incident is not None and rec.incident.id is not None
            if milestones_of(rec.session, rec.incident.id).get("acknowledged") is not None:
                # Ours coming back (`/incident ack` acknowledged the page), or a second ack.
                raise DomainError(f"incident #{rec.incident.id} is already acknowledged")
            lifecycle.ack(rec, actor=who, origin=origin)
            return f"{who} acknowledged the incident in {tool}"
        case "annotated":
            if not update.text:
                raise DomainError(f"the {tool} note is empty")
            notes.note(rec, update.text, actor=who, origin=origin)
            return f"Note from {who} in {tool}: {update.text}"
        case "priority_updated":
            priority = update.priority or "none"
            if update.severity is None:
                raise DomainError(f"{tool} priority {priority} names no severity")
            why = f"({tool} priority {priority})"
            changed = lifecycle.set_severity(
                rec, update.severity, actor=who, origin=origin, why=why
            )
            return f"{who} set the {tool} priority to {priority}. {changed}"
        case "triggered":
            to = f", notifying {update.text}" if update.text else ""
            return _told(rec, origin, who, f"{ref} opened for this incident's page{to}")
        case "escalated" | "reassigned":
            to = f" to {update.text}" if update.text else ""
            by = f" by {update.actor}" if update.actor else ""
            return _told(rec, origin, who, f"{ref} {update.kind}{to}{by}")
        case "delegated":
            to = f" to escalation policy {update.text}" if update.text else ""
            by = f" by {update.actor}" if update.actor else ""
            return _told(rec, origin, who, f"{ref} delegated{to}{by}")
        case "unacknowledged" | "reopened":
            by = f" by {update.actor}" if update.actor else ""
            return _told(rec, origin, who, f"{ref} {update.kind}{by}")
        case "resolved":
            by = f" by {update.actor}" if update.actor else ""
            # A resolve from outside is recorded, not obeyed: the responders close it here.
            text = f"{ref} resolved{by}; this incident stays open until `/incident resolve`"
            return _told(rec, origin, who, text)
    raise DomainError(f"{update.kind} from {tool} is not applied")


def _told(rec: Recorder, origin: Origin, who: str, text: str) -> str:
    """A timeline entry of what the tool did; the channel is told the same."""
    rec.event("pager", text, actor=who, source=origin.source, at=origin.at)
    rec.touch()
    return text


_LINKED = select(col(PagedIncident.incident_id))
_ALERTED = select(col(Alert.incident_id)).order_by(col(Alert.incident_id).desc()).limit(1)


def _find(uow: UnitOfWork, update: PagingUpdate) -> Incident | None:
    """Ours by page key; else the tool's incident as linked before, or whose alert opened one."""
    if update.incident_id is not None:
        return uow.incident(update.incident_id)
    session = uow.session
    uow.flush()  # an alert of this very notification may have opened it
    linked = session.scalar(
        _LINKED.where(
            col(PagedIncident.source) == update.source,
            col(PagedIncident.external_id) == update.external_id,
        )
    )
    if linked is None:
        linked = session.scalar(
            _ALERTED.where(
                col(Alert.source) == update.source,
                col(Alert.fingerprint) == update.external_id,
            )
        )
    return uow.incident(linked) if linked is not None else None


def _link(uow: UnitOfWork, update: PagingUpdate, incident_id: int, now: datetime) -> None:
    """Remember which warroom incident the tool's incident is, for its events that carry
    no page key (a note names only the tool's incident)."""
    if update.incident_id is None:
        return  # found through its alert, which stays the way to find it
    session = uow.session
    known = session.scalar(
        _LINKED.where(
            col(PagedIncident.source) == update.source,
            col(PagedIncident.external_id) == update.external_id,
        )
    )
    if known is not None:
        return
    try:
        with uow.savepoint():
            session.add(
                PagedIncident(
                    source=update.source,
                    external_id=update.external_id,
                    incident_id=incident_id,
                    linked_at=now,
                )
            )
    except IntegrityError:
        pass  # a concurrent event of the same incident linked it first: the same link
