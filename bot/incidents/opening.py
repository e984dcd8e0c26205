"""Opening incidents: declared by a responder, or from an alert (grouped and deduplicated)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer
from sqlmodel import Session

from bot.incidents import effects, reminders, stages
from bot.incidents.alerts import NormalizedAlert
from bot.incidents.context import Domain
from bot.incidents.records import Outcome, Recorder
from bot.incidents.roles import assign_role
from bot.incidents.times import format_local
from playbooks import Playbook
from storage.models import Alert, Incident
from storage.types import JSONType, UTCDateTime

DEFAULT_SEVERITY = "sev3"


@dataclass
class IngestResult:
    """What one alert did: the incident it belongs to (None if ignored) and how."""

    incident: Incident | None
    created: bool = False
    repeat: bool = False
    outcome: Outcome | None = None


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


# The snapshot columns are large and an alert joining its incident needs none of them.
_FIND_OPEN = (
    select(Incident)
    .where(Incident.grouping_key == bindparam("p_key"), Incident.status != "resolved")
    .options(defer(Incident.playbook_snapshot), defer(Incident.postmortem))
)


def _find_open(session: Session, key: str) -> Incident | None:
    return session.scalar(_FIND_OPEN, {"p_key": key})


def ingest_alert(session: Session, domain: Domain, alert: NormalizedAlert) -> IngestResult:
    """Attach an alert to its group's open incident, opening one if a firing alert needs it."""
    playbook = domain.catalog.select(alert.labels)
    key = grouping_key(alert, playbook)
    incident = _find_open(session, key)
    if incident is None:
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
                    first=lambda opened: _attach(opened, alert),
                )
            return IngestResult(rec.incident, created=True, outcome=rec.outcome)
        except IntegrityError:
            # Another transaction opened this group's incident first: join it.
            incident = _find_open(session, key)
            if incident is None:
                raise
            rec = Recorder(session, incident, domain.clock.now(), domain.tz)
    else:
        rec = Recorder(session, incident, domain.clock.now(), domain.tz)
    repeat = _attach(rec, alert)
    return IngestResult(incident, repeat=repeat, outcome=rec.outcome)


# Built once: an alert storm runs these thousands of times, and building a statement costs
# more than SQLite takes to run it.
_ALERTS = Alert.__table__
_IDENTITY = (
    _ALERTS.c.incident_id == bindparam("p_incident_id"),
    _ALERTS.c.source == bindparam("p_source"),
    _ALERTS.c.fingerprint == bindparam("p_fingerprint"),
)
_REPEAT = (
    update(_ALERTS)
    .where(*_IDENTITY, _ALERTS.c.status == bindparam("p_status"))
    .values(
        seen_count=_ALERTS.c.seen_count + 1,
        last_seen_at=bindparam("p_now", type_=UTCDateTime),
    )
    .returning(_ALERTS.c.id)
)


def _insert_alert(insert: Any) -> Any:
    return (
        insert(_ALERTS)
        .values(
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
        .on_conflict_do_nothing(index_elements=["incident_id", "source", "fingerprint"])
        .returning(_ALERTS.c.id)
    )


_INSERT_SQLITE = _insert_alert(sqlite_insert)
_INSERT_PG = _insert_alert(pg_insert)


def _attach(rec: Recorder, alert: NormalizedAlert) -> bool:
    """Store the alert on the incident; True when it was only a repeat.

    A storm is mostly repeats and new alerts, so each takes one statement (an UPDATE or an
    INSERT ... ON CONFLICT DO NOTHING) with no lock round trip and no savepoint; only a
    status change reads the row.
    """
    session, incident, now = rec.session, rec.incident, rec.now
    assert incident is not None
    connection = session.connection()
    key = {
        "p_incident_id": incident.id,
        "p_source": alert.source,
        "p_fingerprint": alert.fingerprint,
    }
    repeated = connection.execute(_REPEAT, {**key, "p_status": alert.status, "p_now": now}).first()
    if repeated is not None:
        return True
    insert = _INSERT_PG if connection.dialect.name == "postgresql" else _INSERT_SQLITE
    inserted = connection.execute(
        insert,
        {
            **key,
            "p_title": alert.title,
            "p_status": alert.status,
            "p_labels": dict(alert.labels),
            "p_annotations": dict(alert.annotations),
            "p_starts_at": alert.starts_at,
            "p_ends_at": alert.ends_at,
            "p_url": alert.url,
            "p_now": now,
        },
    ).first()
    if inserted is not None:
        verb = "resolved" if alert.status == "resolved" else "firing"
        rec.event(
            "alert",
            f"Alert {verb}: {alert.title}",
            actor=None,
            source="alert",
            at=alert.starts_at if alert.status == "firing" and alert.starts_at else now,
            data={"fingerprint": alert.fingerprint, "alert_source": alert.source},
        )
        return False
    # The alert is stored with another status: a recovery, or firing again.
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
        return True
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
    return False
