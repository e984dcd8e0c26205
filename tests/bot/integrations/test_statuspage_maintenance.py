"""Statuspage scheduled maintenance: created once, even when its answer is lost.

Shapes from https://developer.statuspage.io/ (tag "Incidents"): `POST /pages/{page_id}/incidents`
with `status: scheduled`, `scheduled_for`, `scheduled_until`; `GET
/pages/{page_id}/incidents/scheduled` lists the page's scheduled incidents (Incident objects
with their `metadata`).
"""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import respx
from sqlmodel import select

from bot.incidents import effects
from bot.incidents.commands import parse_command
from bot.incidents.service import execute
from storage.models import Maintenance, OutboxOp
from storage.unit_of_work import unit_of_work
from tests.bot.integrations.conftest import EVERYTHING, Build, Harness

INCIDENTS = "https://statuspage.test/v1/pages/pg123/incidents"


def _schedule(h: Harness, text: str) -> None:
    with unit_of_work(h.sessions) as uow:
        execute(uow, h.domain, parse_command(text), incident=None, actor="U0ALICE")


def _ops(h: Harness) -> list[OutboxOp]:
    with h.sessions() as session:
        query = select(OutboxOp).where(OutboxOp.kind == effects.STATUSPAGE_MAINTENANCE)
        return list(session.scalars(query))


def _statuspage_only() -> dict[str, str]:
    return {k: v for k, v in EVERYTHING.items() if "STATUSPAGE" in k}


async def test_a_maintenance_whose_creation_answer_was_lost_is_adopted(harness: Build) -> None:
    h = harness(**_statuspage_only())
    _schedule(h, "maintenance 2021-03-11 10:00 2h Matching engine upgrade")
    with respx.mock(assert_all_mocked=True) as mock:
        create = mock.post(INCIDENTS).mock(side_effect=httpx.ReadTimeout("no answer"))
        await h.dispatcher.run_once()
        lookup = mock.get(f"{INCIDENTS}/scheduled").respond(
            200,
            json=[
                {"id": "sp-other", "metadata": {"warroom": {"maintenance_id": 2}}},
                {
                    "id": "sp-made",
                    "status": "scheduled",
                    "metadata": {"warroom": {"maintenance_id": 1}},
                },
            ],
        )
        h.clock.advance(timedelta(minutes=1))
        await h.dispatcher.drain()

    assert (create.call_count, lookup.call_count) == (1, 1)
    sent = json.loads(create.calls[0].request.content)["incident"]
    assert (sent["status"], sent["scheduled_for"], sent["scheduled_until"]) == (
        "scheduled",
        "2021-03-11T02:00:00Z",
        "2021-03-11T04:00:00Z",
    )
    [op] = _ops(h)
    assert (op.state, op.result) == (
        "done",
        {"statuspage_incident_id": "sp-made", "status": "scheduled"},
    )
    with h.sessions() as session:
        [item] = session.scalars(select(Maintenance)).all()
    assert item.external == {"statuspage_incident_id": "sp-made"}


async def test_without_statuspage_a_maintenance_is_only_announced(harness: Build) -> None:
    h = harness()
    _schedule(h, "maintenance 2021-03-11 10:00 2h Matching engine upgrade")
    with respx.mock(assert_all_mocked=True) as mock:
        await h.dispatcher.drain()
    assert not mock.calls
    [op] = _ops(h)
    assert (op.state, op.result) == ("done", {"skipped": "Statuspage is not configured"})
