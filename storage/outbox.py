"""The transactional outbox: operations written with the state change that causes them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlmodel import Session

from storage.models import OutboxOp


def enqueue(
    *, session: Session, kind: str, payload: dict[str, Any], incident_id: int | None, now: datetime
) -> OutboxOp:
    """Add an operation; it becomes visible to the dispatcher when the caller commits."""
    op = OutboxOp(
        incident_id=incident_id,
        kind=kind,
        payload=payload,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(op)
    return op


def claim_batch(
    *, session: Session, worker: str, now: datetime, lease: timedelta, limit: int = 50
) -> list[OutboxOp]:
    """Claim due operations, oldest first, at most one incident's head each.

    Operations of one incident run in order, so only the oldest unfinished operation of
    each incident is eligible. `FOR UPDATE SKIP LOCKED` lets replicas claim disjoint rows.
    """
    query = (
        select(OutboxOp)
        .where(
            or_(
                OutboxOp.state == "pending",
                (OutboxOp.state == "running") & (OutboxOp.next_attempt_at <= now),
            ),
            OutboxOp.next_attempt_at <= now,
        )
        .order_by(OutboxOp.id)
        .limit(limit * 4)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    candidates = list(session.scalars(query))
    claimed: list[OutboxOp] = []
    seen_incidents: set[int] = set()
    for op in candidates:
        if op.incident_id is not None:
            if op.incident_id in seen_incidents or _has_earlier_open(session, op):
                seen_incidents.add(op.incident_id)
                continue
            seen_incidents.add(op.incident_id)
        op.state = "running"
        op.claimed_by = worker
        op.attempts += 1
        op.next_attempt_at = now + lease
        op.updated_at = now
        claimed.append(op)
        if len(claimed) >= limit:
            break
    session.flush()
    return claimed


def _has_earlier_open(session: Session, op: OutboxOp) -> bool:
    earlier = session.scalar(
        select(OutboxOp.id)
        .where(
            OutboxOp.incident_id == op.incident_id,
            OutboxOp.id < op.id,
            OutboxOp.state.in_(("pending", "running")),
        )
        .limit(1)
    )
    return earlier is not None


def complete(*, session: Session, op_id: int, result: dict[str, Any], now: datetime) -> None:
    """Mark an operation done and keep what the far side answered."""
    session.execute(
        update(OutboxOp)
        .where(OutboxOp.id == op_id)
        .values(state="done", result=result, updated_at=now, last_error=None)
    )


def retry_later(*, session: Session, op_id: int, error: str, at: datetime, now: datetime) -> None:
    """Put an operation back for another attempt at `at`."""
    session.execute(
        update(OutboxOp)
        .where(OutboxOp.id == op_id)
        .values(state="pending", next_attempt_at=at, last_error=error[:2000], updated_at=now)
    )


def fail(*, session: Session, op_id: int, error: str, now: datetime) -> None:
    """Give up on an operation that can never succeed; it stays for inspection."""
    session.execute(
        update(OutboxOp)
        .where(OutboxOp.id == op_id)
        .values(state="failed", last_error=error[:2000], updated_at=now)
    )
