"""Display names of responders, keyed by their Slack user id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from storage.models import Person


def remember(*, session: Session, user_id: str, name: str | None, now: datetime) -> None:
    """Store or refresh a responder's display name (an upsert: concurrent first commands
    from one person must not collide on the primary key)."""
    if not name or not user_id:
        return
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(Person).values(id=user_id, name=name, updated_at=now)
    statement = statement.on_conflict_do_update(
        index_elements=[Person.id],
        set_={"name": statement.excluded.name, "updated_at": statement.excluded.updated_at},
        where=Person.name != statement.excluded.name,
    )
    session.execute(statement)


def names(*, session: Session, user_ids: set[str] | None = None) -> dict[str, str]:
    """Known display names, by user id."""
    query = select(Person)
    if user_ids is not None:
        query = query.where(Person.id.in_(user_ids))
    return {row.id: row.name for row in session.scalars(query)}
