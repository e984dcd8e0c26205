"""The re-fire policy: alerts of a group whose incident is resolved.

Alertmanager resends a group that is still firing at every `repeat_interval`, whatever was
done with its incident. Within the playbook's `refire_window` of the resolve, the group's
alerts join the resolved incident (stored, and in its timeline) and its channel is told
once per resolve, with a Reopen button; the repeats after that are only counted. Past the
window the group opens a new incident that names the one before (`recurrence_of`).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlmodel import col

from bot.incidents import effects
from bot.incidents.alerts import NormalizedAlert
from bot.incidents.context import Domain
from bot.incidents.notices import StillFiringAfterResolve
from bot.incidents.records import Outcome, Recorder
from playbooks import Playbook
from storage.models import Incident, TimelineEvent
from storage.timeline_kinds import of_kind
from storage.unit_of_work import UnitOfWork

REFIRING = "refiring"  # the timeline kind of the once-per-resolve entry

_INCIDENTS = Incident.__table__  # type: ignore[attr-defined]  # SQLModel's stubs omit it


class Resolved(NamedTuple):
    """A group's last incident, resolved: where it lives and when it was resolved."""

    id: int
    channel_id: str | None
    channel_name: str | None
    resolved_at: datetime | None


_LATEST = (
    select(func.max(_INCIDENTS.c.id).label("id"))
    .where(_INCIDENTS.c.status == "resolved")
    .group_by(_INCIDENTS.c.grouping_key)
)


def last_resolved(connection: Connection, keys: Collection[str]) -> dict[str, Resolved]:
    """Each grouping key's most recent resolved incident, in one query (keys with none
    are left out). Asked only for groups with nothing open."""
    if not keys:
        return {}
    latest = _LATEST.where(_INCIDENTS.c.grouping_key.in_(sorted(keys))).subquery()
    rows = connection.execute(
        select(
            _INCIDENTS.c.id,
            _INCIDENTS.c.grouping_key,
            _INCIDENTS.c.channel_id,
            _INCIDENTS.c.channel_name,
            _INCIDENTS.c.resolved_at,
        ).join(latest, _INCIDENTS.c.id == latest.c.id)
    )
    return {
        row.grouping_key: Resolved(row.id, row.channel_id, row.channel_name, row.resolved_at)
        for row in rows
    }


def rejoins(previous: Resolved | None, playbook: Playbook, now: datetime) -> bool:
    """Whether a firing alert joins the group's resolved incident rather than opening one."""
    if previous is None or previous.resolved_at is None:
        return False
    return now - previous.resolved_at <= playbook.refire_window


def still_firing(
    uow: UnitOfWork, domain: Domain, incident_id: int, alert: NormalizedAlert
) -> Outcome | None:
    """Record once per resolve that the resolved incident's alerts still fire, and tell its
    channel; None when that was done since the incident was last resolved (or it is no
    longer resolved)."""
    session = uow.session
    uow.flush()  # an entry this transaction recorded already must count below
    # Locked, so two deliveries at once cannot both find the channel untold.
    incident = session.get(Incident, incident_id, with_for_update=True, populate_existing=True)
    if incident is None or incident.status != "resolved" or incident.resolved_at is None:
        return None
    told = session.scalar(
        select(col(TimelineEvent.id))
        .where(
            col(TimelineEvent.incident_id) == incident_id,
            of_kind(col(TimelineEvent.kind), REFIRING),
            col(TimelineEvent.recorded_at) >= incident.resolved_at,
        )
        .limit(1)
    )
    if told is not None:
        return None
    uow.incidents[incident_id] = incident
    rec = Recorder(uow, incident, domain.clock.now(), domain.tz)
    rec.event(
        REFIRING,
        f"Still firing after resolve: {alert.title}",
        actor=None,
        source="alert",
        data={"fingerprint": alert.fingerprint, "alert_source": alert.source},
    )
    notice = StillFiringAfterResolve(title=alert.title, resolved_at=incident.resolved_at)
    rec.effect(effects.PostNotice(notice=notice))
    rec.close()
    return rec.outcome
