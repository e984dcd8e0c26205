"""The incident card and App Home as a responder sees them, drawn from the stored incident."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.incidents.commands import parse_command
from bot.incidents.context import Domain
from bot.incidents.service import execute
from bot.incidents.snapshot import snapshots
from bot.slack.blocks import card_blocks, home_view
from bot.slack.cards import card_view
from storage.models import Incident
from storage.unit_of_work import unit_of_work

HKT = ZoneInfo("Asia/Hong_Kong")


@pytest.fixture
def run(sessions: sessionmaker[Session], domain: Domain):
    """Run `/incident <text>` as `actor`, committed; return the incident id."""

    def _run(text: str, incident_id: int | None = None, actor: str = "U0ALICE") -> int:
        with unit_of_work(sessions) as uow:
            incident = uow.session.get(Incident, incident_id) if incident_id else None
            outcome = execute(uow, domain, parse_command(text), incident=incident, actor=actor)
            assert outcome.incident is not None and outcome.incident.id is not None
            return outcome.incident.id

    return _run


def card(sessions: sessionmaker[Session], incident_id: int) -> list[dict[str, Any]]:
    with sessions() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        return card_blocks(card_view(session, incident), HKT)


def texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every mrkdwn text of the card, fields and context included, in order."""
    found = []
    for block in blocks:
        if "text" in block and block["type"] == "section":
            found.append(block["text"]["text"])
        for item in block.get("fields", []) + block.get("elements", []):
            if item.get("type") == "mrkdwn":
                found.append(item["text"])
    return found


def test_the_card_shows_stage_checklist_commander_and_start(run, sessions, clock) -> None:
    incident_id = run("declare Spot trading errors sev2")
    clock.advance(timedelta(minutes=1))
    run("ack", incident_id, actor="U0BOB")
    run("task done 1", incident_id, actor="U0BOB")
    run("task done 3", incident_id, actor="U0BOB")
    run("role commander <@U0CAROL>", incident_id, actor="U0BOB")

    shown = texts(card(sessions, incident_id))
    assert "*Stage*\nRespond" in shown
    assert "*Commander*\n<@U0CAROL>" in shown
    assert "*Impact start*\n2021-03-10 17:56 HKT" in shown
    assert (
        "*Checklist*\n"
        ":white_check_mark: 1. Assign a commander with /incident role commander\n"
        ":white_large_square: 2. Assign comms with /incident role comms if customers are affected\n"
        ":white_check_mark: 3. Post a first status update with /incident update\n"
        ":white_large_square: 4. Record who and what is affected with /incident impact"
    ) in shown


def test_a_resolved_card_shows_the_corrected_resolution_time(run, sessions, clock) -> None:
    incident_id = run("declare Disk full sev3")
    clock.advance(timedelta(minutes=19))
    run("resolve cleaned up", incident_id)
    assert texts(card(sessions, incident_id))[-1] == "Resolved 2021-03-10 18:15 HKT"

    clock.advance(timedelta(minutes=5))
    run("time resolved 18:12", incident_id)
    shown = texts(card(sessions, incident_id))
    assert shown[-1] == "Resolved 2021-03-10 18:12 HKT"
    assert not any(text.startswith("*Checklist*") for text in shown)


def test_app_home_lists_open_incidents_from_their_snapshots(run, sessions, clock) -> None:
    first = run("declare Orders slow sev3")
    clock.advance(timedelta(minutes=2))
    second = run("declare Spot trading errors sev2", actor="U0BOB")
    run("ack", second, actor="U0BOB")
    closed = run("declare Disk full sev4")
    run("resolve", closed)

    with sessions() as session:
        rows = session.scalars(
            select(Incident).where(Incident.status != "resolved").order_by(Incident.id.desc())
        )
        view = home_view(snapshots(session, list(rows)), HKT)
    assert [block["text"]["text"] for block in view["blocks"][1:]] == [
        f":large_orange_circle: *#{second} Spot trading errors*\n"
        "investigating · stage Respond · commander <@U0BOB> · since 2021-03-10 17:58 HKT",
        f":large_yellow_circle: *#{first} Orders slow*\n"
        "investigating · stage Detect · commander _unassigned_ · since 2021-03-10 17:56 HKT",
    ]
