"""Drive integrations the way production does: domain commands, the outbox, the dispatcher."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.composition.config import Settings
from bot.composition.runtime import Runtime
from bot.incidents import effects
from bot.incidents.clock import SimulatedClock
from bot.incidents.commands import parse_command
from bot.incidents.context import Domain
from bot.incidents.effects import (
    Broadcast,
    BroadcastNotice,
    DescribeChannel,
    Effect,
    Invite,
    OpenChannel,
    PostCard,
    PostMessage,
    PostNotice,
    PostPostmortem,
    UpdateCard,
)
from bot.incidents.service import execute
from bot.integrations import integration_routes
from bot.integrations.http import make_client
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.routes import Attempt, Route
from storage import outbox
from storage.db import transaction
from storage.models import Incident, OutboxOp, TimelineEvent
from storage.unit_of_work import unit_of_work

CHANNEL_ID = "C0INCIDENT"
PD_URL = "https://events.pagerduty.test/v2/enqueue"
PD_KEY = "R0UTINGKEY0123456789ABCDEFGHIJKL"
SP_URL = "https://statuspage.test/v1/"
SP_PAGE = "pg123"
SP_KEY = "sp-secret-key-0123456789"
WEBHOOK_SECRET = "whsec-test-0123456789"
HOOK_A = "https://hooks.a.test/warroom?token=abc"
HOOK_B = "https://hooks.b.test/in"
EVERYTHING = {
    "WARROOM_PAGERDUTY_ROUTING_KEY": PD_KEY,
    "WARROOM_PAGERDUTY_URL": PD_URL,
    "WARROOM_STATUSPAGE_API_KEY": SP_KEY,
    "WARROOM_STATUSPAGE_PAGE_ID": SP_PAGE,
    "WARROOM_STATUSPAGE_URL": SP_URL,
    "WARROOM_WEBHOOKS": f"{HOOK_A}, {HOOK_B}",
    "WARROOM_WEBHOOK_SECRET": WEBHOOK_SECRET,
}


async def _noop(_effect: Effect, _attempt: Attempt) -> dict[str, Any]:
    return {}


@dataclass
class Harness:
    """The real dispatcher and outbox, integrations configured from `env`, Slack a no-op."""

    sessions: sessionmaker[Session]
    domain: Domain
    clock: SimulatedClock
    dispatcher: Dispatcher

    def run(self, text: str, incident_id: int | None = None, actor: str = "U0ALICE") -> int:
        """Run `/incident <text>` in one transaction; return the incident id."""
        with unit_of_work(self.sessions) as uow:
            incident = uow.session.get(Incident, incident_id) if incident_id else None
            outcome = execute(uow, self.domain, parse_command(text), incident=incident, actor=actor)
            assert outcome.incident is not None and outcome.incident.id is not None
            return outcome.incident.id

    def declare(
        self, text: str = "declare Matching engine down sev1", *, opened: bool = False
    ) -> int:
        """Declare an incident; its `incident.opened` webhook is set aside unless `opened`."""
        incident_id = self.run(text)
        if not opened:
            with transaction(self.sessions) as session:
                session.execute(
                    update(OutboxOp)
                    .where(
                        OutboxOp.incident_id == incident_id,
                        OutboxOp.kind == effects.WEBHOOK,
                    )
                    .values(state="done", result={"set_aside": "by the test harness"})
                )
        return incident_id

    def enqueue(self, incident_id: int, kind: str, **payload: Any) -> None:
        """Write an effect as the domain does (for kinds no command emits on its own)."""
        with transaction(self.sessions) as session:
            outbox.enqueue(
                session=session,
                kind=kind,
                payload={"incident_id": incident_id, **payload},
                incident_id=incident_id,
                now=self.clock.now(),
            )

    def ops(self, incident_id: int, kind: str) -> list[OutboxOp]:
        """The incident's operations of a kind, less those `declare` set aside."""
        with self.sessions() as session:
            rows = session.scalars(
                select(OutboxOp)
                .where(OutboxOp.incident_id == incident_id, OutboxOp.kind == kind)
                .order_by(OutboxOp.id)
            )
            return [op for op in rows if "set_aside" not in (op.result or {})]

    def timeline(self, incident_id: int, kind: str = "integration") -> list[TimelineEvent]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(TimelineEvent)
                    .where(TimelineEvent.incident_id == incident_id, TimelineEvent.kind == kind)
                    .order_by(TimelineEvent.id)
                )
            )

    def incident(self, incident_id: int) -> Incident:
        with self.sessions() as session:
            row = session.get(Incident, incident_id)
            assert row is not None
            return row

    def next_attempt(self, op_id: int | None) -> datetime:
        with self.sessions() as session:
            op = session.get(OutboxOp, op_id)
            assert op is not None
            return op.next_attempt_at


Build = Callable[..., Harness]


@pytest.fixture
async def harness(
    database: tuple[Engine, str],
    sessions: sessionmaker[Session],
    domain: Domain,
    clock: SimulatedClock,
) -> AsyncIterator[Build]:
    """Build a harness with the given WARROOM_* settings (all integrations by default)."""
    engine, url = database
    clients: list[httpx.AsyncClient] = []

    async def open_channel(effect: OpenChannel, _attempt: Attempt) -> dict[str, Any]:
        with transaction(sessions) as session:
            incident = session.get(Incident, effect.incident_id)
            assert incident is not None
            incident.channel_id = CHANNEL_ID
        return {"channel_id": CHANNEL_ID}

    slack: dict[type[Effect], Route[Any]] = {
        kind: Route(_noop)
        for kind in (
            Invite,
            DescribeChannel,
            PostCard,
            UpdateCard,
            PostMessage,
            PostNotice,
            Broadcast,
            BroadcastNotice,
            PostPostmortem,
        )
    }
    slack[OpenChannel] = Route(open_channel)

    def build(**env: str) -> Harness:
        settings = Settings(_env_file=None, DATABASE_URL=url, **env)  # type: ignore[call-arg]
        runtime = Runtime(settings, engine, sessions, domain)
        client = make_client()
        clients.append(client)
        routes = {**integration_routes(runtime, client), **slack}
        return Harness(sessions, domain, clock, Dispatcher(sessions, routes, clock=clock))

    yield build
    for client in clients:
        await client.aclose()
