"""The inbox: requests acknowledged to their sender, kept until they are carried out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from storage.models import InboxRequest
from storage.types import UTCDateTime

_TABLE = InboxRequest.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Accepted:
    """Where a request was stored, and whether it is new (False: a retry of a stored one)."""

    id: int
    new: bool


def _insert(insert: Any) -> Any:
    statement = insert(_TABLE).on_conflict_do_nothing(index_elements=["key"])
    return statement.returning(_TABLE.c.id, _TABLE.c.key)


_INSERTS = {"sqlite": _insert(sqlite_insert), "postgresql": _insert(pg_insert)}
_FIND = select(_TABLE.c.key, _TABLE.c.id).where(
    _TABLE.c.key.in_(bindparam("p_keys", expanding=True))
)


def accept(
    session: Session, requests: list[tuple[str, str, dict[str, Any], datetime]]
) -> list[Accepted]:
    """Store `(key, kind, payload, received_at)` requests; one answer each, in order. A
    key stored before (or twice in this call) is not stored again."""
    connection = session.connection()
    rows: dict[str, dict[str, Any]] = {}
    for key, kind, payload, received_at in requests:
        rows.setdefault(
            key,
            {
                "key": key,
                "kind": kind,
                "payload": payload,
                "received_at": received_at,
                "claimed_until": None,
                "attempts": 0,
                "done_at": None,
            },
        )
    # One compiled statement for any batch size (executemany with RETURNING); what it
    # returns is matched by key, as rows skipped for a conflict return nothing.
    inserted = connection.execute(_INSERTS[connection.dialect.name], list(rows.values()))
    new = {row.key: row.id for row in inserted}
    known = dict(new)
    if len(new) < len(rows):  # retries of requests stored before
        missing = [key for key in rows if key not in new]
        known.update((row.key, row.id) for row in connection.execute(_FIND, {"p_keys": missing}))
    answers: list[Accepted] = []
    for key, *_ in requests:
        answers.append(Accepted(int(known[key]), new.pop(key, None) is not None))
    return answers


def claim(
    session: Session, *, now: datetime, received_before: datetime, lease: timedelta, limit: int
) -> list[InboxRequest]:
    """Take up to `limit` requests not carried out, received before `received_before`, that
    no live worker holds; they stay held for `lease`."""
    query = (
        select(InboxRequest)
        .where(
            col(InboxRequest.done_at).is_(None),
            col(InboxRequest.received_at) < received_before,
            or_(
                col(InboxRequest.claimed_until).is_(None),
                col(InboxRequest.claimed_until) < now,
            ),
        )
        .order_by(col(InboxRequest.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    taken = list(session.scalars(query))
    for request in taken:
        request.claimed_until = now + lease
        request.attempts += 1
    session.flush()
    return taken


_DONE = (
    update(_TABLE)
    .where(_TABLE.c.id.in_(bindparam("p_ids", expanding=True)), _TABLE.c.done_at.is_(None))
    .values(done_at=bindparam("p_now", type_=UTCDateTime))
)


def finish(session: Session, ids: list[int], now: datetime) -> int:
    """Mark requests carried out, in the transaction that carries them out; return how many
    were still to do (fewer: another worker did some)."""
    if not ids:
        return 0
    result = session.connection().execute(_DONE, {"p_ids": ids, "p_now": now})
    return int(result.rowcount)


def pending_count(session: Session) -> int:
    """How many requests are not carried out yet."""
    query = select(func.count()).select_from(_TABLE).where(_TABLE.c.done_at.is_(None))
    return int(session.scalar(query) or 0)


def prune(session: Session, *, done_before: datetime) -> int:
    """Forget requests carried out before `done_before` (a retry that late is not coming)."""
    statement = delete(_TABLE).where(
        _TABLE.c.done_at.is_not(None), _TABLE.c.done_at < bindparam("p_before", type_=UTCDateTime)
    )
    result = session.connection().execute(statement, {"p_before": done_before})
    return int(result.rowcount)
