"""PagerDuty Events API v2 through the real outbox and dispatcher."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
import respx

from bot.incidents import effects
from bot.incidents.reminders import unacknowledged_due
from storage.unit_of_work import unit_of_work
from tests.bot.integrations.conftest import (
    CHANNEL_ID,
    EVERYTHING,
    PD_KEY,
    PD_URL,
    Build,
    Harness,
)

PAGERDUTY = {"WARROOM_PAGERDUTY_ROUTING_KEY": PD_KEY, "WARROOM_PAGERDUTY_URL": PD_URL}
TRADING = "declare Matching engine down sev1 playbook:trading-engine-outage"


def _body(request: httpx.Request) -> dict:
    return json.loads(request.content)


def _paged_notices(h: Harness, incident_id: int) -> list[dict]:
    """The `paged` notices queued for the channel, as stored (defaults left out)."""
    notices = [op.payload["notice"] for op in h.ops(incident_id, effects.POST_NOTICE)]
    return [
        {k: v for k, v in notice.items() if k != "name"}
        for notice in notices
        if notice["name"] == "paged"
    ]


async def test_trigger_on_declare_sends_the_full_event(harness: Build) -> None:
    h = harness(**EVERYTHING)
    incident_id = h.declare()
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.post(PD_URL).respond(202, json={"status": "success", "dedup_key": "x"})
        await h.dispatcher.run_once()

    assert route.call_count == 1
    request = route.calls[0].request
    assert request.method == "POST"
    assert request.headers["User-Agent"] == "warroom/0.1"
    assert request.headers["Content-Type"] == "application/json"
    assert _body(request) == {
        "routing_key": PD_KEY,
        "event_action": "trigger",
        "dedup_key": f"warroom-{incident_id}",
        "payload": {
            "summary": f"[SEV1] Incident #{incident_id}: Matching engine down",
            "source": "warroom",
            "severity": "critical",
            "custom_details": {
                "incident_id": incident_id,
                "severity": "sev1",
                "status": "investigating",
                "playbook": "default",
                "started_at": "2021-03-10T09:56:00+00:00",
                "channel": f"#{h.incident(incident_id).channel_name}",
            },
        },
        "links": [
            {
                "href": f"https://slack.com/app_redirect?channel={CHANNEL_ID}",
                "text": f"Slack #{h.incident(incident_id).channel_name}",
            }
        ],
    }
    summary = f"[SEV1] Incident #{incident_id}: Matching engine down"
    [op] = h.ops(incident_id, effects.PAGE)
    assert (op.state, op.result) == (
        "done",
        {"status": 202, "dedup_key": f"warroom-{incident_id}", "summary": summary},
    )
    [entry] = h.timeline(incident_id)
    assert (entry.text, entry.source, entry.data["ok"]) == (
        "PagerDuty trigger sent",
        "system",
        True,
    )
    # Told once PagerDuty took it, and only then: in the timeline and the channel.
    [paged] = h.timeline(incident_id, "paging")
    assert paged.text == f"PagerDuty paged: {summary} (warroom-{incident_id})"
    assert _paged_notices(h, incident_id) == [
        {"outcome": "paged", "key": f"warroom-{incident_id}", "summary": summary}
    ]


async def test_a_private_incident_pages_under_its_public_title_without_its_channel(
    harness: Build,
) -> None:
    h = harness(**EVERYTHING)
    first = h.declare("declare Insider trading probe on desk 4 sev1 --private")
    second = h.declare("declare Leaked keys in the trading repo sev2 --private")
    h.run("public-title Trading desk tooling unavailable", second)
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.post(PD_URL).respond(202, json={"status": "success"})
        await h.dispatcher.drain()

    sent = {_body(c.request)["dedup_key"]: c.request.content.decode() for c in route.calls}
    assert set(sent) == {f"warroom-{first}", f"warroom-{second}"}
    body = json.loads(sent[f"warroom-{first}"])
    summary = f"[SEV1] Incident #{first} (private): Service disruption"
    assert body["payload"]["summary"] == summary
    assert body["payload"]["custom_details"]["private"] is True
    assert "channel" not in body["payload"]["custom_details"]
    assert body["links"] == [
        {
            "href": f"https://slack.com/app_redirect?channel={CHANNEL_ID}",
            "text": "Slack incident channel",
        }
    ]
    second_summary = json.loads(sent[f"warroom-{second}"])["payload"]["summary"]
    assert (
        second_summary == f"[SEV2] Incident #{second} (private): Trading desk tooling unavailable"
    )
    for incident_id, text in ((first, "Insider"), (second, "Leaked")):
        assert text not in sent[f"warroom-{incident_id}"]
        assert h.incident(incident_id).channel_name not in sent[f"warroom-{incident_id}"]
    # The responders' own timeline says what was sent, as for any page.
    [paged] = h.timeline(first, "paging")
    assert paged.text == f"PagerDuty paged: {summary} (warroom-{first})"


async def test_acknowledge_and_resolve_send_only_the_key(harness: Build) -> None:
    h = harness(**EVERYTHING)
    incident_id = h.declare()
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.post(PD_URL).respond(202, json={"status": "success"})
        await h.dispatcher.drain()
        h.run("ack", incident_id)
        h.run("resolve Restarted the dependency", incident_id)
        await h.dispatcher.drain()

    actions = [_body(call.request) for call in route.calls]
    assert [a["event_action"] for a in actions] == ["trigger", "acknowledge", "resolve"]
    for body in actions[1:]:
        assert body == {
            "routing_key": PD_KEY,
            "event_action": body["event_action"],
            "dedup_key": f"warroom-{incident_id}",
        }
    assert [e.text for e in h.timeline(incident_id)] == [
        "PagerDuty trigger sent",
        "PagerDuty acknowledge sent",
        "PagerDuty resolve sent",
    ]


async def test_429_waits_exactly_retry_after_and_loses_nothing(harness: Build) -> None:
    h = harness(**EVERYTHING)
    incident_id = h.declare()
    h.run("ack", incident_id)  # queued behind the trigger: must wait for it, not be lost
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.post(PD_URL)
        route.side_effect = [
            httpx.Response(429, headers={"Retry-After": "30"}, json={"status": "throttled"}),
            httpx.Response(202, json={"status": "success"}),
            httpx.Response(202, json={"status": "success"}),
        ]
        await h.dispatcher.run_once()
        trigger, ack = h.ops(incident_id, effects.PAGE)
        assert trigger.state == "pending" and ack.state == "pending"
        assert h.next_attempt(trigger.id) == h.clock.now() + timedelta(seconds=30)
        assert trigger.last_error == "PagerDuty trigger: HTTP 429"
        assert await h.dispatcher.run_once() == 0  # not due yet, and the ack waits behind it

        h.clock.advance(timedelta(seconds=30))
        await h.dispatcher.drain()

    assert [_body(c.request)["event_action"] for c in route.calls] == [
        "trigger",
        "trigger",
        "acknowledge",
    ]
    assert [op.state for op in h.ops(incident_id, effects.PAGE)] == ["done", "done"]
    assert [e.text for e in h.timeline(incident_id)] == [
        "PagerDuty trigger rate limited (HTTP 429), retrying in 30s",
        "PagerDuty trigger sent",
        "PagerDuty acknowledge sent",
    ]


async def test_5xx_and_timeouts_retry_with_backoff_and_are_recorded(harness: Build) -> None:
    h = harness(**EVERYTHING)
    incident_id = h.declare()
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.post(PD_URL)
        route.side_effect = [
            httpx.Response(503, text="upstream unavailable"),
            httpx.ConnectTimeout("timed out"),
            httpx.ConnectError("refused"),
            httpx.Response(202, json={"status": "success"}),
        ]
        waits = []
        for _ in range(3):
            await h.dispatcher.run_once()
            [op] = h.ops(incident_id, effects.PAGE)
            assert op.state == "pending"
            wait = (h.next_attempt(op.id) - h.clock.now()).total_seconds()
            waits.append(wait)
            h.clock.advance(timedelta(seconds=wait))
        await h.dispatcher.drain()

    # Exponential backoff with ±20 % jitter from half a second.
    for attempt, wait in enumerate(waits):
        assert 0.5 * 2**attempt * 0.8 <= wait <= 0.5 * 2**attempt * 1.2
    [op] = h.ops(incident_id, effects.PAGE)
    assert (op.state, op.attempts) == ("done", 4)
    assert route.call_count == 4
    assert [e.text for e in h.timeline(incident_id)] == [
        "PagerDuty trigger failed (HTTP 503), retrying",
        "PagerDuty trigger failed (timeout), retrying",
        "PagerDuty trigger failed (connection error), retrying",
        "PagerDuty trigger sent",
    ]


async def test_repeated_identical_failures_are_one_entry(harness: Build) -> None:
    h = harness(**EVERYTHING)
    incident_id = h.declare()
    with respx.mock(assert_all_mocked=True) as mock:
        mock.post(PD_URL).respond(502)
        for _ in range(3):
            await h.dispatcher.run_once()
            h.clock.advance(timedelta(minutes=5))
    [entry] = h.timeline(incident_id)
    assert entry.text == "PagerDuty trigger failed (HTTP 502), retrying"
    assert entry.data["repeats"] == 2


async def test_400_fails_for_good_and_pagerdutys_words_go_only_to_the_log(
    harness: Build, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness(**EVERYTHING)
    incident_id = h.declare()
    h.run("note checking the dependency graph", incident_id)
    # PagerDuty's documented 400 shape (developer.pagerduty.com, Events API v2, "Send an
    # Alert Event" responses), its errors echoing the routing key it was sent.
    said = f"Invalid routing key {PD_KEY}"
    with respx.mock(assert_all_mocked=True) as mock:
        mock.post(PD_URL).respond(
            400,
            json={
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": [said],
            },
        )
        await h.dispatcher.drain()

    [op] = h.ops(incident_id, effects.PAGE)
    assert op.state == "failed"
    [failed] = h.timeline(incident_id, "delivery_failed")
    assert failed.text == "PagerDuty trigger refused (HTTP 400)"
    [entry] = h.timeline(incident_id)
    assert entry.text == "PagerDuty trigger refused (HTTP 400)"
    assert entry.data["error"] == "HTTP 400"
    assert PD_KEY not in f"{failed.data} {entry.data} {op.last_error} {op.result}"
    logged = [r.getMessage() for r in caplog.records if r.name == "bot.integrations.calls"]
    assert logged == [f"POST {PD_URL} answered HTTP 400: Event object is invalid; {said}"]
    # The channel hears that nobody was paged, not a generic "could not send".
    assert _paged_notices(h, incident_id) == [
        {"outcome": "refused", "reason": "PagerDuty trigger refused (HTTP 400)"}
    ]
    notices = [op.payload["notice"]["name"] for op in h.ops(incident_id, effects.POST_NOTICE)]
    assert "delivery_failed" not in notices
    # The chain goes on: the Slack operations after the page still ran.
    assert all(o.state == "done" for o in h.ops(incident_id, effects.UPDATE_CARD))


async def test_escalation_and_severity_mapping(harness: Build) -> None:
    h = harness(**EVERYTHING)
    incident_id = h.declare("declare Orders slow sev3")
    h.run("sev 2", incident_id)
    h.enqueue(incident_id, effects.PAGE, action="trigger", escalation=True)
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.post(PD_URL).respond(202, json={"status": "success"})
        mock.post(url__startswith="https://hooks.").respond(200)
        await h.dispatcher.drain()

    first, escalation = (_body(c.request) for c in route.calls)
    assert first["payload"]["severity"] == "error"
    assert escalation["payload"]["summary"].startswith("[ESCALATED] [SEV2]")
    assert escalation["payload"]["custom_details"]["escalation"] is True
    assert "PagerDuty escalation sent" in [e.text for e in h.timeline(incident_id)]


async def test_unconfigured_pagerduty_is_skipped_without_a_request(harness: Build) -> None:
    h = harness()
    incident_id = h.declare()
    with respx.mock(assert_all_mocked=True) as mock:
        await h.dispatcher.drain()
    assert not mock.calls
    [op] = h.ops(incident_id, effects.PAGE)
    assert (op.state, op.result) == ("done", {"skipped": "PagerDuty paging is not configured"})
    assert h.timeline(incident_id) == []
    # Nobody is paged, and the channel and the timeline say so.
    [entry] = h.timeline(incident_id, "paging")
    assert entry.text == "not paged: PagerDuty is not configured"
    assert _paged_notices(h, incident_id) == [
        {"outcome": "not_paged", "reason": "PagerDuty is not configured"}
    ]


async def test_a_page_after_the_ack_is_a_new_alert_and_resolve_closes_every_one(
    harness: Build,
) -> None:
    h = harness(**PAGERDUTY)
    incident_id = h.declare(TRADING)
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.post(PD_URL).respond(202, json={"status": "success"})
        await h.dispatcher.drain()
        # The ack enters "Emergency response", whose `page: pagerduty` pages again: under
        # the first key PagerDuty would merge it into the acknowledged alert.
        h.run("ack", incident_id)
        await h.dispatcher.drain()
        h.run("resolve Restarted the dependency", incident_id)
        await h.dispatcher.drain()

    first, second = f"warroom-{incident_id}", f"warroom-{incident_id}-2"
    sent = [(_body(c.request)["event_action"], _body(c.request)["dedup_key"]) for c in route.calls]
    assert sent == [
        ("trigger", first),
        ("acknowledge", first),
        ("trigger", second),
        ("resolve", first),
        ("resolve", second),
    ]
    again = _body(route.calls[2].request)
    assert again["payload"]["custom_details"]["page"] == 2
    summary = f"[SEV1] Incident #{incident_id}: Matching engine down"
    assert [e.text for e in h.timeline(incident_id, "paging")] == [
        f"PagerDuty paged: {summary} ({first})",
        f"PagerDuty paged: {summary} ({second})",
    ]
    assert _paged_notices(h, incident_id) == [
        {"outcome": "paged", "key": first, "summary": summary},
        {"outcome": "paged", "key": second, "page": 2, "summary": summary},
    ]


async def test_an_unacknowledged_escalation_is_told_with_what_became_of_its_page(
    harness: Build,
) -> None:
    h = harness(**PAGERDUTY)
    incident_id = h.declare()
    h.clock.advance(timedelta(minutes=5))
    with unit_of_work(h.sessions) as uow:
        assert unacknowledged_due(uow, h.domain, incident_id) is not None
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.post(PD_URL).respond(202, json={"status": "success"})
        await h.dispatcher.drain()

    escalation = _body(route.calls[1].request)
    assert escalation["dedup_key"] == f"warroom-{incident_id}-2"
    summary = f"[ESCALATED] [SEV1] Incident #{incident_id}: Matching engine down"
    assert escalation["payload"]["summary"] == summary
    # One notice, after PagerDuty took the page: the wait and whom it paged.
    [_, told] = _paged_notices(h, incident_id)
    assert told == {
        "outcome": "paged",
        "key": f"warroom-{incident_id}-2",
        "page": 2,
        "summary": summary,
        "waited_seconds": 300,
    }
    notices = [op.payload["notice"]["name"] for op in h.ops(incident_id, effects.POST_NOTICE)]
    assert "unacknowledged" not in notices


async def test_a_page_while_the_last_one_still_rings_unacknowledged_is_held(
    harness: Build,
) -> None:
    h = harness(**PAGERDUTY)
    incident_id = h.declare("declare Orders slow sev3")
    h.clock.advance(timedelta(minutes=30))
    with unit_of_work(h.sessions) as uow:
        unacknowledged_due(uow, h.domain, incident_id)  # pages the sev3: nobody answered
    h.run("sev 1", incident_id)  # would page, but the page is open and unanswered
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.post(PD_URL).respond(202, json={"status": "success"})
        await h.dispatcher.drain()

    assert [_body(c.request)["dedup_key"] for c in route.calls] == [f"warroom-{incident_id}"]
    # Told at once (nothing to wait for), before the first page's own notice comes back.
    assert _paged_notices(h, incident_id)[0] == {
        "outcome": "held",
        "key": f"warroom-{incident_id}",
    }
    [held] = h.timeline(incident_id, "paging")[:1]
    assert held.text == f"not paged again: warroom-{incident_id} is still open and not acknowledged"
