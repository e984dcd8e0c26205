"""The incident card and App Home as a responder sees them, drawn from the stored incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.incidents.commands import parse_command
from bot.incidents.context import Domain
from bot.incidents.service import execute
from bot.incidents.snapshot import IncidentSnapshot
from bot.sandbox.methods.block_kit import block_errors, view_errors
from bot.slack.blocks import card_blocks, declare_modal, note_modal
from bot.slack.cards import card_view
from bot.slack.modal_origin import ModalOrigin
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
    run("ack", incident_id, actor="U0BOB")  # takes command: task 1 is done by it
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


def buttons(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["text"]["text"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_after_the_ack_the_card_says_who_and_when_and_offers_no_acknowledge(
    run, sessions, clock
) -> None:
    incident_id = run("declare Spot trading errors sev2")
    before = card(sessions, incident_id)
    assert "*Acknowledged*\n_not yet_" in texts(before)
    assert buttons(before) == ["Acknowledge", "Add note", "Resolve"]

    clock.advance(timedelta(minutes=1))
    run("ack", incident_id, actor="U0BOB")
    after = card(sessions, incident_id)
    assert "*Acknowledged*\n<@U0BOB> at 2021-03-10 17:57 HKT" in texts(after)
    assert buttons(after) == ["Add note", "Resolve"]
    assert block_errors(after) == []


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


def snapshot(n: int = 1, title: str = "Disk full", **extra: Any) -> IncidentSnapshot:
    at = datetime(2021, 3, 10, 9, 56, tzinfo=UTC)
    return IncidentSnapshot(
        id=n,
        title=title,
        severity="sev2",
        status="investigating",
        playbook_id="p",
        drill=False,
        channel_id="C0INC",
        channel_name="inc",
        created_at=at,
        started_at=at,
        resolved_at=None,
        **extra,
    )


def test_an_alert_link_too_long_to_link_is_shown_cut_and_the_rest_stay_links() -> None:
    # Slack: any text object holds at most 3,000 characters (block-kit text-object).
    long = "https://grafana.example.com/d/1?q=" + "u" * 5000
    blocks = card_blocks(snapshot(alert_links=("https://a.example.com/1", long)), HKT)
    [links] = [b for b in blocks if b["type"] == "context"]
    first, second = (e["text"] for e in links["elements"])
    assert first == "<https://a.example.com/1|alert 1>"
    assert second.startswith("alert 2: `https://grafana.example.com/d/1?q=uuu")
    assert second.endswith("u…`") and len(second) == 3000
    assert block_errors(blocks) == []


def test_modals_are_valid_block_kit() -> None:
    # Slack: a modal's title, submit and close hold at most 24 characters (reference/views).
    assert view_errors(declare_modal(ModalOrigin(channel="C0INCIDENTS")), "modal") == []
    note = note_modal(ModalOrigin(channel="C0INCIDENTS", incident=10**30))
    assert view_errors(note, "modal") == []
    assert note["title"]["text"].endswith("…") and len(note["title"]["text"]) == 24
