"""Verbs that move an incident through its statuses: ack, sev, status, mitigate, resolve, reopen."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from bot.incidents import channel, effects, pages, privacy, reminders, stages
from bot.incidents.errors import DomainError
from bot.incidents.people import display_name
from bot.incidents.records import COMMAND, Origin, Recorder, milestones_of
from bot.incidents.roles import assign_role, current_roles
from bot.incidents.times import format_local
from storage.models import Incident

PAGED = ("sev1", "sev2")


def _incident(rec: Recorder) -> Incident:
    assert rec.incident is not None and rec.incident.id is not None
    return rec.incident


def _id(incident: Incident) -> int:
    # Every incident a verb sees was flushed when it opened, so it has its id.
    assert incident.id is not None
    return incident.id


def _require_open(incident: Incident, verb: str) -> None:
    if incident.status == "resolved":
        raise DomainError(f"Incident #{incident.id} is resolved; `reopen` it before `{verb}`")


def ack(rec: Recorder, *, actor: str, origin: Origin = COMMAND) -> str:
    """Acknowledge: the responder takes it (and command, if nobody holds it).

    From a paging tool (`origin.pager`) the acknowledgement is recorded at the tool's
    time; its responder is no Slack user to give command to, and the tool is not told.
    """
    incident = _incident(rec)
    _require_open(incident, "ack")
    existing = milestones_of(rec.session, _id(incident)).get("acknowledged")
    if existing is not None:
        who = display_name(rec.session, existing.actor) or "someone"
        raise DomainError(f"Already acknowledged by {who}")
    at = origin.at or rec.now
    where = f" in {origin.pager}" if origin.pager else ""
    rec.milestone("acknowledged", at, source=origin.source, actor=actor)
    rec.event("ack", f"acknowledged{where}", actor=actor, source=origin.source, at=at)
    takes_command = origin.pager is None and "commander" not in current_roles(
        rec.session, _id(incident)
    )
    if takes_command:
        assign_role(rec, "commander", actor, actor=actor)
    if origin.pager is None:
        pages.acknowledge(rec)
    rec.effect(effects.Unschedule(job="ack"))
    stages.milestone_reached(rec, "acknowledged", page=origin.pager is None, actor=actor)
    if takes_command:
        # Command taken by the ack is what `role commander` would have done: its task
        # (in the stage the ack has just entered) is ticked off too.
        stages.command_done(rec, "role", "commander", actor=actor, typed="ack")
    rec.effect(effects.UpdateCard())
    rec.touch()
    return f"acknowledged the incident{where}"


def set_severity(
    rec: Recorder, severity: str, *, actor: str, origin: Origin = COMMAND, why: str = ""
) -> str:
    """Change the severity; raising it to sev1/sev2 pages, unless the paging tool set it.

    `why` follows the change in the timeline and the reply ("(PagerDuty priority P2)").
    """
    incident = _incident(rec)
    _require_open(incident, "sev")
    if incident.severity == severity:
        raise DomainError(f"Severity is already {severity}")
    old, incident.severity = incident.severity, severity
    suffix = f" {why}" if why else ""
    rec.event(
        "severity",
        f"severity {old} → {severity}{suffix}",
        actor=actor,
        source=origin.source,
        at=origin.at,
        data={"from": old},
    )
    if severity in PAGED and old not in PAGED and origin.pager is None:
        pages.trigger(rec)
    rec.effect(effects.SendWebhook(event="incident.severity_changed", severity=severity))
    channel.describe(rec)
    rec.effect(effects.UpdateCard())
    rec.touch()
    return f"Severity changed from {old} to {severity}{suffix}"


def set_status(rec: Recorder, status: str, text: str | None, *, actor: str) -> str:
    """Move to a status; identified and monitoring set their milestones."""
    incident = _incident(rec)
    if status == "resolved":
        return resolve(rec, text, actor=actor)
    _require_open(incident, "status")
    if incident.status == status:
        raise DomainError(f"Status is already {status}")
    old, incident.status = incident.status, status
    suffix = f": {text}" if text else ""
    rec.event("status", f"status {old} → {status}{suffix}", actor=actor, data={"from": old})
    milestone = {"identified": "identified", "monitoring": "mitigated"}.get(status)
    if milestone and rec.milestone(milestone, rec.now, source="command", actor=actor):
        stages.milestone_reached(rec, milestone, actor=actor)
    rec.effect(effects.SendWebhook(event="incident.status_changed", status=status))
    channel.describe(rec)
    rec.effect(effects.UpdateCard())
    rec.touch()
    return f"Status changed to *{status}*{suffix}"


def mitigate(rec: Recorder, text: str | None, *, actor: str) -> str:
    """Impact is stopped: the mitigated milestone, and status monitoring."""
    incident = _incident(rec)
    _require_open(incident, "mitigate")
    existing = milestones_of(rec.session, _id(incident)).get("mitigated")
    if existing is not None:
        when = format_local(existing.at, rec.tz)
        raise DomainError(f"Already mitigated at {when}; use `time mitigated` to correct it")
    rec.milestone("mitigated", rec.now, source="command", actor=actor)
    rec.event("mitigated", f"mitigated: {text}" if text else "mitigated", actor=actor)
    if incident.status in ("investigating", "identified"):
        incident.status = "monitoring"
        rec.effect(effects.SendWebhook(event="incident.status_changed", status="monitoring"))
        channel.describe(rec)
    stages.milestone_reached(rec, "mitigated", actor=actor)
    rec.effect(effects.UpdateCard())
    rec.touch()
    return f"Mitigated{': ' + text if text else ''}; status is *{incident.status}*"


def resolve(rec: Recorder, text: str | None, *, actor: str) -> str:
    """Resolve: close the incident, stop its reminders, draft the postmortem."""
    incident = _incident(rec)
    _require_open(incident, "resolve")
    old, incident.status, incident.resolved_at = incident.status, "resolved", rec.now
    # A draft stored while the incident was open (an earlier resolve's, carried out after
    # a reopen) tells an older ending: readers get a fresh one until this resolve's is stored.
    incident.postmortem = None
    rec.milestone("mitigated", rec.now, source="command", actor=actor)
    rec.milestone("resolved", rec.now, source="command", actor=actor, overwrite=True)
    rec.event(
        "resolved", f"resolved: {text}" if text else "resolved", actor=actor, data={"from": old}
    )
    if text:
        # The last resolve's words are the summary: after a reopen they say how it ended.
        incident.summary = text
    stages.milestone_reached(rec, "resolved", actor=actor)
    pages.resolve(rec)
    reminders.schedule_on_resolve(rec)
    rec.effect(effects.SendWebhook(event="incident.resolved", status="resolved"))
    channel.describe(rec)
    rec.effect(effects.UpdateCard())
    rec.effect(effects.PostPostmortem())
    rec.effect(effects.SendWebhook(event="postmortem.ready"))
    privacy.broadcast(rec, f"Incident #{incident.id} resolved: {incident.title}")
    _follow_on_status_page(rec, "resolved", privacy.PUBLIC_RESOLVED)
    rec.touch()
    return "Incident resolved. The postmortem draft follows."


def reopen(rec: Recorder, *, actor: str) -> str:
    """Reopen a resolved incident, unless its alert group already has a newer one open."""
    incident = _incident(rec)
    if incident.status != "resolved":
        raise DomainError(f"Incident #{incident.id} is not resolved")
    if incident.grouping_key:
        newer = rec.session.scalar(
            select(col(Incident.id)).where(
                col(Incident.grouping_key) == incident.grouping_key,
                col(Incident.status) != "resolved",
            )
        )
        if newer is not None:
            raise DomainError(f"Its alerts are now tracked by incident #{newer}; work there")
    incident.status, incident.resolved_at = "investigating", None
    # The draft stored at the last resolve tells an ending that no longer holds; the next
    # resolve stores a new one, and until then readers get a fresh draft.
    incident.postmortem = None
    resolved = milestones_of(rec.session, _id(incident)).get("resolved")
    if resolved is not None:
        rec.session.delete(resolved)
    rec.event("reopened", "reopened", actor=actor)
    reminders.schedule_on_reopen(rec)
    rec.effect(effects.SendWebhook(event="incident.reopened", status=incident.status))
    channel.describe(rec)
    _follow_on_status_page(rec, "investigating", privacy.PUBLIC_REOPENED)
    rec.effect(effects.UpdateCard())
    rec.touch()
    return "Incident reopened; status is *investigating*"


def _follow_on_status_page(rec: Recorder, status: str, text: str) -> None:
    """Move the status-page incident this one opened, if it opened one (`follow`): the
    public page lives and dies with the incident. Private incidents and drills have none."""
    incident = _incident(rec)
    if not incident.private and not incident.drill:
        rec.effect(effects.UpdateStatusPage(status=status, text=text, follow=True))
