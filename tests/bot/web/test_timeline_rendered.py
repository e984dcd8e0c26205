"""A timeline page rendered by the database is byte for byte the page rendered in Python
(`timeline_json`, itself what the `Timeline` model gives), on both databases: whatever the
entries hold, at every page boundary, with `last`, and for a time SQLite holds in a form
of its own."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import insert, text

from bot.usecases.queries import EntryPosition
from bot.web.api import StoredTextResponse, incident_timeline, timeline_json
from bot.web.incident_query import encode_cursor, read_timeline_query
from storage.db import transaction
from storage.models import Incident, TimelineEvent
from tests.bot.web.conftest import Served

START = datetime(2021, 3, 10, 10, 0, tzinfo=UTC)
# What JSON escapes, and what it leaves alone (non-ASCII, DEL, U+2028), in every field.
TEXTS = [
    "HighErrorRate firing",
    'a "quoted" back\\slash \\u0041 and / slash',
    "line\nbreak\ttab\rreturn\bback\fform",
    "control \x01\x1f\x7f characters",
    "café ☕ 東京 \u2028\u2029 emoji 👩‍💻",
    "",
    '{"at":"x"},{\'json\': [1, 2]}',
    "x" * 3000,
]
TIMES = [
    START,
    START + timedelta(microseconds=500_000),
    START + timedelta(microseconds=1),
    START,  # a tie on time: the id decides
    datetime(2021, 3, 10, 18, 0, 0, 999_999, tzinfo=timezone(timedelta(hours=8))),
    datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
    START - timedelta(days=400, microseconds=123_000),
    START + timedelta(hours=1),
]


def incident(web: Served, entries: int) -> int:
    """An incident with `entries` entries of every kind of text, out of time order."""
    with transaction(web.runtime.sessions) as session:
        row = Incident(
            title="Matching engine down",
            severity="sev1",
            playbook_id="generic",
            created_at=START,
            updated_at=START,
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        rows = [
            {
                "incident_id": row.id,
                "occurred_at": TIMES[n % len(TIMES)] + timedelta(seconds=n // len(TIMES)),
                "recorded_at": START,
                "kind": ["note", "alert", "log ☕"][n % 3],
                "actor": None if n % 4 == 0 else TEXTS[(n + 1) % len(TEXTS)][:40] or "U0",
                "text": TEXTS[n % len(TEXTS)],
                "data": {},
                "source": ["command", "alert", "backdate\n"][n % 3],
            }
            for n in range(entries)
        ]
        if rows:
            session.execute(insert(TimelineEvent), rows)
        return row.id


def python_page(web: Served, incident_id: int, **params: Any) -> bytes:
    """The page as the route rendered it in Python, before the database did."""
    query = read_timeline_query([(name, str(value)) for name, value in params.items()])
    with transaction(web.runtime.sessions) as session:
        page = incident_timeline(session, incident_id, query)
    return StoredTextResponse(timeline_json(page)).body


def answer(web: Served, incident_id: int, **params: Any) -> bytes:
    response = web.get(f"/api/incidents/{incident_id}/timeline", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.content


@pytest.mark.parametrize("limit", [1, 7, 500, 1000])
def test_every_page_is_byte_for_byte_the_python_rendering(web: Served, limit: int) -> None:
    incident_id = incident(web, 1203)
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        body = answer(web, incident_id, **params)
        assert body == python_page(web, incident_id, **params)
        pages += 1
        cursor = json.loads(body)["next_cursor"]
        if cursor is None or pages >= 12:  # small pages: the first dozen boundaries
            break
    assert pages == (12 if limit < 500 else -(-1203 // limit))


@pytest.mark.parametrize("last", [1, 9, 1000])
def test_the_last_entries_are_the_python_rendering(web: Served, last: int) -> None:
    incident_id = incident(web, 1203)

    assert answer(web, incident_id, last=last) == python_page(web, incident_id, last=last)


@pytest.mark.parametrize("entries", [0, 5])
def test_a_page_at_or_past_the_end_is_the_python_rendering(web: Served, entries: int) -> None:
    incident_id = incident(web, entries)
    past = encode_cursor(EntryPosition(START + timedelta(days=1), 1))

    assert answer(web, incident_id) == python_page(web, incident_id)
    assert answer(web, incident_id, cursor=past) == b'{"events":[],"next_cursor":null}'
    assert answer(web, incident_id, last=3) == python_page(web, incident_id, last=3)


def test_no_such_incident_is_a_404(web: Served) -> None:
    response = web.get("/api/incidents/4242/timeline")

    assert response.status_code == 404
    assert response.json()["error"] == "no incident #4242"


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_time_stored_in_another_form_is_read_the_ordinary_way(web: Served) -> None:
    incident_id = incident(web, 12)
    with transaction(web.runtime.sessions) as session:
        # Seconds only: what a row written by hand holds, not SQLAlchemy's form.
        session.execute(
            text("UPDATE timeline_events SET occurred_at = '2021-03-10 10:00:30' WHERE id = 3")
        )

    for params in ({}, {"limit": 5}, {"last": 4}):
        body = answer(web, incident_id, **params)
        assert body == python_page(web, incident_id, **params)
    assert b'"at":"2021-03-10T10:00:30Z"' in answer(web, incident_id)
