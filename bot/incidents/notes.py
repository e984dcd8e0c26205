"""Verbs that add to the record: update, note, log, time, impact, cause, statuspage."""

from __future__ import annotations

from datetime import datetime

from bot.incidents import effects, privacy, reminders
from bot.incidents.chronology import out_of_order
from bot.incidents.errors import DomainError
from bot.incidents.records import COMMAND, Origin, Recorder, milestones_of
from bot.incidents.times import TimeError, format_local, resolve_clock, start_day
from storage.models import Incident, Milestone


def _incident(rec: Recorder) -> Incident:
    assert rec.incident is not None and rec.incident.id is not None
    return rec.incident


def update(rec: Recorder, text: str, *, actor: str) -> str:
    """A status update for stakeholders; it resets the update reminder."""
    incident = _incident(rec)
    rec.event("update", text, actor=actor)
    privacy.broadcast(rec, f"Update on incident #{incident.id} ({incident.title}): {text}")
    if incident.status != "resolved":
        reminders.schedule_status_reminder(rec)
    rec.touch()
    return f"Status update: {text}"


def note(rec: Recorder, text: str, *, actor: str, origin: Origin = COMMAND) -> str:
    """A note for the record (from a paging tool: at the tool's time, naming the tool)."""
    _incident(rec)
    rec.event("note", text, actor=actor, source=origin.source, at=origin.at)
    if origin.pager:
        return f"Note in {origin.pager}: {text}"
    return f"Noted: {text}"


def log(rec: Recorder, clock: str, text: str, *, actor: str) -> str:
    """Record something that happened earlier, at its own time."""
    incident = _incident(rec)
    at = _resolve(clock, rec)
    if at < incident.created_at and (incident.created_at - at).days > 7:
        raise DomainError("That is more than a week before the incident opened")
    rec.event("log", text, actor=actor, source="backdate", at=at)
    started = _started(rec)
    shown = format_local(
        at, rec.tz, with_date=at.astimezone(rec.tz).date() != start_day(started, rec.tz)
    )
    if at < started:
        # Kept, since what led up to an incident belongs in its record, but said out loud:
        # a time typed on the wrong day would otherwise slip in unnoticed.
        before = format_local(started, rec.tz, with_date=True)
        return (
            f"Logged at {shown}: {text}\n:warning: {shown} is before the impact started "
            f"({before}); the entry is kept there, in time order"
        )
    return f"Logged at {shown}: {text}"


def set_time(rec: Recorder, milestone: str, clock: str, *, actor: str) -> str:
    """Correct a milestone's time; the old value stays in its history."""
    incident = _incident(rec)
    at = _resolve(clock, rec)
    if milestone == "resolved" and incident.status != "resolved":
        raise DomainError("The incident is not resolved; `resolve` it first")
    rows = milestones_of(rec.session, _id(incident))
    marks = {name: row.at for name, row in rows.items() if name != milestone}
    # `resolve` marks the incident mitigated at the same moment when nobody did: that
    # mitigation was only implied, so moving the resolution earlier moves it along.
    implied = milestone == "resolved" and _implied_mitigation(rows)
    if implied and at < marks["mitigated"]:
        marks["mitigated"] = at
    else:
        implied = False
    problem = out_of_order(milestone, at, marks, rec.tz)
    if problem:
        raise DomainError(f"Not changed: {problem}")
    shown = format_local(at, rec.tz, with_date=True)
    moved = ["mitigated"] if implied else []
    for name in [milestone, *moved]:
        rec.milestone(name, at, source="backdate", actor=actor, overwrite=True)
        rec.event(
            "time",
            f"{name} set to {shown}",
            actor=actor,
            source="backdate",
            data={"milestone": name, "at": at.isoformat()},
        )
    rec.effect(effects.UpdateCard())
    rec.touch()
    also = " (and *mitigated*, which the resolve had set with it)" if moved else ""
    return f"Milestone *{milestone}* set to {shown}{also}"


def _implied_mitigation(rows: dict[str, Milestone]) -> bool:
    """Whether the mitigation was recorded by the resolve itself, at the same instant."""
    mitigated, resolved = rows.get("mitigated"), rows.get("resolved")
    return (
        mitigated is not None
        and resolved is not None
        and mitigated.source == resolved.source == "command"
        and mitigated.at == resolved.at
    )


def set_impact(rec: Recorder, text: str, *, actor: str) -> str:
    """Describe the customer-facing impact."""
    incident = _incident(rec)
    incident.impact = text
    rec.event("impact", text, actor=actor)
    rec.effect(effects.UpdateCard())
    rec.touch()
    return f"Impact: {text}"


def set_cause(rec: Recorder, text: str, *, actor: str) -> str:
    """Record the root cause (or the current best theory)."""
    incident = _incident(rec)
    incident.cause = text
    rec.event("cause", text, actor=actor)
    rec.touch()
    return f"Cause: {text}"


def statuspage(rec: Recorder, status: str, text: str, *, actor: str) -> str:
    """Publish to the public status page: only the text the responder wrote, under the
    public title. The channel hears what became of it once the status page answered."""
    privacy.require_public(_incident(rec))
    rec.effect(effects.UpdateStatusPage(status=status, text=text))
    rec.event("statuspage", f"status page {status}: {text}", actor=actor, data={"status": status})
    return f"Status page *{status}* requested: {text}"


def _id(incident: Incident) -> int:
    assert incident.id is not None
    return incident.id


def _started(rec: Recorder) -> datetime:
    """When impact started: the `started` milestone, else when the incident opened."""
    incident = _incident(rec)
    started = milestones_of(rec.session, _id(incident)).get("started")
    return started.at if started is not None else incident.created_at


def _resolve(clock: str, rec: Recorder) -> datetime:
    try:
        return resolve_clock(clock, tz=rec.tz, now=rec.now)
    except TimeError as error:
        raise DomainError(str(error)) from error


def pin(rec: Recorder, text: str, *, author: str | None, at: datetime, actor: str | None) -> None:
    """A pinned (or 📌-reacted) message joins the timeline at the message's own time."""
    _incident(rec)
    rec.event("pin", text, actor=author or actor, source="pin", at=at, data={"pinned_by": actor})
