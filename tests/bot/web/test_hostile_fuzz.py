"""Hypothesis: every source's documented payload, spoiled anywhere with lone surrogates, NULs,
huge keys and extreme dates, gets 2xx or 4xx over real HTTP, never 5xx, and leaves a
database whose incidents, timelines and postmortems all still answer 200.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.bot.alerts.payloads import load, set_path
from tests.bot.web.conftest import FIRING, RESOLVED, SOURCES, Served

FRAGMENTS = [
    "\ud83d",  # the first half of an emoji, cut by a JavaScript sender
    "\udd25",  # its second half
    "\x00",
    "\ufffd",
    "<!channel>",
    "🔥",
    "",
]
DATES = [
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59Z",
    "9999-12-30T00:00:00+00:00",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00-14:00",
    "0001-01-02T00:00:00Z",
    "0001-01-01T00:00:00Z",  # Go's zero time: unset
    "1970-01-01T00:00:00Z",
    "2021-03-10T17:56:00.123456789+08:00",
    "2021-02-30T00:00:00Z",
    "not a date",
]


def leaves(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """The path of every string and number in a payload (what a mutation may replace)."""
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in leaves(item, (*path, key))]
    if isinstance(value, list):
        return [p for n, item in enumerate(value) for p in leaves(item, (*path, n))]
    return [path] if isinstance(value, str | int | float) and not isinstance(value, bool) else []


def is_date(path: tuple[str | int, ...]) -> bool:
    return str(path[-1]) in {"startsAt", "endsAt", "starts_at", "ends_at", "occurred_at"} or (
        path[-1] == "created_at"
    )


BASES = {source: [load(FIRING[source]), load(RESOLVED[source])] for source in SOURCES}

text_values = st.builds(
    lambda head, bad, tail: head + bad + tail,
    st.text(max_size=12),
    st.sampled_from(FRAGMENTS),
    st.text(max_size=12),
)
huge_keys = st.builds(
    lambda n, letter: letter * n,
    st.sampled_from([600, 3_000, 12_000]),
    st.sampled_from(["k", "é", "\ud800"]),
)


@st.composite
def spoiled(draw: st.DrawFn, source: str) -> bytes:
    """A documented payload of `source` with a few values replaced by hostile ones."""
    payload = draw(st.sampled_from(BASES[source]))
    payload = json.loads(json.dumps(payload))  # a copy to change
    paths = leaves(payload)
    for path in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=6, unique=True)):
        if is_date(path):
            value: Any = draw(st.sampled_from(DATES))
        else:
            value = draw(st.one_of(text_values, huge_keys))
        set_path(payload, path, value)
    # ensure_ascii: lone surrogates and NULs travel as \u escapes, as a sender writes them.
    return json.dumps(payload).encode("ascii")


@pytest.mark.parametrize("source", SOURCES)
def test_hostile_payloads_get_no_5xx_and_leave_the_database_readable(
    web: Served, source: str
) -> None:
    touched: set[int] = set()

    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(body=spoiled(source))
    def post(body: bytes) -> None:
        response = web.post(source, body)
        assert response.status_code in (202, 400, 422), response.text
        if response.status_code == 202:
            for ref in response.json()["incidents"]:
                touched.add(ref["id"])
        else:
            assert set(response.json()) <= {"error", "details"}

    post()

    assert touched, "no spoiled payload was accepted: the readback checks nothing"
    listed = web.get("/api/incidents")
    assert listed.status_code == 200, listed.text
    for incident_id in sorted(touched):
        for suffix in ("", "/timeline", "/postmortem"):
            response = web.get(f"/api/incidents/{incident_id}{suffix}")
            assert response.status_code == 200, (suffix, response.text)
