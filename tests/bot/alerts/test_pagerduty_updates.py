"""PagerDuty V3 events read as updates of an incident, on PagerDuty's documented payloads.

The payloads are PagerDuty's own examples (tests/bot/alerts/payloads/pagerduty_v3/README.md
names the page and what each file changes).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.alerts import parse_notification
from bot.incidents.paging import PagingUpdate, page_key, paged_incident
from tests.bot.alerts.payloads import dump, load, set_path

INCIDENT = "PGR0VU2"  # PagerDuty's incident in every documented example


def v3(name: str, *, key: str | None = None) -> bytes:
    """A documented payload; with `key`, as if its incident were opened by that dedup key."""
    payload = load(f"pagerduty_v3/{name}.json")
    if key is not None:
        set_path(payload, ("event", "data", "incident_key"), key)
    return dump(payload)


def test_our_page_key_round_trips_and_nothing_else_is_ours() -> None:
    assert page_key(12) == "warroom-12"
    assert paged_incident("warroom-12") == 12
    # A later page of the same incident goes out under a key of its own: still incident 12.
    assert (page_key(12, 1), page_key(12, 2), page_key(12, 10)) == (
        "warroom-12",
        "warroom-12-2",
        "warroom-12-10",
    )
    assert [paged_incident(page_key(12, n)) for n in (2, 10)] == [12, 12]
    for foreign in [
        None,
        "",
        "d3640fbd41094207a1c11e58e46b1662",
        "warroom-",
        "warroom-0",
        "warroom-12x",
        "xwarroom-12",
        "warroom-1-1",
        "warroom-1-0",
        "warroom-1-02",
        "warroom-1-2-3",
        "warroom--1",
    ]:
        assert paged_incident(foreign) is None, foreign


@pytest.mark.parametrize(
    "name",
    [
        "triggered",
        "acknowledged",
        "priority_updated",
        "escalated",
        "reassigned",
        "delegated",
        "resolved",
    ],
)
def test_an_event_about_our_own_page_is_an_update_of_our_incident_and_no_alert(name: str) -> None:
    parsed = parse_notification("pagerduty", v3(name, key="warroom-7"))

    assert parsed.alerts == []
    [update] = parsed.updates
    assert (update.kind, update.incident_id, update.external_id) == (name, 7, INCIDENT)
    assert parsed.delivery_id == load(f"pagerduty_v3/{name}.json")["event"]["id"]


def test_acknowledged_names_the_agent_and_the_time_it_happened() -> None:
    [update] = parse_notification("pagerduty", v3("acknowledged", key="warroom-7")).updates

    assert update == PagingUpdate(
        source="pagerduty",
        kind="acknowledged",
        at=datetime(2020, 10, 2, 18, 42, 10, tzinfo=UTC),
        external_id=INCIDENT,
        incident_id=7,
        actor="Tenex Engineer",
        priority="P1",
        number=2,
        url="https://acme.pagerduty.com/incidents/PGR0VU2",
    )


def test_priority_updated_carries_the_severity_the_new_priority_means() -> None:
    [update] = parse_notification("pagerduty", v3("priority_updated")).updates
    assert (update.priority, update.severity) == ("P1", "sev1")

    payload = load("pagerduty_v3/priority_updated.json")
    set_path(payload, ("event", "data", "priority", "summary"), "P3")
    set_path(payload, ("event", "data", "urgency"), "low")
    [update] = parse_notification("pagerduty", dump(payload)).updates
    assert (update.priority, update.severity) == ("P3", "sev3")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("escalated", "User 123"),
        ("reassigned", "User 123"),
        ("delegated", "Default"),
        ("triggered", "User 123"),
    ],
)
def test_where_the_incident_went_is_the_update_text(name: str, text: str) -> None:
    [update] = parse_notification("pagerduty", v3(name, key="warroom-7")).updates

    assert update.text == text
    assert update.actor == "Tenex Engineer"


def test_a_note_names_only_pagerdutys_incident_and_carries_its_content_and_author() -> None:
    parsed = parse_notification("pagerduty", v3("annotated"))

    assert parsed.alerts == []
    [update] = parsed.updates
    assert (update.kind, update.incident_id, update.external_id) == ("annotated", None, INCIDENT)
    assert (update.actor, update.text) == (
        "Tenex Engineer",
        "I sure am glad we are using PagerDuty!",
    )
    assert update.at == datetime(2020, 10, 2, 18, 44, tzinfo=UTC)


def test_an_incident_of_pagerdutys_own_still_alerts_and_its_ack_is_an_update_too() -> None:
    triggered = parse_notification("pagerduty", v3("triggered"))
    acknowledged = parse_notification("pagerduty", v3("acknowledged"))
    resolved = parse_notification("pagerduty", v3("resolved"))

    # Opened and recovered are what its alert says; the rest is news about the incident.
    assert [a.fingerprint for a in triggered.alerts] == [INCIDENT] and triggered.updates == []
    assert [a.status for a in resolved.alerts] == ["resolved"] and resolved.updates == []
    assert [a.status for a in acknowledged.alerts] == ["firing"]
    assert [(u.kind, u.incident_id, u.external_id) for u in acknowledged.updates] == [
        ("acknowledged", None, INCIDENT)
    ]


def test_events_without_an_agent_name_nobody() -> None:
    payload = load("pagerduty_v3/escalated.json")
    set_path(payload, ("event", "agent"), None)

    [update] = parse_notification("pagerduty", dump(payload)).updates

    assert update.actor is None
