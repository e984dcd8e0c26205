"""The incident rows Slack handlers read and write, from the event loop (a thread per call)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col

from bot.outbox.errors import GiveUp
from storage.db import transaction
from storage.models import Incident
from storage.reads import read_session

_CHANNEL = select(col(Incident.channel_id)).where(col(Incident.id) == bindparam("p_id"))


class IncidentRows:
    """Run a function in a transaction off the loop; find an incident and its channel."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._channels: dict[int, str] = {}  # incident id: its channel

    async def db(self, fn: Callable[[Session], Any]) -> Any:
        """`fn(session)` in a transaction of its own, on a worker thread."""

        def work() -> Any:
            with transaction(self.sessions) as session:
                return fn(session)

        return await asyncio.to_thread(work)

    async def read(self, fn: Callable[[Session], Any]) -> Any:
        """`fn(session)` on a read session (it must not write), on a worker thread: what a
        card or a draft reads makes no writer wait (see `storage.reads.read_session`)."""

        def work() -> Any:
            with read_session(self.sessions) as session:
                return fn(session)

        return await asyncio.to_thread(work)

    async def incident(self, incident_id: int) -> Incident:
        """The incident row; GiveUp if it is gone."""
        incident = await self.db(lambda s: s.get(Incident, incident_id))
        if incident is None:
            raise GiveUp(f"incident {incident_id} does not exist")
        return incident

    async def channel(self, incident_id: int) -> str:
        """The incident's channel id; GiveUp if it has none (yet)."""
        # An incident keeps its channel once it has one: look it up once per process, and
        # only the column (the row carries the whole playbook).
        channel_id = self._channels.get(incident_id)
        if channel_id is None:
            row = await self.db(lambda s: s.execute(_CHANNEL, {"p_id": incident_id}).first())
            if row is None:
                raise GiveUp(f"incident {incident_id} does not exist")
            if not row.channel_id:
                raise GiveUp(f"incident {incident_id} has no channel")
            channel_id = self._channels[incident_id] = row.channel_id
        return channel_id
