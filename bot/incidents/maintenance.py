"""Scheduled maintenance: announced 24 hours and 1 hour ahead, at the start and at the end,
and published on the status page as a scheduled maintenance that follows its window."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlmodel import Session, col

from bot.incidents import effects
from bot.incidents.context import Domain
from bot.incidents.effects import PublishMaintenance
from bot.incidents.errors import DomainError
from bot.incidents.notices import MaintenanceDue, MaintenanceScheduled
from bot.incidents.records import Outcome, Recorder
from bot.incidents.times import TimeError, format_local, resolve_clock
from playbooks import parse_duration
from storage.models import Maintenance
from storage.unit_of_work import UnitOfWork

NOTICES = (("t24h", timedelta(hours=-24)), ("t1h", timedelta(hours=-1)))
# The status page's state of a window at each of its phases.
PUBLISHED = {"start": "in_progress", "end": "completed"}


def _when(item: Maintenance, domain: Domain) -> str:
    start = format_local(item.starts_at, domain.tz, with_date=True)
    end = format_local(
        item.ends_at, domain.tz, with_date=item.ends_at.date() != item.starts_at.date()
    )
    return f"{start}–{end} {domain.tz.key}"


def schedule(
    uow: UnitOfWork, domain: Domain, *, start: str, duration: str, title: str, actor: str
) -> Outcome:
    """Schedule a maintenance window and its notices."""
    now = domain.clock.now()
    try:
        starts_at = resolve_clock(start, tz=domain.tz, now=now + timedelta(days=3650))
        length = parse_duration(duration)
    except (TimeError, ValueError) as error:
        raise DomainError(str(error)) from error
    if starts_at <= now:
        raise DomainError("Maintenance must start in the future")
    item = Maintenance(
        title=title,
        starts_at=starts_at,
        ends_at=starts_at + length,
        created_by=actor,
        created_at=now,
    )
    uow.session.add(item)
    uow.session.flush()
    rec = Recorder(uow, None, now, domain.tz)
    for phase, offset in (*NOTICES, ("start", timedelta(0))):
        due = starts_at + offset
        if due > now:
            rec.effect(
                effects.Schedule(job="maintenance", maintenance_id=item.id, phase=phase, due_at=due)
            )
    rec.effect(
        effects.Schedule(
            job="maintenance", maintenance_id=item.id, phase="end", due_at=item.ends_at
        )
    )
    assert item.id is not None
    rec.effect(
        effects.BroadcastNotice(
            notice=MaintenanceScheduled(
                maintenance_id=item.id,
                title=title,
                starts_at=item.starts_at,
                ends_at=item.ends_at,
            )
        )
    )
    rec.effect(PublishMaintenance(maintenance_id=item.id, phase="scheduled"))
    rec.outcome.private = f"Maintenance #{item.id} scheduled: {title}, {_when(item, domain)}"
    rec.close()
    return rec.outcome


def listing(session: Session, domain: Domain) -> str:
    """Upcoming and running maintenance windows."""
    now = domain.clock.now()
    rows = session.scalars(
        select(Maintenance)
        .where(col(Maintenance.cancelled_at).is_(None), col(Maintenance.ends_at) > now)
        .order_by(col(Maintenance.starts_at))
    ).all()
    if not rows:
        return "No maintenance scheduled."
    return "\n".join(f"#{m.id} {m.title}: {_when(m, domain)}" for m in rows)


def cancel(uow: UnitOfWork, domain: Domain, maintenance_id: int, *, actor: str) -> Outcome:
    """Cancel a window; its pending notices are withdrawn and the cancellation announced."""
    item = uow.session.get(Maintenance, maintenance_id)
    now = domain.clock.now()
    if item is None or item.cancelled_at is not None:
        raise DomainError(f"No scheduled maintenance #{maintenance_id}")
    if item.ends_at <= now:
        raise DomainError(f"Maintenance #{maintenance_id} is already over")
    item.cancelled_at = now
    rec = Recorder(uow, None, now, domain.tz)
    rec.effect(effects.Unschedule(job="maintenance", maintenance_id=item.id))
    rec.effect(effects.Broadcast(text=f"Maintenance #{item.id} ({item.title}) is cancelled."))
    assert item.id is not None
    rec.effect(PublishMaintenance(maintenance_id=item.id, phase="cancelled"))
    rec.outcome.private = f"Maintenance #{item.id} cancelled"
    rec.close()
    return rec.outcome


def notice_due(uow: UnitOfWork, domain: Domain, maintenance_id: int, phase: str) -> Outcome | None:
    """Post one of a window's notices, unless it was cancelled."""
    item = uow.session.get(Maintenance, maintenance_id)
    if item is None or item.cancelled_at is not None:
        return None
    if phase not in ("t24h", "t1h", "start", "end"):
        raise ValueError(f"unknown maintenance phase {phase!r}")
    rec = Recorder(uow, None, domain.clock.now(), domain.tz)
    rec.effect(
        effects.BroadcastNotice(
            notice=MaintenanceDue(
                maintenance_id=maintenance_id,
                title=item.title,
                phase=phase,
                starts_at=item.starts_at,
                ends_at=item.ends_at,
            )
        )
    )
    if phase in PUBLISHED:
        rec.effect(PublishMaintenance(maintenance_id=maintenance_id, phase=PUBLISHED[phase]))
    rec.close()
    return rec.outcome
