"""Reminders and escalations: when they are due, and what happens when they fire.

The domain decides the times (it has the clock and the playbook); the scheduler adapter
only turns `schedule.set` / `schedule.clear` effects into jobs and calls back in here.
Job ids follow `<kind>:<incident>[:<stage>]`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session, col

from bot.incidents import effects, pages, postmortem_life, privacy, stages
from bot.incidents.cadences import STATUS_UPDATE, UNACKNOWLEDGED, configured_or_default
from bot.incidents.context import Domain
from bot.incidents.notices import StatusUpdateDue, Unacknowledged
from bot.incidents.records import Outcome, Recorder, milestones_of
from bot.incidents.times import format_duration
from storage.models import Incident, TimelineEvent
from storage.timeline_kinds import of_kind
from storage.unit_of_work import UnitOfWork


def _reminder(incident: Incident, name: str, defaults: dict[str, timedelta]) -> timedelta | None:
    configured = None
    if incident.playbook_snapshot:
        configured = getattr(stages.playbook_of(incident).reminders, name, None)
    return configured_or_default(configured, incident.severity, defaults)


def status_update_cadence(incident: Incident) -> timedelta | None:
    """How often stakeholders expect an update: the playbook's, else by severity."""
    return _reminder(incident, "status_update", STATUS_UPDATE)


def schedule_status_reminder(rec: Recorder) -> None:
    """(Re)start the status-update reminder from now."""
    assert rec.incident is not None
    cadence = status_update_cadence(rec.incident)
    if cadence is None:
        return
    rec.effect(
        effects.Schedule(
            job="reminder",
            due_at=rec.now + cadence,
            every_seconds=int(cadence.total_seconds()),
        )
    )


def schedule_on_open(rec: Recorder) -> None:
    """Jobs of a new incident: update reminder, and escalation if nobody acknowledges."""
    assert rec.incident is not None
    schedule_status_reminder(rec)
    window = _reminder(rec.incident, "unacknowledged", UNACKNOWLEDGED)
    if window is not None:
        rec.effect(effects.Schedule(job="ack", due_at=rec.now + window))


def schedule_on_resolve(rec: Recorder) -> None:
    """Stop every reminder of the incident; remind the team the postmortem is due."""
    assert rec.incident is not None
    rec.effect(effects.Unschedule(job="*"))
    postmortem_life.on_resolve(rec)


def schedule_on_reopen(rec: Recorder) -> None:
    """Bring the reminders back; the postmortem is not due while the incident is open."""
    postmortem_life.on_reopen(rec)
    schedule_status_reminder(rec)


def _open_incident(session: Session, incident_id: int) -> Incident | None:
    incident = session.get(Incident, incident_id)
    if incident is None or incident.status == "resolved":
        return None
    return incident


def _last_update(session: Session, incident_id: int) -> datetime | None:
    """When the incident's last status update (in the timeline's order) was recorded."""
    # One seek of the kind index: a storm's incident has tens of thousands of entries.
    at, number = col(TimelineEvent.occurred_at), col(TimelineEvent.id)
    return session.scalar(
        select(col(TimelineEvent.recorded_at))
        .where(
            of_kind(col(TimelineEvent.kind), "update"),
            col(TimelineEvent.incident_id) == incident_id,
        )
        .order_by(at.desc(), number.desc())
        .limit(1)
    )


def status_update_due(uow: UnitOfWork, domain: Domain, incident_id: int) -> Outcome | None:
    """The update reminder fired: nudge the channel unless an update came meanwhile."""
    incident = _open_incident(uow.session, incident_id)
    cadence = status_update_cadence(incident) if incident else None
    if incident is None or cadence is None:
        return None
    rec = Recorder(uow, incident, domain.clock.now(), domain.tz)
    updated = _last_update(uow.session, incident_id)
    last = updated if updated is not None else incident.created_at
    if rec.now - last < cadence - timedelta(seconds=1):
        return None  # an update raced the reminder
    since = format_duration(rec.now - last)
    what = "the last status update" if updated is not None else "the incident opened"
    rec.event("reminder", f"status update due ({since} since {what})", actor=None, source="system")
    elapsed = int((rec.now - last).total_seconds())
    rec.effect(
        effects.PostNotice(
            notice=StatusUpdateDue(elapsed_seconds=elapsed, since_last_update=updated is not None)
        )
    )
    rec.close()
    return rec.outcome


def unacknowledged_due(uow: UnitOfWork, domain: Domain, incident_id: int) -> Outcome | None:
    """Nobody acknowledged in time: escalate."""
    incident = _open_incident(uow.session, incident_id)
    if incident is None or "acknowledged" in milestones_of(uow.session, incident_id):
        return None
    rec = Recorder(uow, incident, domain.clock.now(), domain.tz)
    waited = format_duration(rec.now - incident.created_at)
    rec.event(
        "escalation", f"not acknowledged after {waited}: escalated", actor=None, source="system"
    )
    waited_seconds = int((rec.now - incident.created_at).total_seconds())
    if incident.drill:
        rec.effect(effects.PostNotice(notice=Unacknowledged(waited_seconds=waited_seconds)))
    else:
        # Told in the channel by the page's own notice, once PagerDuty answered.
        pages.trigger(rec, escalation=True, waited_seconds=waited_seconds)
    privacy.broadcast(
        rec, f"Incident #{incident.id} ({incident.title}) has not been acknowledged after {waited}."
    )
    rec.close()
    return rec.outcome


def timebox_due(uow: UnitOfWork, domain: Domain, incident_id: int, stage_id: str) -> Outcome | None:
    """A stage's timebox ran out: remind, then escalate (the playbook engine decides)."""
    incident = _open_incident(uow.session, incident_id)
    if incident is None:
        return None
    rec = Recorder(uow, incident, domain.clock.now(), domain.tz)
    stages.timebox_expired(rec, stage_id)
    rec.close()
    return rec.outcome


def postmortem_due(uow: UnitOfWork, domain: Domain, incident_id: int) -> Outcome | None:
    """The postmortem is due: remind its owner (see `postmortem_life`)."""
    return postmortem_life.remind(uow, domain, incident_id)
