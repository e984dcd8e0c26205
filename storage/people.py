"""Display names of responders, keyed by their Slack user id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from storage.models import Person
from storage.types import UTCDateTime


def _upsert(insert: Any) -> Any:
    statement = insert(Person).values(
        id=bindparam("p_id"),
        name=bindparam("p_name"),
        updated_at=bindparam("p_now", type_=UTCDateTime),
    )
    return statement.on_conflict_do_update(
        index_elements=[Person.id],
        set_={"name": statement.excluded.name, "updated_at": statement.excluded.updated_at},
        where=Person.name != statement.excluded.name,
    )


# Built once: every command remembers who ran it.
_UPSERT = {"sqlite": _upsert(sqlite_insert), "postgresql": _upsert(pg_insert)}
_SEEN = "warroom.people_seen"  # (user, name) already upserted in this transaction


def remember(*, session: Session, user_id: str, name: str | None, now: datetime) -> None:
    """Store or refresh a responder's display name (an upsert: concurrent first commands
    from one person must not collide on the primary key)."""
    if not name or not user_id:
        return
    connection = session.connection()
    # Commands share transactions in a burst: one upsert per person and name is enough.
    seen: tuple[Connection, set[tuple[str, str]]] | None = session.info.get(_SEEN)
    if seen is None or seen[0] is not connection:
        seen = session.info[_SEEN] = (connection, set())
    if (user_id, name) in seen[1]:
        return
    connection.execute(
        _UPSERT[connection.dialect.name], {"p_id": user_id, "p_name": name, "p_now": now}
    )
    seen[1].add((user_id, name))


def names(*, session: Session, user_ids: set[str] | None = None) -> dict[str, str]:
    """Known display names, by user id."""
    query = select(Person)
    if user_ids is not None:
        query = query.where(col(Person.id).in_(user_ids))
    return {row.id: row.name for row in session.scalars(query)}
