"""The transactional outbox: operations written with the state change that causes them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, func, literal, select, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from storage.models import OutboxOp
from storage.unit_of_work import Rows, UnitOfWork

_TABLE = OutboxOp.__table__  # type: ignore[attr-defined]


def enqueue(
    *,
    session: Session,
    kind: str,
    payload: dict[str, Any],
    incident_id: int | None,
    now: datetime,
    lane: str = "main",
    version: int = 1,
) -> None:
    """Add an operation on its own; it becomes visible to the dispatcher when the caller
    commits. (Through a unit of work, as the domain's operations go: one order for all.)"""
    uow = UnitOfWork(session)
    row(
        uow.rows(),
        kind=kind,
        version=version,
        payload=payload,
        incident_id=incident_id,
        now=now,
        lane=lane,
    )
    uow.flush()


def row(
    rows: Rows,
    *,
    kind: str,
    payload: dict[str, Any],
    incident_id: int | None,
    now: datetime,
    lane: str = "main",
    version: int = 1,
) -> dict[str, Any]:
    """Add an operation to `rows` (inserted with them); the dict can change until then."""
    return rows.add(
        _TABLE,
        {
            "incident_id": incident_id,
            "kind": kind,
            "version": version,
            "lane": lane,
            "payload": payload,
            "state": "pending",
            "attempts": 0,
            "faults": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
            "claimed_by": None,
            "result": None,
            "last_error": None,
        },
    )


def claim(
    *, session: Session, worker: str, now: datetime, lease: timedelta, limit: int = 50
) -> list[list[OutboxOp]]:
    """Claim due operations as chains, one per (incident, lane), each in order.

    A chain starts at the oldest unfinished operation of its lane and stops before the
    first one that is not due (waiting for a retry) or not ours: nothing in a lane ever
    overtakes an earlier operation. `FOR UPDATE SKIP LOCKED` lets replicas claim disjoint
    rows; a running row whose lease ran out is due again. Only operations with nothing
    open and not due before them in their lane are read: hundreds queued behind one held
    or waiting for a retry must not fill the window and hide a new incident's lane.
    """
    open_ = col(OutboxOp.state).in_(("pending", "running"))
    earlier = aliased(OutboxOp)
    waiting_before = (
        select(literal(1))
        .where(
            col(earlier.incident_id) == col(OutboxOp.incident_id),
            col(earlier.lane) == col(OutboxOp.lane),
            col(earlier.state).in_(("pending", "running")),
            col(earlier.id) < col(OutboxOp.id),
            col(earlier.next_attempt_at) > now,
        )
        .exists()
    )
    query = (
        select(OutboxOp)
        .where(open_, col(OutboxOp.next_attempt_at) <= now, ~waiting_before)
        .order_by(col(OutboxOp.id))
        .limit(limit * 10)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    due = {op.id: op for op in session.scalars(query)}
    claimed: list[list[OutboxOp]] = []
    lanes: dict[tuple[int, str], list[OutboxOp]] = {}
    for op in due.values():
        if op.incident_id is None:
            claimed.append([op])  # no incident, no order to keep
        else:
            lanes.setdefault((op.incident_id, op.lane), []).append(op)
    for (incident_id, lane), _ops in list(lanes.items())[:limit]:
        open_ids = session.scalars(
            select(col(OutboxOp.id))
            .where(
                col(OutboxOp.incident_id) == incident_id,
                col(OutboxOp.lane) == lane,
                col(OutboxOp.state).in_(("pending", "running")),
            )
            .order_by(col(OutboxOp.id))
        )
        chain: list[OutboxOp] = []
        for op_id in open_ids:
            if op_id not in due:
                break
            chain.append(due[op_id])
        if chain:
            claimed.append(chain)
    for chain in claimed:
        for op in chain:
            if op.state == "running":
                # Its worker stopped holding it: the far side may have done part of it.
                # A try that never reported back counts as a fault: an operation that
                # kills its worker every time must not be tried forever.
                op.last_error = f"resumed from {op.claimed_by}, whose lease ran out"
                op.faults += 1
            op.state, op.claimed_by = "running", worker
            op.next_attempt_at, op.updated_at = now + lease, now
    session.flush()
    return claimed


def release(*, session: Session, op_ids: list[int], now: datetime) -> None:
    """Hand claimed operations back untried (an earlier one of their chain failed)."""
    if op_ids:
        session.execute(
            update(OutboxOp)
            .where(col(OutboxOp.id).in_(op_ids), col(OutboxOp.state) == "running")
            .values(state="pending", next_attempt_at=now, claimed_by=None, updated_at=now)
        )


def interrupt(
    *,
    session: Session,
    op_ids: list[int],
    worker: str,
    now: datetime,
    untried: Sequence[int] = (),
) -> None:
    """Hand back operations `worker` stopped in the middle of (it is shutting down): due at
    once, for anyone. `op_ids` had begun, so they are marked resumed (the far side may have
    done part of them); `untried` had not, and go back as they were claimed. Not a fault of
    theirs: a worker stopping says nothing of the operation."""
    held = (col(OutboxOp.state) == "running", col(OutboxOp.claimed_by) == worker)
    back = {"state": "pending", "next_attempt_at": now, "claimed_by": None, "updated_at": now}
    if op_ids:
        session.execute(
            update(OutboxOp)
            .where(col(OutboxOp.id).in_(op_ids), *held)
            .values(**back, last_error=f"interrupted: {worker} stopped")
        )
    if untried:
        session.execute(update(OutboxOp).where(col(OutboxOp.id).in_(untried), *held).values(back))


def renew(
    *, session: Session, op_ids: list[int], worker: str, until: datetime, now: datetime
) -> int:
    """Extend the lease on operations `worker` still holds; return how many it still holds.

    A row another worker took over (its lease ran out) or that finished is left alone.
    """
    if not op_ids:
        return 0
    result = session.execute(
        update(OutboxOp)
        .where(
            col(OutboxOp.id).in_(op_ids),
            col(OutboxOp.state) == "running",
            col(OutboxOp.claimed_by) == worker,
        )
        .values(next_attempt_at=until, updated_at=now)
    )
    return int(cast(CursorResult[Any], result).rowcount or 0)


def pending_count(*, session: Session) -> int:
    """How many operations are waiting or running."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(OutboxOp)
            .where(col(OutboxOp.state).in_(("pending", "running")))
        )
        or 0
    )


# Core, built once: the ORM's bulk UPDATE path (compiling, then evaluating the criteria
# against the identity map) cost more than the database's own work for each finished op.
_DONE = {
    "state": "done",
    "result": bindparam("p_result"),
    "updated_at": bindparam("p_now"),
    "last_error": None,
    "attempts": _TABLE.c.attempts + 1,
}
_COMPLETE = update(_TABLE).where(_TABLE.c.id == bindparam("p_id")).values(_DONE)
_COMPLETE_ALIKE = (
    update(_TABLE).where(_TABLE.c.id.in_(bindparam("p_ids", expanding=True))).values(_DONE)
)


def complete(*, session: Session, results: dict[int, dict[str, Any]], now: datetime) -> None:
    """Mark operations done, each keeping what the far side answered (op id: answer)."""
    # Operations that shared one call (echoes posted as one message) share its answer:
    # one statement for all of them instead of one per row.
    alike: dict[str, tuple[dict[str, Any], list[int]]] = {}
    for op, result in results.items():
        key = json.dumps(result, sort_keys=True, default=str)
        alike.setdefault(key, (result, []))[1].append(op)
    connection = session.connection()
    single = [
        {"p_id": ops[0], "p_result": result, "p_now": now}
        for result, ops in alike.values()
        if len(ops) == 1
    ]
    if single:
        connection.execute(_COMPLETE, single)
    for result, ops in alike.values():
        if len(ops) > 1:
            connection.execute(_COMPLETE_ALIKE, {"p_ids": ops, "p_result": result, "p_now": now})


def retry_later(
    *, session: Session, op_id: int, error: str, at: datetime, now: datetime, fault: bool = False
) -> None:
    """Put an operation back for another attempt at `at`; a `fault` (the try failed in our
    own code) is counted apart."""
    session.execute(
        update(OutboxOp)
        .where(col(OutboxOp.id) == op_id)
        .values(
            state="pending",
            next_attempt_at=at,
            last_error=error[:2000],
            updated_at=now,
            attempts=OutboxOp.attempts + 1,
            faults=OutboxOp.faults + (1 if fault else 0),
            claimed_by=None,
        )
    )


def fail(*, session: Session, op_id: int, error: str, now: datetime, fault: bool = False) -> None:
    """Give up on an operation that can never succeed; it stays for inspection."""
    session.execute(
        update(OutboxOp)
        .where(col(OutboxOp.id) == op_id)
        .values(
            state="failed",
            last_error=error[:2000],
            updated_at=now,
            attempts=OutboxOp.attempts + 1,
            faults=OutboxOp.faults + (1 if fault else 0),
        )
    )


def reclaim_all(*, session: Session, now: datetime) -> int:
    """Make every running operation due now (the single process restarted: no one holds
    them); return how many. Only for SQLite, where one process owns the outbox."""
    result = session.execute(
        update(OutboxOp)
        .where(col(OutboxOp.state) == "running")
        .values(
            state="pending",
            next_attempt_at=now,
            last_error="resumed after a restart",
            updated_at=now,
            faults=OutboxOp.faults + 1,
        )
    )
    return int(cast(CursorResult[Any], result).rowcount or 0)
