"""The scheduler's fencing token: an epoch bumped by each new leader, checked by each job."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update
from sqlmodel import Session, col

from storage.models import SchedulerLeader


def take_over(*, connection: Connection, holder: str, now: datetime) -> int:
    """Make `holder` the leader of a new epoch and return it (the caller commits).

    The UPDATE waits for any job transaction still holding the row (`holds`): a job of the
    previous leader either commits before the new epoch exists or finds it and fires nothing.
    """
    epoch = connection.execute(
        update(SchedulerLeader)
        .where(col(SchedulerLeader.id) == 1)
        .values(epoch=col(SchedulerLeader.epoch) + 1, holder=holder, elected_at=now)
        .returning(col(SchedulerLeader.epoch))
    ).scalar_one()
    return int(epoch)


def holds(*, session: Session, epoch: int) -> bool:
    """Whether `epoch` is still the current one; the row stays locked until the caller's
    transaction ends, so no takeover can slip in before its effects commit."""
    current = session.execute(
        select(col(SchedulerLeader.epoch)).where(col(SchedulerLeader.id) == 1).with_for_update()
    ).scalar_one_or_none()
    return current == epoch


def current(*, connection: Connection) -> int | None:
    """The current epoch, unlocked (a cheap look before doing any work)."""
    value = connection.execute(
        select(col(SchedulerLeader.epoch)).where(col(SchedulerLeader.id) == 1)
    ).scalar_one_or_none()
    return None if value is None else int(value)
