"""Outgoing webhooks: signed, one result per URL, retried without resending to a URL."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import timedelta
from pathlib import Path
from unittest import mock as unittest_mock

import httpx
import respx
from sqlalchemy import update

from bot.incidents import effects
from bot.integrations import webhooks
from bot.postmortem import draft
from bot.usecases.queries import incident_events
from storage.db import transaction
from storage.models import OutboxOp
from tests.bot.integrations.conftest import (
    CHANNEL_ID,
    EVERYTHING,
    HOOK_A,
    HOOK_B,
    PD_URL,
    WEBHOOK_SECRET,
    Build,
)
from tests.support.webhook_schemas import problems, validators

DOC = Path(__file__).parents[3] / "bot" / "integrations" / "WEBHOOKS.md"


def _hooks_only(**extra: str) -> dict[str, str]:
    return {k: v for k, v in EVERYTHING.items() if "WEBHOOK" in k} | extra


def _expected_signature(request: httpx.Request) -> str:
    timestamp = request.headers["X-Warroom-Timestamp"]
    digest = hmac.new(
        WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + request.content, hashlib.sha256
    )
    return f"sha256={digest.hexdigest()}"


async def test_status_change_is_signed_and_sent_to_every_url(harness: Build) -> None:
    h = harness(**_hooks_only())
    incident_id = h.declare("declare Orders slow sev3")
    h.run("status identified replication lag on orders-db", incident_id)
    with respx.mock(assert_all_mocked=True) as mock:
        a = mock.post(HOOK_A).respond(200)
        b = mock.post(HOOK_B).respond(204)
        await h.dispatcher.drain()

    [op] = h.ops(incident_id, effects.WEBHOOK)
    delivery = f"{incident_id}:incident.status_changed:{op.id}"
    for route in (a, b):
        [call] = route.calls
        request = call.request
        assert request.method == "POST"
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["X-Warroom-Event"] == "incident.status_changed"
        assert request.headers["X-Warroom-Delivery"] == delivery
        assert request.headers["X-Warroom-Timestamp"] == str(int(h.clock.now().timestamp()))
        assert request.headers["X-Warroom-Signature"] == _expected_signature(request)
        assert json.loads(request.content) == {
            "event": "incident.status_changed",
            "incident": {
                "id": incident_id,
                "title": "Orders slow",
                "severity": "sev3",
                "status": "identified",
                "channel_id": CHANNEL_ID,
                "channel_name": h.incident(incident_id).channel_name,
                "started_at": "2021-03-10T09:56:00Z",
                "resolved_at": None,
                "playbook": "default",
                "drill": False,
                "private": False,
                "public_title": "Service disruption",
                "url": f"https://slack.com/app_redirect?channel={CHANNEL_ID}",
            },
            "sent_at": "2021-03-10T09:56:00Z",
        }
    assert op.result == {"delivery": delivery, "delivered": ["hooks.a.test", "hooks.b.test"]}
    texts = [e.text for e in h.timeline(incident_id)]
    assert texts == [
        "Webhook incident.status_changed to hooks.a.test delivered (HTTP 200)",
        "Webhook incident.status_changed to hooks.b.test delivered (HTTP 204)",
    ]
    assert not any("token=abc" in t for t in texts)  # a URL's secrets never reach the timeline


async def test_a_failing_url_retries_only_itself_with_the_same_delivery_id(
    harness: Build,
) -> None:
    h = harness(**_hooks_only())
    incident_id = h.declare("declare Orders slow sev3")
    h.run("sev 2", incident_id)
    with respx.mock(assert_all_mocked=True) as mock:
        a = mock.post(HOOK_A).respond(200)
        b = mock.post(HOOK_B)
        b.side_effect = [
            httpx.Response(503),
            httpx.ReadTimeout("slow"),
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(200),
        ]
        for _ in range(3):
            await h.dispatcher.run_once()
            [op] = h.ops(incident_id, effects.WEBHOOK)
            assert op.state == "pending"
            wait = h.next_attempt(op.id) - h.clock.now()
            h.clock.advance(wait)
        assert wait == timedelta(seconds=7)
        await h.dispatcher.drain()

    assert a.call_count == 1  # the URL that took it is not sent it again
    assert b.call_count == 4
    deliveries = {c.request.headers["X-Warroom-Delivery"] for c in [*a.calls, *b.calls]}
    assert len(deliveries) == 1
    for call in b.calls:  # every retry is signed afresh
        assert call.request.headers["X-Warroom-Signature"] == _expected_signature(call.request)
    [op] = h.ops(incident_id, effects.WEBHOOK)
    assert op.state == "done"
    assert [e.text for e in h.timeline(incident_id)] == [
        "Webhook incident.severity_changed to hooks.a.test delivered (HTTP 200)",
        "Webhook incident.severity_changed to hooks.b.test failed (HTTP 503), retrying",
        "Webhook incident.severity_changed to hooks.b.test failed (timeout), retrying",
        "Webhook incident.severity_changed to hooks.b.test rate limited (HTTP 429), retrying in 7s",
        "Webhook incident.severity_changed to hooks.b.test delivered (HTTP 200)",
    ]


async def test_playbook_webhook_goes_to_its_url_too(harness: Build) -> None:
    h = harness(**_hooks_only())
    incident_id = h.declare("declare Orders slow sev3")
    h.enqueue(incident_id, effects.WEBHOOK, event="playbook.stage", url="https://stage.test/x")
    with respx.mock(assert_all_mocked=True) as mock:
        routes = [mock.post(url).respond(200) for url in (HOOK_A, HOOK_B, "https://stage.test/x")]
        await h.dispatcher.drain()
    for route in routes:
        [call] = route.calls
        assert json.loads(call.request.content)["event"] == "playbook.stage"


async def test_without_a_secret_requests_are_unsigned(harness: Build, caplog) -> None:
    h = harness(WARROOM_WEBHOOKS=HOOK_B)
    incident_id = h.declare("declare Orders slow sev3")
    h.run("status identified found it", incident_id)
    h.run("status monitoring fix deployed", incident_id)
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.post(HOOK_B).respond(200)
        await h.dispatcher.drain()
    assert route.call_count == 2
    assert all("X-Warroom-Signature" not in c.request.headers for c in route.calls)
    warnings = [r for r in caplog.records if "WARROOM_WEBHOOK_SECRET" in r.getMessage()]
    assert len(warnings) == 1


async def test_refused_everywhere_fails_for_good(harness: Build) -> None:
    h = harness(**_hooks_only())
    incident_id = h.declare("declare Orders slow sev3")
    h.run("status identified found it", incident_id)
    with respx.mock(assert_all_mocked=True) as mock:
        mock.post(HOOK_A).respond(404)
        mock.post(HOOK_B).respond(400, json={"message": "unknown event"})
        await h.dispatcher.drain()
    [op] = h.ops(incident_id, effects.WEBHOOK)
    assert op.state == "failed"
    [failed] = h.timeline(incident_id, "delivery_failed")
    assert failed.text == (
        "webhook incident.status_changed: hooks.a.test HTTP 404; hooks.b.test HTTP 400"
    )


async def test_no_urls_is_skipped(harness: Build) -> None:
    h = harness()
    incident_id = h.declare("declare Orders slow sev3")
    h.run("resolve done", incident_id)
    with respx.mock(assert_all_mocked=True) as mock:
        await h.dispatcher.drain()
    assert not mock.calls
    ops = h.ops(incident_id, effects.WEBHOOK)
    assert [op.payload["event"] for op in ops] == ["incident.resolved", "postmortem.ready"]
    for op in ops:
        assert (op.state, op.result) == ("done", {"skipped": "no webhook URLs"})


async def test_the_documented_verifier_accepts_a_real_delivery(harness: Build) -> None:
    snippet = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert snippet is not None
    namespace: dict = {}
    exec(snippet.group(1), namespace)
    verify = namespace["verify"]

    h = harness(**_hooks_only())
    incident_id = h.declare("declare Orders slow sev3")
    h.run("resolve done", incident_id)
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.post(HOOK_A).respond(200)
        mock.post(HOOK_B).respond(200)
        await h.dispatcher.drain()
    request = route.calls[0].request
    headers = dict(request.headers.items())
    headers = {k.title(): v for k, v in headers.items()}
    sent = int(request.headers["X-Warroom-Timestamp"])
    with unittest_mock.patch("time.time", return_value=sent + 10):
        assert verify(WEBHOOK_SECRET, headers, request.content)
        assert not verify("wrong-secret", headers, request.content)
        assert not verify(WEBHOOK_SECRET, headers, request.content + b" ")
    with unittest_mock.patch("time.time", return_value=sent + 301):
        assert not verify(WEBHOOK_SECRET, headers, request.content)


async def test_opening_an_incident_sends_incident_opened(harness: Build) -> None:
    h = harness(**_hooks_only())
    incident_id = h.declare("declare Orders slow sev3", opened=True)
    with respx.mock(assert_all_mocked=True) as mock:
        a = mock.post(HOOK_A).respond(200)
        mock.post(HOOK_B).respond(200)
        await h.dispatcher.drain()
    [call] = a.calls
    body = json.loads(call.request.content)
    assert (body["event"], body["incident"]["id"]) == ("incident.opened", incident_id)
    assert call.request.headers["X-Warroom-Signature"] == _expected_signature(call.request)


async def test_a_delivery_carries_the_corrected_resolution_and_start_times(
    harness: Build,
) -> None:
    h = harness(**_hooks_only())
    incident_id = h.declare("declare Orders slow sev3")
    h.clock.advance(timedelta(minutes=19))
    h.run("resolve done", incident_id)
    # Corrected before the deliveries go out: receivers get the incident as it is now.
    h.clock.advance(timedelta(minutes=5))
    h.run("time resolved 18:12", incident_id)
    h.run("time started 17:50", incident_id)
    with respx.mock(assert_all_mocked=True) as mock:
        a = mock.post(HOOK_A).respond(200)
        mock.post(HOOK_B).respond(200)
        await h.dispatcher.drain()
    bodies = [json.loads(call.request.content) for call in a.calls]
    assert [body["event"] for body in bodies] == ["incident.resolved", "postmortem.ready"]
    for body in bodies:
        incident = body["incident"]
        assert (incident["started_at"], incident["resolved_at"]) == (
            "2021-03-10T09:50:00Z",
            "2021-03-10T10:12:00Z",
        )


async def test_incident_opened_waits_for_the_channel_and_carries_its_id(
    harness: Build, monkeypatch
) -> None:
    monkeypatch.setattr(webhooks, "CHANNEL_WAIT", 0.1)
    h = harness(**_hooks_only())
    incident_id = h.declare("declare Orders slow sev3", opened=True)
    # Slack is slow to create the channel: its operation waits for a retry an hour away.
    with transaction(h.sessions) as session:
        session.execute(
            update(OutboxOp)
            .where(OutboxOp.incident_id == incident_id, OutboxOp.kind == effects.OPEN_CHANNEL)
            .values(next_attempt_at=h.clock.now() + timedelta(hours=1))
        )
    with respx.mock(assert_all_mocked=True) as mock:
        a = mock.post(HOOK_A).respond(200)
        mock.post(HOOK_B).respond(200)
        await h.dispatcher.run_once()
        assert not a.calls  # no incident.opened with `channel_id: null`
        [op] = h.ops(incident_id, effects.WEBHOOK)
        assert (op.state, op.last_error) == ("pending", "waiting for the incident channel")
        h.clock.advance(timedelta(hours=1))
        await h.dispatcher.drain()
    [call] = a.calls
    body = json.loads(call.request.content)
    assert (body["event"], body["incident"]["channel_id"]) == ("incident.opened", CHANNEL_ID)
    assert body["incident"]["url"] == f"https://slack.com/app_redirect?channel={CHANNEL_ID}"


async def test_a_channel_slack_refused_for_good_ends_the_wait(harness: Build) -> None:
    h = harness(**_hooks_only())
    incident_id = h.declare("declare Orders slow sev3", opened=True)
    with transaction(h.sessions) as session:
        session.execute(
            update(OutboxOp)
            .where(OutboxOp.incident_id == incident_id, OutboxOp.kind == effects.OPEN_CHANNEL)
            .values(state="failed", last_error="restricted_action")
        )
    with respx.mock(assert_all_mocked=True) as mock:
        a = mock.post(HOOK_A).respond(200)
        mock.post(HOOK_B).respond(200)
        await h.dispatcher.drain()
    body = json.loads(a.calls[0].request.content)
    assert (body["event"], body["incident"]["channel_id"]) == ("incident.opened", None)


async def test_the_postmortem_leaves_deliveries_out_and_the_api_timeline_keeps_them(
    harness: Build,
) -> None:
    paging = {k: v for k, v in EVERYTHING.items() if "PAGERDUTY" in k}
    h = harness(**paging, WARROOM_WEBHOOKS=HOOK_A, WARROOM_WEBHOOK_SECRET=WEBHOOK_SECRET)
    incident_id = h.declare("declare Orders slow sev1")
    h.run("status identified found it", incident_id)
    h.run("resolve done", incident_id)
    with respx.mock(assert_all_mocked=True) as mock:
        hook = mock.post(HOOK_A)
        hook.side_effect = [httpx.Response(503), *[httpx.Response(200)] * 5]
        pages = mock.post(PD_URL)
        pages.side_effect = [httpx.Response(502), *[httpx.Response(202, json={})] * 3]
        for _ in range(10):
            await h.dispatcher.drain()
            h.clock.advance(timedelta(minutes=1))
    integration = [e.text for e in h.timeline(incident_id)]
    assert "Webhook incident.status_changed to hooks.a.test failed (HTTP 503), retrying" in (
        integration
    )
    assert "Webhook incident.resolved to hooks.a.test delivered (HTTP 200)" in integration
    assert "PagerDuty trigger sent" in integration
    with h.sessions() as session:
        page = incident_events(session, incident_id, limit=1000)
        draft_text = draft(session, incident_id, tz=h.domain.tz)
    assert page is not None and page.next is None
    kinds = [e.kind for e in page.entries]
    assert "integration" in kinds
    assert all(e.source == "system" for e in page.entries if e.kind == "integration")
    shown = draft_text.split("\n## Timeline", 1)[1].split("\n## ", 1)[0]
    assert "Webhook" not in shown and "retrying" not in shown
    assert "| PagerDuty trigger sent |" in shown  # the outcome of a page stays
    assert "resolved: done" in shown


def test_the_documented_events_are_the_schemas_and_the_example_is_valid() -> None:
    text = DOC.read_text()
    table = text.split("## Events", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_.]+)` \|", table, flags=re.MULTILINE))
    assert documented == set(validators())
    example = text.split("```http", 1)[1].split("```", 1)[0].split("\n\n", 1)[1]
    body = json.loads(example.replace("\n", ""))
    assert problems(body) == []
    assert problems({**body, "extra": 1}) != []  # the schemas refuse what they do not name
    stage = {**body, "event": "playbook.stage"}
    assert problems(stage) != []  # a stage event must name its stage
    assert problems({**stage, "stage": {"id": "repair", "title": "Repair"}}) == []
