"""Every open incident at a glance (`/incident list`): structured, worded by the adapter."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlmodel import Session, col

from bot.incidents.people import known_names, name_of
from bot.incidents.snapshot import roles_by_incident
from bot.incidents.times import elapsed
from storage.models import OPEN_STATUSES, Incident

# Rows in one answer: a Slack message holds 40,000 characters, but a responder reads a
# screenful; the rest are counted, and the API lists them all.
LIST_LIMIT = 25
# How far back `list all` reaches for resolved incidents.
RECENT = timedelta(days=7)


@dataclass(frozen=True)
class Listed:
    """One incident of the list. `hidden`: a private incident shown to someone who may not
    be in its channel, so its title, channel and commander are left out (None)."""

    id: int
    severity: str
    status: str
    age: timedelta  # since impact started (opened) until now, or until it was resolved
    title: str | None
    commander: str | None
    channel_id: str | None
    drill: bool = False
    hidden: bool = False
    resolved_ago: timedelta | None = None  # resolved ones only


@dataclass(frozen=True)
class IncidentList:
    """Open incidents newest first, then (with `recent`) those resolved in the last
    RECENT, newest first; `more` were left out to stay short."""

    incidents: tuple[Listed, ...]
    more: int
    recent: bool


def incident_list(
    session: Session,
    now: datetime,
    *,
    recent: bool = False,
    member_of: int | Collection[int] | None = None,
    limit: int = LIST_LIMIT,
) -> IncidentList:
    """The open incidents (and with `recent` those resolved within RECENT), at most `limit`.

    Whether someone is in a private incident's channel would take a Slack call per
    incident; what is known for free is where they asked: a private incident is shown in
    full only when asked in its own channel (`member_of`, its id), elsewhere only as a
    private incident with its severity, status and age. The App Home, which asks Slack
    which channels its viewer is in, passes every incident id they are a member of.
    """
    is_open = col(Incident.status).in_(OPEN_STATUSES)
    wanted: ColumnElement[bool] = is_open
    if recent:
        recently = and_(
            col(Incident.status) == "resolved", col(Incident.resolved_at) >= now - RECENT
        )
        wanted = or_(is_open, recently)
    total = session.scalar(select(func.count()).select_from(Incident).where(wanted)) or 0
    rows = list(
        session.scalars(
            select(Incident)
            .where(wanted)
            .order_by(
                case((is_open, 0), else_=1),
                col(Incident.created_at).desc(),
                col(Incident.id).desc(),
            )
            .limit(limit)
        )
    )
    ids = [row.id for row in rows if row.id is not None]
    commanders = {i: roles.get("commander") for i, roles in roles_by_incident(session, ids).items()}
    known = known_names(session, commanders.values())
    return IncidentList(
        tuple(_listed(row, now, commanders.get(row.id or 0), known, member_of) for row in rows),
        more=max(total - len(rows), 0),
        recent=recent,
    )


def _listed(
    row: Incident,
    now: datetime,
    commander: str | None,
    known: dict[str, str],
    member_of: int | Collection[int] | None,
) -> Listed:
    assert row.id is not None
    members = (member_of,) if isinstance(member_of, int) else member_of or ()
    hidden = row.private and row.id not in members
    resolved = row.resolved_at if row.status == "resolved" else None
    return Listed(
        id=row.id,
        severity=row.severity,
        status=row.status,
        age=elapsed(row.created_at, resolved or now),
        title=None if hidden else row.title,
        commander=None if hidden else name_of(commander, known),
        channel_id=None if hidden else row.channel_id,
        drill=row.drill,
        hidden=hidden,
        resolved_ago=elapsed(resolved, now) if resolved else None,
    )
