"""Statuspage: create the public incident once, then update it by its stored id."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import respx

from bot.incidents import effects
from tests.bot.integrations.conftest import EVERYTHING, SP_KEY, Build

INCIDENTS = "https://statuspage.test/v1/pages/pg123/incidents"


def _body(request: httpx.Request) -> dict:
    return json.loads(request.content)


def _statuspage_only() -> dict[str, str]:
    return {k: v for k, v in EVERYTHING.items() if "STATUSPAGE" in k}


async def test_create_then_update_uses_the_stored_id(harness: Build) -> None:
    h = harness(**_statuspage_only())
    incident_id = h.declare("declare Orders slow sev3")
    h.run("note internal: suspect the risk service, do not publish", incident_id)
    h.run("statuspage investigating We are investigating delayed orders.", incident_id)
    with respx.mock(assert_all_mocked=True) as mock:
        create = mock.post(INCIDENTS).respond(201, json={"id": "sp-abc", "status": "investigating"})
        update = mock.patch(f"{INCIDENTS}/sp-abc").respond(200, json={"id": "sp-abc"})
        await h.dispatcher.drain()
        assert h.incident(incident_id).external == {
            "statuspage_incident_id": "sp-abc",
            "statuspage_status": "investigating",
        }

        h.run("statuspage identified A faulty dependency was found.", incident_id)
        h.run("statuspage resolved Orders are flowing normally.", incident_id)
        await h.dispatcher.drain()

    assert create.call_count == 1
    request = create.calls[0].request
    assert request.method == "POST"
    assert request.headers["Authorization"] == f"OAuth {SP_KEY}"
    assert request.headers["User-Agent"] == "warroom/0.1"
    assert _body(request) == {
        "incident": {
            # The public title (the default playbook's public wording), never the internal one.
            "name": "Service disruption",
            "status": "investigating",
            "body": "We are investigating delayed orders.",
            "metadata": {"warroom": {"incident_id": incident_id}},
        }
    }
    assert [c.request.method for c in update.calls] == ["PATCH", "PATCH"]
    assert all(c.request.headers["Authorization"] == f"OAuth {SP_KEY}" for c in update.calls)
    assert [_body(c.request) for c in update.calls] == [
        {"incident": {"status": "identified", "body": "A faulty dependency was found."}},
        {"incident": {"status": "resolved", "body": "Orders are flowing normally."}},
    ]
    sent = json.dumps([_body(c.request) for c in [*create.calls, *update.calls]])
    assert "suspect" not in sent  # notes never reach the public page
    assert [op.result for op in h.ops(incident_id, effects.STATUSPAGE)] == [
        {"statuspage_incident_id": "sp-abc", "status": s}
        for s in ("investigating", "identified", "resolved")
    ]
    assert [e.text for e in h.timeline(incident_id)] == [
        "Statuspage incident created (investigating)",
        "Statuspage update sent (identified)",
        "Statuspage update sent (resolved)",
    ]


async def test_5xx_then_rate_limit_retry_and_nothing_is_created_twice(harness: Build) -> None:
    h = harness(**_statuspage_only())
    incident_id = h.declare("declare Orders slow sev3")
    h.run("statuspage investigating Looking into it.", incident_id)
    with respx.mock(assert_all_mocked=True) as mock:
        # Each retry first asks whether the failed attempt made the incident after all.
        lookup = mock.get(f"{INCIDENTS}/unresolved").respond(200, json=[])
        create = mock.post(INCIDENTS)
        create.side_effect = [
            httpx.Response(503, text="Service Unavailable"),
            httpx.Response(420, headers={"Retry-After": "60"}, json={"error": "rate limited"}),
            httpx.Response(201, json={"id": "sp-1"}),
        ]
        await h.dispatcher.run_once()
        [op] = h.ops(incident_id, effects.STATUSPAGE)
        assert op.state == "pending" and op.last_error == "Statuspage incident creation: HTTP 503"
        h.clock.advance(timedelta(seconds=1))
        await h.dispatcher.run_once()
        assert h.next_attempt(op.id) == h.clock.now() + timedelta(seconds=60)
        h.clock.advance(timedelta(seconds=60))
        await h.dispatcher.drain()

    assert (create.call_count, lookup.call_count) == (3, 2)
    [op] = h.ops(incident_id, effects.STATUSPAGE)
    assert op.state == "done"
    assert h.incident(incident_id).external == {
        "statuspage_incident_id": "sp-1",
        "statuspage_status": "investigating",
    }
    assert [e.text for e in h.timeline(incident_id)] == [
        "Statuspage incident creation failed (HTTP 503), retrying",
        "Statuspage incident creation rate limited (HTTP 420), retrying in 60s",
        "Statuspage incident created (investigating)",
    ]


async def test_a_creation_whose_answer_was_lost_is_adopted_not_made_twice(
    harness: Build,
) -> None:
    h = harness(**_statuspage_only())
    incident_id = h.declare("declare Orders slow sev3")
    h.run("statuspage investigating Looking into it.", incident_id)
    with respx.mock(assert_all_mocked=True) as mock:
        # Statuspage made the incident, but its answer never arrived.
        create = mock.post(INCIDENTS).mock(side_effect=httpx.ReadTimeout("no answer"))
        await h.dispatcher.run_once()
        lookup = mock.get(f"{INCIDENTS}/unresolved").respond(
            200,
            json=[
                {"id": "sp-other", "metadata": {"warroom": {"incident_id": incident_id + 1}}},
                {"id": "sp-someone-elses", "metadata": {}},
                {"id": "sp-made", "metadata": {"warroom": {"incident_id": incident_id}}},
            ],
        )
        update = mock.patch(f"{INCIDENTS}/sp-made").respond(200, json={"id": "sp-made"})
        h.clock.advance(timedelta(minutes=1))
        await h.dispatcher.drain()

    assert (create.call_count, lookup.call_count, update.call_count) == (1, 1, 1)
    assert _body(update.calls[0].request) == {
        "incident": {"status": "investigating", "body": "Looking into it."}
    }
    assert h.incident(incident_id).external == {
        "statuspage_incident_id": "sp-made",
        "statuspage_status": "investigating",
    }
    [op] = h.ops(incident_id, effects.STATUSPAGE)
    assert op.state == "done"


async def test_unauthorized_fails_for_good(harness: Build) -> None:
    h = harness(**_statuspage_only())
    incident_id = h.declare("declare Orders slow sev3")
    h.run("statuspage investigating Looking into it.", incident_id)
    with respx.mock(assert_all_mocked=True) as mock:
        mock.post(INCIDENTS).respond(401, json={"error": "Could not authenticate"})
        await h.dispatcher.drain()

    [op] = h.ops(incident_id, effects.STATUSPAGE)
    assert op.state == "failed"
    [failed] = h.timeline(incident_id, "delivery_failed")
    assert failed.text == "Statuspage incident creation refused (HTTP 401)"
    assert h.incident(incident_id).external == {}


async def test_drills_never_reach_the_public_page(harness: Build) -> None:
    h = harness(**_statuspage_only())
    incident_id = h.run("drill default")
    h.run("statuspage investigating This is only a drill.", incident_id)
    with respx.mock(assert_all_mocked=True) as mock:
        await h.dispatcher.drain()
    assert not mock.calls
    [op] = h.ops(incident_id, effects.STATUSPAGE)
    assert op.result == {"skipped": "drills never reach the public status page"}


async def test_unconfigured_statuspage_is_skipped(harness: Build) -> None:
    h = harness(WARROOM_STATUSPAGE_API_KEY="key-without-a-page")
    incident_id = h.declare("declare Orders slow sev3")
    h.run("statuspage investigating Looking into it.", incident_id)
    with respx.mock(assert_all_mocked=True) as mock:
        await h.dispatcher.drain()
    assert not mock.calls
    [op] = h.ops(incident_id, effects.STATUSPAGE)
    assert (op.state, op.result) == ("done", {"skipped": "Statuspage is not configured"})
