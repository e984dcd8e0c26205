"""Follow-ups: what the team commits to after an incident, each numbered within it.

`action <text> [@owner] [due YYYY-MM-DD]` records one (due by default in a number of
business days set by the incident's severity, `FOLLOWUP_DUE_DAYS`), `action list` shows
them privately, `action done <n>` and `action drop <n> <why>` close them. With a ticket
tracker configured, each new follow-up is filed as a ticket through the outbox.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

from sqlmodel import Session

from bot.incidents import effects
from bot.incidents.commands import FOLLOWUP_DUE_DAYS
from bot.incidents.errors import DomainError
from bot.incidents.people import known_names, name_of
from bot.incidents.records import Recorder
from storage import followups as stored
from storage.models import Followup, Incident

# Timeline kinds of a follow-up's changes after it was recorded (`action`): the
# postmortem's action items table shows where each follow-up stands, so its timeline
# leaves these out (see `views.is_bookkeeping`).
DONE, DROPPED, REOPENED = "action_done", "action_dropped", "action_reopened"
CHANGE_KINDS = frozenset({DONE, DROPPED, REOPENED})


def business_days_after(day: date, days: int) -> date:
    """The date `days` business days (Monday to Friday) after `day`."""
    while days > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


def default_due(severity: str, now: datetime, tz: tzinfo) -> date:
    """When a follow-up of an incident of `severity` recorded at `now` is due by default."""
    days = FOLLOWUP_DUE_DAYS.get(severity, max(FOLLOWUP_DUE_DAYS.values()))
    return business_days_after(now.astimezone(tz).date(), days)


def _incident(rec: Recorder) -> Incident:
    assert rec.incident is not None and rec.incident.id is not None
    return rec.incident


def add(
    rec: Recorder,
    text: str,
    owner: str | None,
    due: str | None,
    *,
    actor: str,
    tracker: str | None,
) -> str:
    """Record a follow-up; with a `tracker`, queue its ticket. Returns the channel's echo."""
    incident = _incident(rec)
    today = rec.now.astimezone(rec.tz).date()
    if due is not None:
        when = date.fromisoformat(due)  # the grammar let through real dates only
        if when < today:
            raise DomainError(
                f"The due date {due} is in the past (today is {today.isoformat()}): "
                "give a date from today on"
            )
    else:
        when = default_due(incident.severity, rec.now, rec.tz)
    row = stored.add_followup(
        session=rec.session,
        incident_id=_id(incident),
        text=text,
        owner=owner,
        due=when,
        created_by=actor,
        now=rec.now,
    )
    owned = f" (owner {owner})" if owner else ""
    rec.event(
        "action",
        f"{text}{owned}, due {when.isoformat()}",
        actor=actor,
        data={"owner": owner, "number": row.number, "due": when.isoformat()},
    )
    if tracker is not None:
        rec.effect(effects.CreateTicket(number=row.number))
    shown_owner = f" — owner {owner}" if owner else ""
    return f"Follow-up {row.number}: {text}{shown_owner}, due {when.isoformat()}"


def _find(rec: Recorder, number: int) -> Followup:
    incident = _incident(rec)
    row = stored.followup(session=rec.session, incident_id=_id(incident), number=number)
    if row is None:
        count = len(stored.followups(session=rec.session, incident_id=_id(incident)))
        known = f"it has {count} (1 to {count})" if count else "it has none yet"
        raise DomainError(f"Incident #{incident.id} has no follow-up {number}: {known}")
    return row


def done(rec: Recorder, number: int, *, actor: str) -> str:
    """Mark a follow-up done."""
    row = _find(rec, number)
    if row.status == "done":
        raise DomainError(f"Follow-up {number} is already done")
    stored.set_status(row, "done", by=actor, now=rec.now)
    rec.event(DONE, f"follow-up {number} done: {row.text}", actor=actor, data={"number": number})
    return f"Follow-up {number} done: {row.text}"


def drop(rec: Recorder, number: int, why: str, *, actor: str) -> str:
    """Drop a follow-up the team will not do, saying why."""
    row = _find(rec, number)
    if row.status == "dropped":
        raise DomainError(f"Follow-up {number} is already dropped")
    stored.set_status(row, "dropped", by=actor, now=rec.now, reason=why)
    text = f"follow-up {number} dropped: {row.text} (why: {why})"
    rec.event(DROPPED, text, actor=actor, data={"number": number, "why": why})
    return f"Follow-up {number} dropped: {row.text}. Why: {why}"


def listing(session: Session, incident: Incident, today: date) -> str:
    """The incident's follow-ups, one per line, for the responder who asked."""
    rows = stored.followups(session=session, incident_id=_id(incident))
    if not rows:
        return (
            f"Incident #{incident.id} has no follow-ups yet: add one with "
            "`/incident action <text> [@owner] [due YYYY-MM-DD]`"
        )
    known = known_names(session, [row.owner for row in rows])
    lines = [f"Follow-ups of incident #{incident.id}:"]
    for row in rows:
        parts = [f"{row.number}. [{row.status}] {row.text}"]
        if row.owner:
            parts.append(f"owner {name_of(row.owner, known)}")
        if row.due is not None:
            late = " (overdue)" if row.status == "open" and row.due < today else ""
            parts.append(f"due {row.due.isoformat()}{late}")
        if row.ticket_key:
            parts.append(f"ticket {row.ticket_key} {row.ticket_url or ''}".rstrip())
        if row.drop_reason:
            parts.append(f"why dropped: {row.drop_reason}")
        lines.append(" — ".join(parts))
    return "\n".join(lines)


def _id(incident: Incident) -> int:
    assert incident.id is not None
    return incident.id
