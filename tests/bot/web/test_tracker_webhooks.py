"""`POST /webhooks/{tracker}`: a ticket closed or reopened in its tracker, applied here.

The trackers' own readers are written alongside; this file's reader is a stand-in with the
same contract (`(headers, body, query) -> list[TicketChange]`, raising WebhookRefused): it
checks an HMAC of the body like GitHub's `X-Hub-Signature-256` and reads a tiny JSON body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.composition.runtime import Runtime
from bot.incidents.commands import parse_command
from bot.incidents.context import Domain
from bot.incidents.service import execute
from bot.integrations.trackers.base import TicketChange, WebhookRefused
from bot.web.tracker_webhooks import build_tracker_webhooks_router
from storage import followups
from storage.models import Incident, OutboxOp, TimelineEvent
from storage.unit_of_work import unit_of_work
from tests.bot.web.conftest import make_settings
from tests.support.server import run_app_in_thread

SECRET = b"tracker-webhook-secret-0123"


def reader(headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> list[TicketChange]:
    """A stand-in tracker reader: `X-Signature: sha256=<hmac>` over `{"key", "state"}`."""
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(headers.get("x-signature", ""), expected):
        raise WebhookRefused(401, "signature does not match")
    try:
        event = json.loads(body)
    except ValueError:
        raise WebhookRefused(400, "body is not JSON") from None
    return [TicketChange("github", event["key"], event["state"], actor=event.get("by"))]


def signed(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    signature = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    return body, {"X-Signature": signature, "Content-Type": "application/json"}


@pytest.fixture
def served(
    database: tuple[Engine, str], sessions: sessionmaker[Session], domain: Domain
) -> Iterator[tuple[httpx.Client, Runtime]]:
    engine, url = database
    runtime = Runtime(make_settings(url), engine, sessions, domain)
    app = FastAPI()
    app.include_router(build_tracker_webhooks_router(runtime, {"github": reader}))
    with run_app_in_thread(app) as base, httpx.Client(base_url=base) as client:
        yield client, runtime


@pytest.fixture
def ticketed(sessions: sessionmaker[Session], domain: Domain) -> int:
    """An open sev2 with follow-up 1 filed as acme/ops#12; its id."""
    with unit_of_work(sessions) as uow:
        outcome = execute(
            uow, domain, parse_command("declare Orders slow sev2"), incident=None, actor="U0ALICE"
        )
        assert outcome.incident is not None and outcome.incident.id is not None
        incident_id = outcome.incident.id
    with unit_of_work(sessions) as uow:
        incident = uow.session.get(Incident, incident_id)
        execute(
            uow, domain, parse_command("action Add redundancy"), incident=incident, actor="U0ALICE"
        )
    with unit_of_work(sessions) as uow:
        followups.set_ticket(
            session=uow.session,
            incident_id=incident_id,
            number=1,
            tracker="github",
            key="acme/ops#12",
            url="https://github.com/acme/ops/issues/12",
        )
    return incident_id


def _state(sessions: sessionmaker[Session], incident_id: int) -> tuple[str, int, int]:
    """The follow-up's status, and how many timeline entries and outbox rows there are."""
    with sessions() as session:
        row = followups.followup(session=session, incident_id=incident_id, number=1)
        assert row is not None
        events = session.scalar(
            select(func.count()).where(TimelineEvent.incident_id == incident_id)
        )
        ops = session.scalar(select(func.count()).where(OutboxOp.incident_id == incident_id))
        return row.status, int(events or 0), int(ops or 0)


def test_a_closed_ticket_marks_its_follow_up_done_with_an_entry_and_a_line(
    served, sessions, ticketed
) -> None:
    client, _ = served
    _, events, ops = _state(sessions, ticketed)
    body, headers = signed({"key": "acme/ops#12", "state": "done", "by": "octocat"})
    answer = client.post("/webhooks/github", content=body, headers=headers)
    assert (answer.status_code, answer.json()) == (202, {"applied": 1})
    assert _state(sessions, ticketed) == ("done", events + 1, ops + 1)
    with sessions() as session:
        entry = session.scalars(select(TimelineEvent).order_by(TimelineEvent.id.desc())).first()
        line = session.scalars(select(OutboxOp).order_by(OutboxOp.id.desc())).first()
    assert entry is not None and line is not None
    assert (entry.kind, entry.text) == (
        "action_done",
        "follow-up 1 done: acme/ops#12 closed in GitHub by octocat",
    )
    assert (line.kind, line.payload["text"]) == (
        "message.post",
        "Follow-up 1 done: acme/ops#12 was closed in GitHub by octocat (Add redundancy)",
    )

    # Reopened there: open here again.
    body, headers = signed({"key": "acme/ops#12", "state": "open"})
    answer = client.post("/webhooks/github", content=body, headers=headers)
    assert (answer.status_code, answer.json()) == (202, {"applied": 1})
    assert _state(sessions, ticketed)[0] == "open"


def test_a_ticket_that_is_no_follow_up_s_is_accepted_and_changes_nothing(
    served, sessions, ticketed
) -> None:
    client, _ = served
    before = _state(sessions, ticketed)
    body, headers = signed({"key": "acme/ops#999", "state": "done"})
    answer = client.post("/webhooks/github", content=body, headers=headers)
    assert (answer.status_code, answer.json()) == (202, {"applied": 0})
    assert _state(sessions, ticketed) == before


@pytest.mark.parametrize(
    ("headers", "body", "status", "error"),
    [
        (
            {"X-Signature": "sha256=00"},
            b'{"key": "acme/ops#12", "state": "done"}',
            401,
            "signature does not match",
        ),
        ({}, b'{"key": "acme/ops#12", "state": "done"}', 401, "signature does not match"),
        (None, b"not json", 400, "body is not JSON"),
    ],
    ids=["bad-signature", "no-signature", "bad-body"],
)
def test_refused_webhooks_answer_json_and_change_nothing(
    served, sessions, ticketed, headers, body, status, error
) -> None:
    client, _ = served
    before = _state(sessions, ticketed)
    if headers is None:  # signed, but not JSON
        headers = {"X-Signature": "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()}
    answer = client.post("/webhooks/github", content=body, headers=headers)
    assert (answer.status_code, answer.json()) == (status, {"error": error})
    assert _state(sessions, ticketed) == before


def test_a_tracker_without_a_webhook_is_404_json(served) -> None:
    client, _ = served
    answer = client.post("/webhooks/jira", content=b"{}")
    assert answer.status_code == 404
    assert answer.json() == {"error": "no webhook for tracker 'jira' (github)"}
