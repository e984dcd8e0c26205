"""PagerDuty's V3 events about incidents warroom knows, over HTTP on the real database.

warroom pages through the Events API with `dedup_key` `warroom-<id>`; PagerDuty's webhooks
about that page come back with it as `data.incident_key`. The bodies are PagerDuty's own
documented examples (tests/bot/alerts/payloads/pagerduty_v3/README.md names the page).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from bot.incidents.commands import parse_command
from bot.incidents.service import execute
from storage.models import Incident, Milestone, OutboxOp, PagedIncident, RoleAssignment
from storage.unit_of_work import unit_of_work
from tests.bot.alerts.payloads import dump, load, raw, set_path
from tests.bot.web.conftest import Served

INCIDENT = "PGR0VU2"  # PagerDuty's incident in the documented examples


def v3(name: str, incident_id: int | None = None, **fields: Any) -> bytes:
    """A documented payload; about warroom's page of `incident_id` when given."""
    payload = load(f"pagerduty_v3/{name}.json")
    if incident_id is not None:
        set_path(payload, ("event", "data", "incident_key"), f"warroom-{incident_id}")
    for path, value in fields.items():
        set_path(payload, tuple(path.split("__")), value)
    return dump(payload)


def run(web: Served, text: str, incident_id: int | None = None, actor: str = "U0ALICE") -> int:
    """`/incident <text>` as a responder would type it; the incident's id."""
    with unit_of_work(web.runtime.sessions) as uow:
        incident = uow.session.get(Incident, incident_id) if incident_id else None
        outcome = execute(
            uow, web.runtime.domain, parse_command(text), incident=incident, actor=actor
        )
        assert outcome.incident is not None and outcome.incident.id is not None
        return outcome.incident.id


def timeline(web: Served, incident_id: int) -> list[dict[str, Any]]:
    answer = web.get(f"/api/incidents/{incident_id}/timeline")
    assert answer.status_code == 200, answer.text
    return answer.json()["events"]


def told(web: Served, incident_id: int) -> list[str]:
    """What the incident channel is to be told, in order (the outbox's posts)."""
    with web.runtime.sessions() as session:
        rows = session.scalars(
            select(OutboxOp)
            .where(OutboxOp.incident_id == incident_id, OutboxOp.kind == "message.post")
            .order_by(OutboxOp.id)
        )
        return [row.payload["text"] for row in rows]


def pages(web: Served) -> list[str]:
    """The PagerDuty events warroom queued, by action."""
    with web.runtime.sessions() as session:
        rows = session.scalars(
            select(OutboxOp).where(OutboxOp.kind == "pagerduty.event").order_by(OutboxOp.id)
        )
        return [row.payload["action"] for row in rows]


@pytest.fixture
def paged(web: Served) -> int:
    """A sev1 incident warroom paged for, whose page PagerDuty reported as triggered."""
    incident_id = run(web, "declare Spot trading errors sev1")
    assert pages(web) == ["trigger"]
    answer = web.post("pagerduty", v3("triggered", incident_id))
    assert answer.status_code == 202, answer.text
    return incident_id


def test_the_webhook_for_our_own_page_updates_that_incident_and_opens_none(web: Served) -> None:
    incident_id = run(web, "declare Spot trading errors sev1")

    answer = web.post("pagerduty", v3("triggered", incident_id))

    assert answer.status_code == 202
    assert answer.json() == {
        "incidents": [
            {
                "id": incident_id,
                "channel_id": None,
                "channel_name": None,  # no channel yet: none is named
                "channel_status": "pending",
                "created": False,
            }
        ],
        "alerts": 0,
        "updates": [
            {"kind": "triggered", "incident_id": incident_id, "applied": True, "reason": None}
        ],
    }
    counts = web.counts()
    assert (counts["incidents"], counts["alerts"]) == (1, 0)
    [entry] = [e for e in timeline(web, incident_id) if e["kind"] == "pager"]
    assert entry["text"] == (
        "PagerDuty incident #2 opened for this incident's page, notifying User 123"
    )
    with web.runtime.sessions() as session:
        link = session.scalars(select(PagedIncident)).one()
    assert (link.source, link.external_id, link.incident_id) == ("pagerduty", INCIDENT, incident_id)
    assert pages(web) == ["trigger"]  # nothing sent back


@pytest.mark.parametrize("event", ["triggered", "acknowledged", "resolved"])
def test_a_page_of_an_incident_warroom_does_not_have_opens_nothing_and_says_so(
    web: Served, event: str
) -> None:
    answer = web.post("pagerduty", v3(event, 999))

    assert answer.status_code == 202
    body = answer.json()
    assert (body["incidents"], body["alerts"]) == ([], 0)
    [update] = body["updates"]
    assert update["applied"] is False and update["incident_id"] is None
    assert update["reason"] == "PagerDuty paged for incident #999, which does not exist"
    assert web.counts()["incidents"] == 0


def test_a_page_of_a_resolved_incident_records_nothing_and_says_so(web: Served, paged: int) -> None:
    run(web, "resolve restored", paged)
    before = timeline(web, paged)

    answer = web.post("pagerduty", v3("resolved", paged))  # our own resolve, coming back

    assert answer.status_code == 202
    [update] = answer.json()["updates"]
    assert update["applied"] is False
    assert (
        update["reason"] == f"incident #{paged} is resolved; resolved from PagerDuty not recorded"
    )
    assert timeline(web, paged) == before
    assert web.counts()["incidents"] == 1


def test_an_ack_in_pagerduty_is_the_incidents_acknowledgement_by_its_agent_at_its_time(
    web: Served, paged: int
) -> None:
    answer = web.post("pagerduty", v3("acknowledged", paged))

    assert answer.status_code == 202
    assert answer.json()["updates"][0]["applied"] is True
    with web.runtime.sessions() as session:
        milestone = session.scalars(
            select(Milestone).where(
                Milestone.incident_id == paged, Milestone.name == "acknowledged"
            )
        ).one()
        roles = session.scalars(select(RoleAssignment)).all()
    assert milestone.at == datetime(2020, 10, 2, 18, 42, 10, tzinfo=UTC)
    assert (milestone.actor, milestone.source) == ("Tenex Engineer", "pager")
    [ack] = [e for e in timeline(web, paged) if e["kind"] == "ack"]
    assert (ack["actor"], ack["text"], ack["source"]) == (
        "Tenex Engineer",
        "acknowledged in PagerDuty",
        "pager",
    )
    assert ack["at"].startswith("2020-10-02T18:42:10")
    assert "Tenex Engineer acknowledged the incident in PagerDuty" in told(web, paged)
    # PagerDuty already knows; its responder is nobody warroom can make commander.
    assert pages(web) == ["trigger"]
    assert [r.role for r in roles if r.user == "Tenex Engineer"] == []


def test_our_own_ack_coming_back_from_pagerduty_is_not_recorded_twice(
    web: Served, paged: int
) -> None:
    run(web, "ack", paged, actor="U0BOB")
    assert pages(web) == ["trigger", "acknowledge"]
    before = timeline(web, paged)

    answer = web.post("pagerduty", v3("acknowledged", paged))

    assert answer.status_code == 202
    [update] = answer.json()["updates"]
    assert (update["applied"], update["reason"]) == (
        False,
        f"incident #{paged} is already acknowledged",
    )
    assert timeline(web, paged) == before
    assert pages(web) == ["trigger", "acknowledge"]


def test_a_retried_ack_delivery_is_answered_alike_and_recorded_once(
    web: Served, paged: int
) -> None:
    first = web.post("pagerduty", v3("acknowledged", paged))
    after_first = timeline(web, paged)

    again = web.post("pagerduty", v3("acknowledged", paged))

    assert again.json() == first.json()
    assert timeline(web, paged) == after_first


def test_a_note_in_pagerduty_is_a_note_by_its_author_in_the_timeline_and_channel(
    web: Served, paged: int
) -> None:
    answer = web.post("pagerduty", v3("annotated"))  # names only PagerDuty's incident

    assert answer.status_code == 202
    assert answer.json()["updates"][0] == {
        "kind": "annotated",
        "incident_id": paged,
        "applied": True,
        "reason": None,
    }
    [note] = [e for e in timeline(web, paged) if e["kind"] == "note"]
    assert (note["actor"], note["text"]) == (
        "Tenex Engineer",
        "I sure am glad we are using PagerDuty!",
    )
    assert told(web, paged)[-1] == (
        "Note from Tenex Engineer in PagerDuty: I sure am glad we are using PagerDuty!"
    )


def test_a_note_on_an_incident_warroom_does_not_know_records_nothing(web: Served) -> None:
    answer = web.post("pagerduty", raw("pagerduty_v3/annotated.json"))

    assert answer.status_code == 202
    assert answer.json() == {
        "incidents": [],
        "alerts": 0,
        "updates": [
            {
                "kind": "annotated",
                "incident_id": None,
                "applied": False,
                "reason": f"PagerDuty incident {INCIDENT} is not one warroom knows",
            }
        ],
    }
    counts = web.counts()
    assert (counts["incidents"], counts["timeline"], counts["outbox"]) == (0, 0, 0)


def test_a_priority_change_in_pagerduty_sets_the_severity_and_pages_no_one(
    web: Served, paged: int
) -> None:
    run(web, "sev 3", paged)
    assert pages(web) == ["trigger"]

    answer = web.post("pagerduty", v3("priority_updated", paged))  # P1, high urgency

    assert answer.json()["updates"][0]["applied"] is True
    with web.runtime.sessions() as session:
        assert session.get(Incident, paged).severity == "sev1"
    [change] = [e for e in timeline(web, paged) if e["text"].startswith("severity sev3")]
    assert change["text"] == "severity sev3 → sev1 (PagerDuty priority P1)"
    assert change["actor"] == "Tenex Engineer"
    assert told(web, paged)[-1] == (
        "Tenex Engineer set the PagerDuty priority to P1. "
        "Severity changed from sev3 to sev1 (PagerDuty priority P1)"
    )
    # Raising to sev1 by command would page; from PagerDuty it must not come back to it.
    assert pages(web) == ["trigger"]


def test_a_priority_naming_the_same_severity_changes_nothing(web: Served, paged: int) -> None:
    before = timeline(web, paged)

    answer = web.post("pagerduty", v3("priority_updated", paged))

    assert answer.json()["updates"][0] == {
        "kind": "priority_updated",
        "incident_id": paged,
        "applied": False,
        "reason": "Severity is already sev1",
    }
    assert timeline(web, paged) == before


@pytest.mark.parametrize(
    ("event", "text"),
    [
        ("escalated", "PagerDuty incident #2 escalated to User 123 by Tenex Engineer"),
        ("reassigned", "PagerDuty incident #2 reassigned to User 123 by Tenex Engineer"),
        (
            "delegated",
            "PagerDuty incident #2 delegated to escalation policy Default by Tenex Engineer",
        ),
        (
            "resolved",
            "PagerDuty incident #2 resolved by Tenex Engineer; "
            "this incident stays open until `/incident resolve`",
        ),
    ],
)
def test_where_pagerduty_sent_the_incident_is_in_the_timeline_and_channel(
    web: Served, paged: int, event: str, text: str
) -> None:
    answer = web.post("pagerduty", v3(event, paged))

    assert answer.json()["updates"][0]["applied"] is True
    [entry] = [e for e in timeline(web, paged) if e["text"] == text]
    assert (entry["kind"], entry["actor"], entry["source"]) == ("pager", "Tenex Engineer", "pager")
    assert told(web, paged)[-1] == text
    with web.runtime.sessions() as session:
        assert session.get(Incident, paged).status == "investigating"
    assert pages(web) == ["trigger"]


def test_an_incident_opened_by_pagerduty_takes_its_ack_and_notes(web: Served) -> None:
    opened = web.post("pagerduty", v3("triggered"))
    [ref] = opened.json()["incidents"]
    assert ref["created"] is True

    acked = web.post("pagerduty", v3("acknowledged"))
    noted = web.post("pagerduty", v3("annotated"))

    assert acked.json()["incidents"] == [{**ref, "created": False}]
    assert acked.json()["updates"][0]["applied"] is True
    assert noted.json()["updates"][0]["incident_id"] == ref["id"]
    kinds = [(e["kind"], e["actor"]) for e in timeline(web, ref["id"])]
    assert ("ack", "Tenex Engineer") in kinds and ("note", "Tenex Engineer") in kinds
    assert web.counts()["incidents"] == 1


@pytest.mark.parametrize(("ack_from", "paged_after"), [("pagerduty", 0), ("command", 1)])
def test_the_stage_an_ack_from_pagerduty_enters_pages_no_one(
    web: Served, ack_from: str, paged_after: int
) -> None:
    # The reference playbook's "Emergency response" stage is entered on acknowledged and
    # pages: after a command's ack it does, after PagerDuty's own ack it would only page
    # the people who just answered.
    incident_id = run(web, "declare Spot trading errors sev1 playbook:trading-engine-outage")
    web.post("pagerduty", v3("triggered", incident_id))

    if ack_from == "pagerduty":
        assert web.post("pagerduty", v3("acknowledged", incident_id)).status_code == 202
    else:
        run(web, "ack", incident_id)

    stages = [e["text"] for e in timeline(web, incident_id) if e["kind"] == "stage"]
    assert stages[-1] == "stage Emergency response"
    sent = pages(web)
    assert sent.count("trigger") == 1 + paged_after
    assert ("acknowledge" in sent) is (ack_from == "command")
