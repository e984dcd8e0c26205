"""Everything a postmortem draft shows, computed once from what the incident recorded."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session, col

from bot.incidents.snapshot import IncidentSnapshot, snapshot
from bot.incidents.stats import METHOD
from bot.incidents.times import format_on_day, start_day
from bot.incidents.views import is_bookkeeping
from bot.postmortem.sections import (
    ROLE_ORDER,
    AlertRow,
    AlertSeen,
    Metric,
    StageRow,
    Window,
    adherence,
    alert_row,
    impact_window,
    metrics,
    services_of,
)
from storage.models import Alert, Followup, TimelineEvent
from storage.people import names

MISSING = "—"
# Kinds whose text reads as a bare statement in the table without saying what it is.
KIND_LABELS = {
    "impact": "Impact",
    "cause": "Cause",
    "update": "Status update",
    "action": "Action item",
    "log": "Logged",
    "pin": "Pinned",
}
PROMPTS = (
    ("What went well", "What helped us detect, respond and recover quickly?"),
    ("What went wrong", "What slowed us down, confused us or made the impact worse?"),
    ("Where we got lucky", "What could have made this much worse, and did not by chance?"),
)

METRICS_NOTE = (
    "Each time is measured from the impact start (the alert's start, else the declaration) "
    "and is never negative: milestones out of order are refused. Across incidents, "
    f"`warroom stats` gives {METHOD}."
)

Namer = Callable[[str | None], str]

__all__ = [
    "MISSING",
    "ActionRow",
    "AlertRow",
    "Communication",
    "Metric",
    "Postmortem",
    "Responder",
    "StageRow",
    "TimelineRow",
    "Window",
    "build",
]


@dataclass(frozen=True)
class TimelineRow:
    time: str
    kind: str
    text: str
    who: str
    source: str


@dataclass(frozen=True)
class ActionRow:
    text: str
    owner: str
    due: str
    status: str
    number: int = 0  # as in `action done <n>`
    ticket: str = MISSING  # its tracker key, "acme/ops#12"
    ticket_url: str | None = None


@dataclass(frozen=True)
class Responder:
    name: str
    id: str
    roles: tuple[str, ...]
    entries: int


@dataclass(frozen=True)
class Communication:
    time: str
    kind: str
    text: str
    who: str


@dataclass(frozen=True)
class Postmortem:
    """A postmortem draft's content, display-ready: every time is in `timezone`."""

    incident_id: int
    title: str
    severity: str
    status: str
    incident_status: str
    date: str
    timezone: str
    commander: str
    authors: tuple[str, ...]
    playbook: str
    drill: bool
    summary: str
    overview: str
    impact: Window
    services: tuple[str, ...]
    symptom: str
    cause: str
    trigger: str
    timeline: tuple[TimelineRow, ...]
    timeline_with_date: bool
    metrics: tuple[Metric, ...]
    metrics_note: str
    stages: tuple[StageRow, ...]
    prompts: tuple[tuple[str, str], ...]
    actions: tuple[ActionRow, ...]
    responders: tuple[Responder, ...]
    roles: dict[str, str]
    communications: tuple[Communication, ...]
    alerts: tuple[AlertRow, ...]


# Entries whose text names people by Slack id ("commander is now U0BOB").
NAMES_PEOPLE = frozenset({"role", "action"})
_PERSON = re.compile(r"\b[UW](?=[A-Z]*\d)[A-Z0-9]{4,}\b")


def build(session: Session, incident_id: int, *, tz: ZoneInfo) -> Postmortem:
    """Gather an incident's draft in a handful of queries, whatever its timeline's length."""
    incident = snapshot(session, incident_id)
    if incident is None:
        raise LookupError(f"No incident #{incident_id}")
    events = session.execute(
        select(
            col(TimelineEvent.occurred_at),
            col(TimelineEvent.kind),
            col(TimelineEvent.actor),
            col(TimelineEvent.text),
            col(TimelineEvent.source),
            col(TimelineEvent.data),
        )
        .where(col(TimelineEvent.incident_id) == incident_id)
        .order_by(col(TimelineEvent.occurred_at), col(TimelineEvent.id))
    ).all()
    events = [event for event in events if not is_bookkeeping(event.kind, event.data)]
    milestones = incident.milestone_times
    roles = dict(incident.roles)
    actions = session.execute(
        select(
            col(Followup.text),
            col(Followup.owner),
            col(Followup.due),
            col(Followup.status),
            col(Followup.number),
            col(Followup.ticket_key),
            col(Followup.ticket_url),
        )
        .where(col(Followup.incident_id) == incident_id)
        .order_by(col(Followup.number))
    ).all()
    alerts = [
        AlertSeen(*row)
        for row in session.execute(
            # The columns named as AlertSeen names its fields, so the two stay in step.
            select(*(getattr(Alert, name) for name in AlertSeen._fields))
            .where(col(Alert.incident_id) == incident_id)
            .order_by(col(Alert.first_seen_at), col(Alert.id))
        )
    ]

    # Count entries per actor in the order they first spoke: the authors of the record.
    entries: dict[str, int] = {}
    for event in events:
        if event.actor:
            entries[event.actor] = entries.get(event.actor, 0) + 1
    people = {*entries, *roles.values(), *(a.owner for a in actions if a.owner)}
    known = names(session=session, user_ids=people) if people else {}

    def name(user: str | None) -> str:
        return known.get(user, user) if user else MISSING

    started = incident.started_at
    # A row carries its date whenever it is not on the day impact started (local time):
    # a backdate to the day before, or an incident running past midnight, reads right.
    day = start_day(started, tz)
    with_date = False

    timeline = []
    communications = []
    for event in events:
        shown = format_on_day(event.occurred_at, tz, day)
        with_date = with_date or len(shown) > len("HH:MM")
        label = KIND_LABELS.get(event.kind)
        text = f"{label}: {event.text}" if label else event.text
        if event.kind in NAMES_PEOPLE:
            text = _PERSON.sub(lambda m: known.get(m.group(0), m.group(0)), text)
        who = name(event.actor)
        timeline.append(TimelineRow(shown, event.kind, text, who, event.source))
        if event.kind in ("update", "statuspage"):
            communications.append(Communication(shown, event.kind, event.text, who))

    window = impact_window(started, milestones, tz)
    services = services_of(alerts)
    symptom = incident.impact or MISSING
    overview = _overview(incident, window, services)
    return Postmortem(
        incident_id=incident_id,
        title=incident.title,
        severity=incident.severity,
        status="Draft",
        incident_status=incident.status,
        date=started.astimezone(tz).strftime("%Y-%m-%d"),
        timezone=tz.key,
        commander=name(incident.commander),
        authors=tuple(name(user) for user in entries),
        playbook=incident.playbook_id,
        drill=incident.drill,
        summary=incident.summary or overview,
        overview=overview,
        impact=window,
        services=services,
        symptom=symptom,
        cause=incident.cause or MISSING,
        trigger=_trigger(incident, alerts, name),
        timeline=tuple(timeline),
        timeline_with_date=with_date,
        metrics=metrics(milestones, tz, day=day),
        metrics_note=METRICS_NOTE,
        stages=adherence(incident, tz, day=day, name=name),
        prompts=PROMPTS,
        actions=tuple(
            ActionRow(
                a.text,
                name(a.owner),
                a.due.isoformat() if a.due else MISSING,
                a.status,
                a.number,
                a.ticket_key or MISSING,
                a.ticket_url,
            )
            for a in actions
        ),
        responders=_responders(entries, roles, name),
        roles={role: name(user) for role, user in _ordered(roles).items()},
        communications=tuple(communications),
        alerts=tuple(alert_row(alert, tz) for alert in alerts),
    )


def _overview(incident: IncidentSnapshot, window: Window, services: tuple[str, ...]) -> str:
    parts = [f"{incident.title} ({incident.severity})"]
    if services:
        parts.append(f"affected {', '.join(services)}")
    if window.end is None:
        parts.append(f"starting {window.text}; impact had not ended when this draft was made")
    else:
        parts.append(f"for {window.duration}, {window.text}")
    sentence = ", ".join(parts) + "."
    if incident.impact:
        sentence += f" Impact: {incident.impact.rstrip('.')}."
    if incident.cause:
        sentence += f" Cause: {incident.cause.rstrip('.')}."
    return sentence


def _trigger(incident: IncidentSnapshot, alerts: list[AlertSeen], name: Namer) -> str:
    if alerts:
        first = alerts[0]
        return f"{first.source} alert: {first.title}"
    if incident.opened_by:
        return f"declared by {name(incident.opened_by)}"
    return MISSING


def _ordered(roles: dict[str, str]) -> dict[str, str]:
    rank = {role: n for n, role in enumerate(ROLE_ORDER)}
    return dict(sorted(roles.items(), key=lambda item: rank.get(item[0], len(rank))))


def _responders(
    entries: dict[str, int], roles: dict[str, str], name: Namer
) -> tuple[Responder, ...]:
    held: dict[str, list[str]] = {}
    for role, user in _ordered(roles).items():
        held.setdefault(user, []).append(role)
    order = list(dict.fromkeys([*held, *entries]))
    return tuple(
        Responder(name(user), user, tuple(held.get(user, ())), entries.get(user, 0))
        for user in order
    )
