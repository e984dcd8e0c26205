"""`GET /api/incidents/{id}/timeline` over real HTTP on both databases: pages by cursor to
the end with no entry twice and none missed, `?last=N`, and a 422 naming the parameter for
anything it cannot take."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from bot.incidents.commands import parse_command
from bot.incidents.service import execute
from bot.web import api
from storage.db import transaction
from storage.models import TimelineEvent
from storage.unit_of_work import unit_of_work
from tests.bot.web.conftest import BEARER, Served

START = datetime(2021, 3, 10, 10, 0, tzinfo=UTC)


def declared(web: Served) -> int:
    """`/incident declare ...`, committed: an incident with its own first entries."""
    with unit_of_work(web.runtime.sessions) as uow:
        command = parse_command("declare Matching engine down sev1")
        outcome = execute(uow, web.runtime.domain, command, incident=None, actor="U0ALICE")
        assert outcome.incident is not None and outcome.incident.id is not None
        return outcome.incident.id


def add_entries(web: Served, incident_id: int, count: int, *, first: int = 0) -> None:
    """`count` notes, three to a second: a page often ends between entries of one time."""
    rows = [
        {
            "incident_id": incident_id,
            "occurred_at": START + timedelta(seconds=(first + n) // 3),
            "recorded_at": START,
            "kind": "note",
            "actor": "U0BOB",
            "text": f"note {first + n}",
            "data": {},
            "source": "command",
        }
        for n in range(count)
    ]
    with transaction(web.runtime.sessions) as session:
        session.execute(insert(TimelineEvent), rows)


def stored(web: Served, incident_id: int) -> list[tuple[str, str]]:
    """(kind, text) of every entry, in the timeline's order, straight from the table."""
    with web.runtime.sessions() as session:
        rows = session.execute(
            select(TimelineEvent.kind, TimelineEvent.text)
            .where(TimelineEvent.incident_id == incident_id)
            .order_by(TimelineEvent.occurred_at, TimelineEvent.id)
        )
        return [(kind, text) for kind, text in rows]


def timeline(web: Served, incident_id: int, **params: Any) -> dict[str, Any]:
    response = web.get(f"/api/incidents/{incident_id}/timeline", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def read_to_the_end(
    web: Served, incident_id: int, cursor: str | None = None, **params: Any
) -> tuple[list, int]:
    """Every entry (after `cursor`), page by page; and how many pages it took."""
    entries: list[dict[str, Any]] = []
    pages = 0
    while True:
        page = timeline(web, incident_id, **params, **({"cursor": cursor} if cursor else {}))
        entries += page["events"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return entries, pages


def test_a_short_timeline_is_one_page_with_no_cursor(web: Served) -> None:
    incident_id = declared(web)

    body = timeline(web, incident_id)

    assert set(body) == {"events", "next_cursor"}
    assert body["next_cursor"] is None
    assert [(e["kind"], e["text"]) for e in body["events"]] == stored(web, incident_id)


@pytest.mark.parametrize(("limit", "pages"), [(None, 3), (1000, 2), (7, 177)])
def test_pages_read_to_the_end_show_every_entry_once_in_order(
    web: Served, limit: int | None, pages: int
) -> None:
    incident_id = declared(web)
    add_entries(web, incident_id, 1234)
    everything = stored(web, incident_id)
    assert 1234 < len(everything) <= 1239  # the declaration's own entries too

    params = {"limit": limit} if limit else {}
    entries, read = read_to_the_end(web, incident_id, **params)

    assert [(e["kind"], e["text"]) for e in entries] == everything
    assert read == pages  # the default page is 500 entries


def test_a_cursor_holds_while_entries_keep_coming(web: Served) -> None:
    incident_id = declared(web)
    add_entries(web, incident_id, 30)
    page = timeline(web, incident_id, limit=10)
    seen = page["events"]

    add_entries(web, incident_id, 5, first=30)  # later than every page read so far
    entries, _ = read_to_the_end(web, incident_id, limit=10, cursor=page["next_cursor"])

    assert [(e["kind"], e["text"]) for e in seen + entries] == stored(web, incident_id)
    assert entries[-1]["text"] == "note 34"


def test_last_n_is_the_end_of_the_timeline_in_order(web: Served) -> None:
    incident_id = declared(web)
    add_entries(web, incident_id, 40)

    body = timeline(web, incident_id, last=4)

    assert [e["text"] for e in body["events"]] == ["note 36", "note 37", "note 38", "note 39"]
    assert body["next_cursor"] is None
    everything = timeline(web, incident_id, last=1000)["events"]
    assert [(e["kind"], e["text"]) for e in everything] == stored(web, incident_id)


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("limit=-5", "limit"),
        ("limit=10&limit=20", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=eyJhdCI6ICJ4In0", "cursor"),  # base64 JSON, but not a position
        ("last=0", "last"),
        ("last=1001", "last"),
        ("last=all", "last"),
        ("last=5&limit=5", "last"),
        ("last=5&cursor=eyJhdCI6ICJ4In0", "cursor"),
        ("offset=500", "offset"),
    ],
)
def test_what_it_cannot_take_is_a_422_naming_the_parameter(
    web: Served, query: str, parameter: str
) -> None:
    incident_id = declared(web)

    response = web.get(f"/api/incidents/{incident_id}/timeline?{query}")

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["parameter"] == parameter
    assert body["error"].startswith(f"{parameter}: ")


def test_a_good_cursor_for_a_page_with_last_is_refused_too(web: Served) -> None:
    incident_id = declared(web)
    add_entries(web, incident_id, 10)
    cursor = timeline(web, incident_id, limit=2)["next_cursor"]

    response = web.get(
        f"/api/incidents/{incident_id}/timeline", params={"last": 3, "cursor": cursor}
    )

    assert response.status_code == 422
    assert response.json()["error"] == "last: cannot be combined with cursor: it reads the end"


def test_the_openapi_schema_documents_the_paging(web: Served) -> None:
    document = web.get("/openapi.json").json()
    operation = document["paths"]["/api/incidents/{incident_id}/timeline"]["get"]
    names = [p["name"] for p in operation["parameters"] if p["in"] == "query"]
    assert names == ["cursor", "limit", "last"]
    fields = document["components"]["schemas"]["Timeline"]["properties"]
    assert set(fields) == {"events", "next_cursor"}


def test_a_page_gives_way_to_alerts_coming_in_and_to_nothing_else(
    web: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While alerts keep coming (one answered within ALERTS_QUIET) a page waits its turn, at
    most GIVE_WAY_FOR; the service's own transactions, which an idle service runs a few a
    second (the scheduler's job store, the outbox's polls), hold no page back."""
    monkeypatch.setattr(api, "ALERTS_QUIET", 60.0)
    monkeypatch.setattr(api, "GIVE_WAY_FOR", 60.0)
    incident_id = declared(web)
    with transaction(web.runtime.sessions) as session:
        session.execute(select(1))  # as the job store looks for due jobs
    # Held back, it would answer a minute later: the client gives up after ten seconds.
    quiet = httpx.get(
        f"{web.base}/api/incidents/{incident_id}/timeline", headers=BEARER, timeout=10
    )
    assert quiet.status_code == 200 and quiet.json()["events"]

    assert web.post("generic", json.dumps({"title": "Order gateway 5xx"})).status_code == 202
    monkeypatch.setattr(api, "GIVE_WAY_FOR", 0.5)
    started = time.monotonic()
    busy = timeline(web, incident_id)
    assert busy["events"] and time.monotonic() - started >= 0.5
