"""The alert path's statements, per database: finding a group's open incident, the alert
upsert, and the timeline entry of a new alert (run as `storage.prepared.Prepared`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.models import Alert, Incident, TimelineEvent
from storage.prepared import Prepared
from storage.types import JSONType, UTCDateTime

_INCIDENTS = Incident.__table__  # type: ignore[attr-defined]  # SQLModel's stubs omit it
_ALERTS = Alert.__table__  # type: ignore[attr-defined]
_EVENTS = TimelineEvent.__table__  # type: ignore[attr-defined]
OPEN_COLUMNS = (_INCIDENTS.c.id, _INCIDENTS.c.channel_id, _INCIDENTS.c.channel_name)

FIND_OPEN = select(*OPEN_COLUMNS).where(
    _INCIDENTS.c.grouping_key == bindparam("p_key"), _INCIDENTS.c.status != "resolved"
)


def _find_open_many(keys_match: Any) -> Prepared:
    return Prepared(
        select(*OPEN_COLUMNS, _INCIDENTS.c.grouping_key).where(
            keys_match, _INCIDENTS.c.status != "resolved"
        )
    )


# An IN list's text changes with its length; PostgreSQL takes the keys as one JSON array,
# so its lookup is one statement text (prepared once by the server). JSON rather than an
# array parameter: psycopg dumps a list as an array in Python, at about a batch's round
# trip of CPU, where the JSON encoder is C.
FIND_OPEN_MANY = {
    "sqlite": _find_open_many(_INCIDENTS.c.grouping_key.in_(bindparam("p_keys", expanding=True))),
    "postgresql": _find_open_many(
        _INCIDENTS.c.grouping_key.in_(
            select(func.jsonb_array_elements_text(bindparam("p_keys", type_=JSONB)))
        )
    ),
}


def _upsert_alert(insert: Any) -> Any:
    # New: inserted with seen_count 1. Same status again: seen_count + 1 (so > 1 comes
    # back). Status changed: the WHERE stops the update and no row comes back.
    statement = insert(_ALERTS).values(
        incident_id=bindparam("p_incident_id"),
        source=bindparam("p_source"),
        fingerprint=bindparam("p_fingerprint"),
        title=bindparam("p_title"),
        name=bindparam("p_name"),
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
    ).returning(
        _ALERTS.c.incident_id, _ALERTS.c.source, _ALERTS.c.fingerprint, _ALERTS.c.seen_count
    )


UPSERT = {
    "sqlite": Prepared(_upsert_alert(sqlite_insert)),
    "postgresql": Prepared(_upsert_alert(pg_insert)),
}

ALERT_EVENT = Prepared(
    insert(_EVENTS).values(
        incident_id=bindparam("p_incident_id"),
        occurred_at=bindparam("p_at", type_=UTCDateTime),
        recorded_at=bindparam("p_now", type_=UTCDateTime),
        kind="alert",
        actor=None,
        text=bindparam("p_text"),
        data=bindparam("p_data", type_=JSONType),
        source="alert",
    )
)
