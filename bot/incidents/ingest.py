"""Alerts in: each grouped onto its group's open incident (opening one), deduplicated.

A storm is thousands of alerts a second joining a few incidents, so the work is shaped
for it: alerts arrive in batches (one transaction, see `bot.outbox.batching`), the batch's
open incidents are looked up in one query, the alerts joining them are stored by one
multi-row upsert (a repeat of an alert in the same batch goes in the next statement), and
their timeline entries are inserted together at the end. All are Core statements built
once: no ORM object per alert and no autoflush before each statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from bot.incidents import effects, refire
from bot.incidents.alert_identity import (
    firing_names,
    former_grouping_key,
    grouping_key,
    opening_severity,
    opening_title,
)
from bot.incidents.alert_statements import ALERT_EVENT, FIND_OPEN, FIND_OPEN_MANY, UPSERT
from bot.incidents.alerts import NormalizedAlert
from bot.incidents.context import Domain
from bot.incidents.opening import open_incident
from bot.incidents.records import Outcome, Recorder
from playbooks import Playbook
from storage.models import Alert, Incident
from storage.unit_of_work import UnitOfWork


@dataclass
class IngestResult:
    """What one alert did: the incident it belongs to (None if ignored) and how."""

    incident_id: int | None
    channel_id: str | None = None
    channel_name: str | None = None
    created: bool = False
    repeat: bool = False
    outcome: Outcome | None = None  # set when the incident was opened or its card changes


class _Open(NamedTuple):
    id: int
    channel_id: str | None
    channel_name: str | None


def ingest_alerts(
    uow: UnitOfWork, domain: Domain, alerts: list[NormalizedAlert]
) -> list[IngestResult]:
    """Attach each alert to its group's open incident, opening one where a firing alert
    needs it; one result per alert, in order."""
    if not alerts:
        return []
    connection = uow.connection()
    grouped = [(alert, domain.catalog.select(alert.labels)) for alert in alerts]
    keys = [grouping_key(alert, playbook) for alert, playbook in grouped]
    formers = [former_grouping_key(alert) for alert in alerts]
    wanted = sorted(set(keys).union(former for former in formers if former))
    open_by_key = {
        key: _Open(incident_id, channel_id, channel_name)
        for incident_id, channel_id, channel_name, key in FIND_OPEN_MANY[
            connection.dialect.name
        ].run(connection, {"p_keys": wanted})
    }
    found: dict[str, _Open] = {}
    for key, former in zip(keys, formers, strict=True):
        if key in open_by_key:
            found[key] = open_by_key[key]
        elif former in open_by_key:
            # Opened before group keys named their sender: joined until it is resolved.
            found[key] = open_by_key[former]
    names = firing_names(alerts, keys)
    results: list[IngestResult | None] = [None] * len(alerts)
    joining: list[tuple[int, _Open]] = []  # (alert's position, the incident it joins)
    # Groups with nothing open: their last resolved incident, for the re-fire policy
    # (under the key an older warroom gave the group too, if it was resolved before).
    unopened = {key for key in keys if key not in found}
    unopened |= {
        former for key, former in zip(keys, formers, strict=True) if former and key in unopened
    }
    previous = refire.last_resolved(connection, unopened) if unopened else {}
    told: dict[int, Outcome] = {}  # alert position: the "still firing" notice it caused
    for n, ((alert, playbook), key) in enumerate(zip(grouped, keys, strict=True)):
        incident = found.get(key)
        if incident is None:
            if alert.status == "resolved":
                results[n] = IngestResult(None)  # nothing open to attach a recovery to
                continue
            before = previous.get(key) or previous.get(formers[n] or "")
            if refire.rejoins(before, playbook, domain.clock.now()):
                assert before is not None
                # Resolved a moment ago: the group joins that incident, and says so once.
                incident = found[key] = _Open(before.id, before.channel_id, before.channel_name)
                notice = refire.still_firing(uow, domain, before.id, alert)
                if notice is not None:
                    told[n] = notice
                joining.append((n, incident))
                continue
            # The first firing alert of a group with nothing open opens the incident (and
            # is stored with it); the group's later alerts join it below.
            recurrence_of = before.id if before is not None else None
            title = opening_title(alert, names[key])
            opened = _open_for(uow, domain, alert, playbook, key, title, recurrence_of)
            if isinstance(opened, IngestResult):
                assert opened.incident_id is not None
                found[key] = _Open(opened.incident_id, opened.channel_id, opened.channel_name)
                results[n] = opened
                continue
            incident = found[key] = opened
        joining.append((n, incident))
    _join_all(uow, connection, domain, alerts, joining, results)
    for n, notice in told.items():
        result = results[n]
        if result is not None and result.outcome is None:
            result.outcome = notice  # work for the outbox: the dispatcher is woken
    done = [result for result in results if result is not None]
    assert len(done) == len(alerts), "an alert was left without a result"
    return done


def ingest_alert(uow: UnitOfWork, domain: Domain, alert: NormalizedAlert) -> IngestResult:
    """Attach one alert (see `ingest_alerts`)."""
    return ingest_alerts(uow, domain, [alert])[0]


def _rounds(
    alerts: list[NormalizedAlert], joining: list[tuple[int, _Open]]
) -> list[list[tuple[int, _Open]]]:
    """Split into rounds in which each stored alert appears once: one upsert statement may
    not touch the same row twice, and a repeat must see the row its predecessor left."""
    rounds: list[list[tuple[int, _Open]]] = []
    seen: dict[tuple[int, str, str], int] = {}
    for n, incident in joining:
        identity = (incident.id, alerts[n].source, alerts[n].fingerprint)
        index = seen[identity] = seen.get(identity, -1) + 1
        if index == len(rounds):
            rounds.append([])
        rounds[index].append((n, incident))
    return rounds


def _join_all(
    uow: UnitOfWork,
    connection: Connection,
    domain: Domain,
    alerts: list[NormalizedAlert],
    joining: list[tuple[int, _Open]],
    results: list[IngestResult | None],
) -> None:
    """Store the alerts that join open incidents, on the unit of work's `connection` (asked
    for once: a session's costs its bookkeeping each time): one upsert per round."""
    now = domain.clock.now()
    entries: list[dict[str, Any]] = []  # timeline entries of new alerts, inserted together
    for batch in _rounds(alerts, joining):
        rows = UPSERT[connection.dialect.name].run(
            connection, [_alert_params(incident.id, alerts[n], now) for n, incident in batch]
        )
        # Rows come back in no promised order: match them by the alert's identity.
        seen_counts = {(row[0], row[1], row[2]): row[3] for row in rows}
        for n, incident in batch:
            alert = alerts[n]
            seen = seen_counts.get((incident.id, alert.source, alert.fingerprint))
            outcome = None
            if seen == 1:
                entries.append(_entry(incident.id, alert, now))
            elif seen is None:  # stored with another status: a recovery, or firing again
                # Entries still waiting go in first, so the timeline keeps arrival order.
                _insert_entries(connection, entries)
                entries = []
                rec = Recorder(uow, uow.session.get(Incident, incident.id), now, domain.tz)
                if _status_changed(rec, alert):
                    outcome = rec.outcome
                else:
                    seen = 2
                rec.close()
                uow.flush()  # before the entries that arrived after it
            results[n] = IngestResult(
                incident.id,
                incident.channel_id,
                incident.channel_name,
                repeat=seen is not None and seen > 1,
                outcome=outcome,
            )
    _insert_entries(connection, entries)


def _open_for(
    uow: UnitOfWork,
    domain: Domain,
    alert: NormalizedAlert,
    playbook: Playbook,
    key: str,
    title: str,
    recurrence_of: int | None = None,
) -> IngestResult | _Open:
    """Open the group's incident (a recurrence of `recurrence_of`, the group's last one);
    if another transaction just did, the incident to join."""
    try:
        with uow.savepoint():
            rec = open_incident(
                uow,
                domain,
                title=title,
                severity=opening_severity(alert, playbook),
                playbook=playbook,
                actor=None,
                grouping_key=key,
                started_at=alert.starts_at,
                source="alert",
                recurrence_of=recurrence_of,
                # The alert that opened it comes first in the timeline.
                first=lambda opened: _store(opened.session, opened.now, _id(opened), alert),
            )
            rec.close()
    except IntegrityError:
        row = uow.connection().execute(FIND_OPEN, {"p_key": key}).first()
        if row is None:
            raise
        return _Open(row.id, row.channel_id, row.channel_name)
    incident = rec.incident
    assert incident is not None and incident.id is not None
    return IngestResult(
        incident.id, incident.channel_id, incident.channel_name, created=True, outcome=rec.outcome
    )


def _id(rec: Recorder) -> int:
    assert rec.incident is not None and rec.incident.id is not None
    return rec.incident.id


def _store(session: Session, now: datetime, incident_id: int, alert: NormalizedAlert) -> None:
    """Store the alert that opened the incident, and its timeline entry."""
    connection = session.connection()
    UPSERT[connection.dialect.name].run(connection, [_alert_params(incident_id, alert, now)])
    _insert_entries(connection, [_entry(incident_id, alert, now)])


def _alert_params(incident_id: int, alert: NormalizedAlert, now: datetime) -> dict[str, Any]:
    return {
        "p_incident_id": incident_id,
        "p_source": alert.source,
        "p_fingerprint": alert.fingerprint,
        "p_title": alert.title,
        "p_name": alert.alert_name,
        "p_status": alert.status,
        "p_labels": dict(alert.labels),
        "p_annotations": dict(alert.annotations),
        "p_starts_at": alert.starts_at,
        "p_ends_at": alert.ends_at,
        "p_url": alert.url,
        "p_now": now,
    }


def _entry(incident_id: int, alert: NormalizedAlert, now: datetime) -> dict[str, Any]:
    verb = "resolved" if alert.status == "resolved" else "firing"
    return {
        "p_incident_id": incident_id,
        "p_at": alert.starts_at if alert.status == "firing" and alert.starts_at else now,
        "p_now": now,
        "p_text": f"Alert {verb}: {alert.title}",
        "p_data": {"fingerprint": alert.fingerprint, "alert_source": alert.source},
    }


def _insert_entries(connection: Connection, entries: list[dict[str, Any]]) -> None:
    if entries:
        ALERT_EVENT.run(connection, entries)  # one executemany for all of them


def _status_changed(rec: Recorder, alert: NormalizedAlert) -> bool:
    """Record a recovery, or firing again; False if a concurrent delivery got there first."""
    session, incident, now = rec.session, rec.incident, rec.now
    assert incident is not None
    row = session.scalar(
        select(Alert)
        .where(
            col(Alert.incident_id) == incident.id,
            col(Alert.source) == alert.source,
            col(Alert.fingerprint) == alert.fingerprint,
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
    rec.effect(effects.UpdateCard())
    return True
