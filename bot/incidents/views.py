"""Read-only views of an incident, as text for a responder."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session, col

from bot.incidents.times import format_local
from storage.models import Incident, TimelineEvent

TIMELINE_LIMIT = 50


def timeline(session: Session, incident_id: int) -> list[TimelineEvent]:
    """An incident's timeline in the order things happened."""
    return list(
        session.scalars(
            select(TimelineEvent)
            .where(col(TimelineEvent.incident_id) == incident_id)
            .order_by(col(TimelineEvent.occurred_at), col(TimelineEvent.id))
        )
    )


def spans_days(incident: Incident, events: list[TimelineEvent], tz: ZoneInfo) -> bool:
    """Whether the incident's events fall on more than one local day."""
    days = {event.occurred_at.astimezone(tz).date() for event in events}
    days.add(incident.created_at.astimezone(tz).date())
    return len(days) > 1


def timeline_text(session: Session, incident: Incident, tz: ZoneInfo) -> str:
    """The last entries of the timeline, one per line, in the team's time zone."""
    assert incident.id is not None
    events = timeline(session, incident.id)
    with_date = spans_days(incident, events, tz)
    shown = events[-TIMELINE_LIMIT:]
    lines = [f"*Timeline of incident #{incident.id}* ({tz.key})"]
    if len(events) > len(shown):
        lines.append(f"_…{len(events) - len(shown)} earlier entries in the postmortem_")
    for event in shown:
        who = f" — {event.actor}" if event.actor else ""
        when = format_local(event.occurred_at, tz, with_date=with_date)
        lines.append(f"`{when}` {event.kind}: {event.text}{who}")
    return "\n".join(lines)
