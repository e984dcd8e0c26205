"""Display names of responders, keyed by their Slack user id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from storage.models import Person


def remember(*, session: Session, user_id: str, name: str | None, now: datetime) -> None:
    """Store or refresh a responder's display name."""
    if not name or not user_id:
        return
    row = session.get(Person, user_id)
    if row is None:
        session.add(Person(id=user_id, name=name, updated_at=now))
    elif row.name != name:
        row.name, row.updated_at = name, now


def names(*, session: Session, user_ids: set[str] | None = None) -> dict[str, str]:
    """Known display names, by user id."""
    query = select(Person)
    if user_ids is not None:
        query = query.where(Person.id.in_(user_ids))
    return {row.id: row.name for row in session.scalars(query)}
