"""A timeline page's JSON is built without pydantic, byte for byte what the `Timeline`
model gives: the API's answer did not change when its rendering got cheaper."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.usecases.queries import EntryPosition, TimelineEntry, TimelinePage
from bot.web.api import StoredTextResponse, timeline_json
from bot.web.incident_query import encode_cursor
from bot.web.models import EventOut, Timeline

START = datetime(2021, 3, 10, 9, 56, tzinfo=UTC)
ENTRIES = [
    TimelineEntry(START, "alert", None, "HighErrorRate firing", "alert"),
    TimelineEntry(START + timedelta(microseconds=500_000), "note", "U0BOB", "café ☕", "command"),
    TimelineEntry(START + timedelta(microseconds=123), "log", "U0ALICE", 'a "quoted"\n', "pin"),
    TimelineEntry(START, "note", "U0BOB", "lone \ud800 surrogate and \x00 NUL", "command"),
    TimelineEntry(
        datetime(2021, 3, 10, 17, 56, tzinfo=timezone(timedelta(hours=8))), "x", "U", "t", "s"
    ),
    TimelineEntry(datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), "y", None, "", "s"),
]


def model_body(page: TimelinePage) -> bytes:
    """The answer as the route built it before: the model, dumped by pydantic."""
    answer = Timeline(
        events=[
            EventOut(at=e.at, kind=e.kind, actor=e.actor, text=e.text, source=e.source)
            for e in page.entries
        ],
        next_cursor=encode_cursor(page.next) if page.next is not None else None,
    )
    return StoredTextResponse(answer.model_dump(mode="json")).body


@pytest.mark.parametrize(
    "following", [None, EntryPosition(START, 7)], ids=["last page", "with a cursor"]
)
def test_a_page_is_byte_for_byte_what_the_model_gives(following: EntryPosition | None) -> None:
    page = TimelinePage(ENTRIES, following)
    assert StoredTextResponse(timeline_json(page)).body == model_body(page)


def test_an_empty_page_is_what_the_model_gives() -> None:
    page = TimelinePage([], None)
    assert StoredTextResponse(timeline_json(page)).body == b'{"events":[],"next_cursor":null}'
    assert model_body(page) == b'{"events":[],"next_cursor":null}'
