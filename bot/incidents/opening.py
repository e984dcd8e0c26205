"""Opening incidents: declared by a responder, or from an alert (grouped and deduplicated)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.incidents import effects, reminders, stages
from bot.incidents.alerts import NormalizedAlert
from bot.incidents.context import Domain
from bot.incidents.records import Outcome, Recorder
from bot.incidents.roles import assign_role
from bot.incidents.times import format_local
from playbooks import Playbook
from storage.models import Alert, Incident, TimelineEvent
from storage.types import JSONType, UTCDateTime

DEFAULT_SEVERITY = "sev3"


@dataclass
class IngestResult:
    """What one alert did: the incident it belongs to (None if ignored) and how."""

    incident_id: int | None
    channel_id: str | None = None
    channel_name: str | None = None
    created: bool = False
    repeat: bool = False
    outcome: Outcome | None = None  # set when the incident was opened or its card changes


def _open(
    session: Session,
    domain: Domain,
    *,
    title: str,
    severity: str,
    playbook: Playbook,
    actor: str | None,
    grouping_key: str | None = None,
    started_at: datetime | None = None,
    source: str = "command",
    drill: bool = False,
    first: Callable[[Recorder], object] | None = None,
) -> Recorder:
    now = domain.clock.now()
    incident = Incident(
        title=title,
        severity=severity,
        status="investigating",
        playbook_id=playbook.id,
        playbook_snapshot=playbook.snapshot(),
        grouping_key=grouping_key,
        drill=drill,
        opened_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(incident)
    session.flush()  # the id names the channel and keys every row below
    name = playbook.channel_name(
        title=title, on=now.astimezone(domain.tz).date(), incident_id=incident.id or 0
    )
    # Drills are told apart at a glance in the channel list.
    incident.channel_name = f"drill-{name}"[:80].rstrip("-_") if drill else name
    rec = Recorder(session, incident, now, domain.tz)
    if first is not None:
        first(rec)  # the alert that opened it comes first in the timeline
    rec.milestone("started", started_at or now, source=source, actor=actor)
    rec.milestone("detected", now, source=source, actor=actor)
    rec.milestone("declared", now, source=source, actor=actor)
    prefix = "Drill declared" if drill else "Incident declared"
    opened = (
        f"{prefix}: {title} ({severity})" if source == "command" else f"Incident opened: {title}"
    )
    rec.event("declared", opened, actor=actor, source=source)
    declarer = [actor] if actor else []
    invite = list(dict.fromkeys([*declarer, *playbook.invite, *playbook.roles.values()]))
    rec.effect(
        effects.OPEN_CHANNEL,
        name=incident.channel_name,
        topic=f"{severity.upper()} · {title}",
        purpose=f"Incident #{incident.id}: {title}. Opened {format_local(now, domain.tz)}.",
        invite=invite,
        private=bool(getattr(playbook, "private", False)),
    )
    rec.effect(effects.POST_CARD)
    rec.effect(
        effects.BROADCAST,
        text=f"{'[DRILL] ' if drill else ''}{severity.upper()} incident #{incident.id} opened: "
        f"{title}",
    )
    for role, person in playbook.roles.items():
        assign_role(rec, role, person, actor=None)
    if severity in ("sev1", "sev2") and not drill:
        rec.effect(effects.PAGE, action="trigger")
    if not drill:
        rec.effect(effects.WEBHOOK, event="incident.opened")
    stages.start(rec, playbook)
    stages.milestone_reached(rec, "detected")
    reminders.schedule_on_open(rec)
    return rec


def declare(
    session: Session,
    domain: Domain,
    *,
    title: str,
    severity: str | None,
    actor: str,
    playbook_id: str | None = None,
    drill: bool = False,
) -> Outcome:
    """Open an incident a responder declared."""
    playbook = domain.catalog.get(playbook_id) if playbook_id else domain.catalog.select({})
    rec = _open(
        session,
        domain,
        title=title,
        severity=severity or playbook.severity or DEFAULT_SEVERITY,
        playbook=playbook,
        actor=actor,
        drill=drill,
    )
    assert rec.incident is not None
    rec.effect(effects.POST_MESSAGE, text=f"declared this incident: {title}", actor=actor)
    rec.outcome.reply = (
        f"Declared incident #{rec.incident.id}: {title}. Opening #{rec.incident.channel_name}…"
    )
    return rec.outcome


def grouping_key(alert: NormalizedAlert, playbook: Playbook) -> str:
    """The group an alert belongs to: the source's own, else the playbook's labels."""
    if alert.group_key:
        return f"{alert.source}:{alert.group_key}"
    if playbook.group_by:
        values = ",".join(f"{k}={alert.labels.get(k, '')}" for k in playbook.group_by)
        return f"{alert.source}:{playbook.id}:{values}"
    return f"{alert.source}:fp:{alert.fingerprint}"


def _severity(alert: NormalizedAlert, playbook: Playbook) -> str:
    # An explicit severity in the playbook outranks what the alert's labels suggest.
    if "severity" in playbook.model_fields_set:
        return playbook.severity
    return alert.severity or DEFAULT_SEVERITY


# Built once: an alert storm runs these thousands of times, and building a statement costs
# more than SQLite takes to run it. They are Core statements on the session's connection:
# no ORM object per alert, and no autoflush before each lookup.
_INCIDENTS = Incident.__table__
_ALERTS = Alert.__table__
_EVENTS = TimelineEvent.__table__

_FIND_OPEN = select(_INCIDENTS.c.id, _INCIDENTS.c.channel_id, _INCIDENTS.c.channel_name).where(
    _INCIDENTS.c.grouping_key == bindparam("p_key"), _INCIDENTS.c.status != "resolved"
)


def _upsert_alert(insert: Any) -> Any:
    # New: inserted with seen_count 1. Same status again: seen_count + 1 (so > 1 comes
    # back). Status changed: the WHERE stops the update and no row comes back.
    statement = insert(_ALERTS).values(
        incident_id=bindparam("p_incident_id"),
        source=bindparam("p_source"),
        fingerprint=bindparam("p_fingerprint"),
        title=bindparam("p_title"),
        status=bindparam("p_status"),
        labels=bindparam("p_labels", type_=JSONType),
        annotations=bindparam("p_annotations", type_=JSONType),
        starts_at=bindparam("p_starts_at", type_=UTCDateTime),
        ends_at=bindparam("p_ends_at", type_=UTCDateTime),
        url=bindparam("p_url"),
        first_seen_at=bindparam("p_now", type_=UTCDateTime),
        last_seen_at=bindparam("p_now", type_=UTCDateTime),
        seen_count=1,
    )
    return statement.on_conflict_do_update(
        index_elements=["incident_id", "source", "fingerprint"],
        set_={
            "seen_count": _ALERTS.c.seen_count + 1,
            "last_seen_at": statement.excluded.last_seen_at,
        },
        where=_ALERTS.c.status == statement.excluded.status,
    ).returning(_ALERTS.c.seen_count)


_UPSERT = {"sqlite": _upsert_alert(sqlite_insert), "postgresql": _upsert_alert(pg_insert)}

_ALERT_EVENT = insert(_EVENTS).values(
    incident_id=bindparam("p_incident_id"),
    occurred_at=bindparam("p_at", type_=UTCDateTime),
    recorded_at=bindparam("p_now", type_=UTCDateTime),
    kind="alert",
    actor=None,
    text=bindparam("p_text"),
    data=bindparam("p_data", type_=JSONType),
    source="alert",
)


def ingest_alert(session: Session, domain: Domain, alert: NormalizedAlert) -> IngestResult:
    """Attach an alert to its group's open incident, opening one if a firing alert needs it."""
    playbook = domain.catalog.select(alert.labels)
    key = grouping_key(alert, playbook)
    connection = session.connection()
    found = connection.execute(_FIND_OPEN, {"p_key": key}).first()
    if found is None:
        if alert.status == "resolved":
            return IngestResult(None)  # nothing open to attach a recovery to
        try:
            with session.begin_nested():
                rec = _open(
                    session,
                    domain,
                    title=alert.title,
                    severity=_severity(alert, playbook),
                    playbook=playbook,
                    actor=None,
                    grouping_key=key,
                    started_at=alert.starts_at,
                    source="alert",
                    first=lambda opened: _store(opened.session, opened.now, _id(opened), alert),
                )
            incident = rec.incident
            assert incident is not None
            return IngestResult(
                incident.id,
                incident.channel_id,
                incident.channel_name,
                created=True,
                outcome=rec.outcome,
            )
        except IntegrityError:
            # Another transaction opened this group's incident first: join it.
            found = connection.execute(_FIND_OPEN, {"p_key": key}).first()
            if found is None:
                raise
    now = domain.clock.now()
    stored = _store(session, now, found.id, alert)
    outcome = None
    if stored == "changed":
        rec = Recorder(session, session.get(Incident, found.id), now, domain.tz)
        if _status_changed(rec, alert):
            outcome = rec.outcome
        else:
            stored = "repeat"
    return IngestResult(
        found.id, found.channel_id, found.channel_name, repeat=stored == "repeat", outcome=outcome
    )


def _id(rec: Recorder) -> int:
    assert rec.incident is not None and rec.incident.id is not None
    return rec.incident.id


def _store(session: Session, now: datetime, incident_id: int, alert: NormalizedAlert) -> str:
    """Store the alert on the incident: "new", "repeat", or "changed" (status differs).

    A storm is mostly repeats and new alerts, so each takes one statement, plus the
    timeline entry of a new alert; only a status change reads the row.
    """
    connection = session.connection()
    seen = connection.execute(
        _UPSERT[connection.dialect.name],
        {
            "p_incident_id": incident_id,
            "p_source": alert.source,
            "p_fingerprint": alert.fingerprint,
            "p_title": alert.title,
            "p_status": alert.status,
            "p_labels": dict(alert.labels),
            "p_annotations": dict(alert.annotations),
            "p_starts_at": alert.starts_at,
            "p_ends_at": alert.ends_at,
            "p_url": alert.url,
            "p_now": now,
        },
    ).scalar()
    if seen is None:
        return "changed"
    if seen > 1:
        return "repeat"
    verb = "resolved" if alert.status == "resolved" else "firing"
    connection.execute(
        _ALERT_EVENT,
        {
            "p_incident_id": incident_id,
            "p_at": alert.starts_at if alert.status == "firing" and alert.starts_at else now,
            "p_now": now,
            "p_text": f"Alert {verb}: {alert.title}",
            "p_data": {"fingerprint": alert.fingerprint, "alert_source": alert.source},
        },
    )
    return "new"


def _status_changed(rec: Recorder, alert: NormalizedAlert) -> bool:
    """Record a recovery, or firing again; False if a concurrent delivery got there first."""
    session, incident, now = rec.session, rec.incident, rec.now
    assert incident is not None
    row = session.scalar(
        select(Alert)
        .where(
            Alert.incident_id == incident.id,
            Alert.source == alert.source,
            Alert.fingerprint == alert.fingerprint,
        )
        .with_for_update()
    )
    assert row is not None
    row.last_seen_at = now
    if row.status == alert.status:
        row.seen_count += 1
        session.add(row)
        return False
    row.status = alert.status
    row.ends_at = alert.ends_at
    session.add(row)
    text = "Alert resolved" if alert.status == "resolved" else "Alert firing again"
    rec.event(
        "alert",
        f"{text}: {alert.title}",
        actor=None,
        source="alert",
        at=alert.ends_at if alert.status == "resolved" and alert.ends_at else now,
        data={"fingerprint": alert.fingerprint, "alert_source": alert.source},
    )
    rec.effect(effects.UPDATE_CARD)
    return True
