"""What integrations read and write in the database: the incident, its refs, its timeline.

Each call is its own short transaction, run in a worker thread so the event loop that
carries the HTTP calls never waits on the database.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col

from bot.incidents.clock import Clock
from bot.incidents.effects import OPEN_CHANNEL
from bot.incidents.snapshot import IncidentSnapshot, snapshot
from storage.db import transaction
from storage.models import Incident, Maintenance, OutboxOp, TimelineEvent
from storage.timeline_kinds import of_kind

KIND = "integration"


@dataclass(frozen=True)
class IncidentView(IncidentSnapshot):
    """The incident an integration sends out, read once per operation: its snapshot."""

    @classmethod
    def of(cls, incident: IncidentSnapshot) -> IncidentView:
        """The view of a snapshot."""
        return cls(**{item.name: getattr(incident, item.name) for item in fields(incident)})

    @property
    def channel_url(self) -> str | None:
        """A link that opens the incident channel in whatever Slack workspace holds it."""
        if not self.channel_id:
            return None
        return f"https://slack.com/app_redirect?channel={self.channel_id}"


class Journal:
    """An integration's window on storage."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock

    def now(self) -> datetime:
        return self.clock.now()

    async def incident(self, incident_id: int) -> IncidentView | None:
        """Read an incident as it is now (None if it is gone)."""
        return await asyncio.to_thread(self._incident, incident_id)

    def _incident(self, incident_id: int) -> IncidentView | None:
        with self.sessions() as session:
            found = snapshot(session, incident_id)
            return IncidentView.of(found) if found is not None else None

    async def remember(self, incident_id: int, **refs: Any) -> None:
        """Store references to the far side's objects in `incident.external`."""

        def work() -> None:
            with transaction(self.sessions) as session:
                row = session.get(Incident, incident_id)
                if row is not None:
                    # A new dict, so SQLAlchemy sees the JSON column changed.
                    row.external = {**(row.external or {}), **refs}

        await asyncio.to_thread(work)

    async def maintenance(self, maintenance_id: int) -> Maintenance | None:
        """Read a maintenance window as it is now (None if it is gone), detached."""

        def work() -> Maintenance | None:
            with self.sessions() as session:
                row = session.get(Maintenance, maintenance_id)
                if row is not None:
                    session.expunge(row)
                return row

        return await asyncio.to_thread(work)

    async def remember_maintenance(self, maintenance_id: int, **refs: Any) -> None:
        """Store references to the far side's objects in `maintenance.external`."""

        def work() -> None:
            with transaction(self.sessions) as session:
                row = session.get(Maintenance, maintenance_id)
                if row is not None:
                    row.external = {**(row.external or {}), **refs}

        await asyncio.to_thread(work)

    async def record(
        self,
        incident_id: int,
        text: str,
        *,
        ok: bool,
        data: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> None:
        """Add an `integration` timeline entry.

        A failure worded exactly like the incident's last integration entry only counts a
        repeat on it, so an endpoint down for an hour is one line, not one per retry.
        `key` records an entry once, whatever the retries (see `recorded`).
        """
        entry = {"ok": ok, **(data or {})}
        await asyncio.to_thread(self._record, incident_id, text, entry, key)

    def _record(self, incident_id: int, text: str, data: dict[str, Any], key: str | None) -> None:
        now = self.now()
        try:
            with transaction(self.sessions) as session:
                if not data["ok"]:
                    last = session.scalar(
                        select(TimelineEvent)
                        .where(
                            col(TimelineEvent.incident_id) == incident_id,
                            of_kind(col(TimelineEvent.kind), KIND),
                        )
                        .order_by(col(TimelineEvent.id).desc())
                        .limit(1)
                    )
                    if last is not None and last.text == text:
                        last.data = {**last.data, "repeats": int(last.data.get("repeats", 0)) + 1}
                        return
                session.add(
                    TimelineEvent(
                        incident_id=incident_id,
                        occurred_at=now,
                        recorded_at=now,
                        kind=KIND,
                        text=text[:500],
                        source="system",
                        data=data,
                        idempotency_key=key,
                    )
                )
        except IntegrityError:
            if key is None:
                raise  # only a keyed entry may already exist

    async def recorded(self, key: str) -> bool:
        """Whether an entry with this idempotency key exists (a delivery already made)."""

        def work() -> bool:
            with self.sessions() as session:
                found = session.scalar(
                    select(col(TimelineEvent.id)).where(col(TimelineEvent.idempotency_key) == key)
                )
                return found is not None

        return await asyncio.to_thread(work)

    async def channel_pending(self, incident_id: int) -> str | None:
        """Whether the incident's channel is still being created: the state of its
        `channel.open` operation, `running` (under way now) or `pending` (waiting for a
        retry); None once it succeeded or failed for good."""

        def work() -> str | None:
            with self.sessions() as session:
                return session.scalar(
                    select(col(OutboxOp.state)).where(
                        col(OutboxOp.incident_id) == incident_id,
                        col(OutboxOp.kind) == OPEN_CHANNEL,
                        col(OutboxOp.state).in_(("pending", "running")),
                    )
                )

        return await asyncio.to_thread(work)
