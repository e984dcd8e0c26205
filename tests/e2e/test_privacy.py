"""A private incident keeps its title, channel and text to itself: nothing of it reaches the
broadcast channel (beyond, if so configured, that one was opened), the status page, or a
webhook receiver not marked private-ok. Statuspage: see tests/e2e/statuspage_fake.py."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from sqlalchemy import Engine

from tests.e2e.conftest import Service, serving
from tests.e2e.statuspage_fake import SETTINGS, FakeStatuspage
from tests.e2e.test_refusals import ops
from tests.support.server import wait_until

PUBLIC_HOOK = "https://hooks.public.test/in"
PRIVATE_HOOK = "https://hooks.security.test/in"
TITLE = "Leaked API key on GitHub"


def _incident(service: Service, incident_id: int) -> dict:
    answer = httpx.get(f"{service.url}/api/incidents/{incident_id}", headers=service.auth)
    return answer.json() if answer.status_code == 200 else {}


def _private(service: Service, channel: str, user: str) -> list[str]:
    shown = service.sandbox.messages(channel, ephemeral=True)
    return [m["text"] for m in shown if m.get("ephemeral_user") == user]


def _events(route: respx.Route) -> list[dict]:
    return [json.loads(call.request.content) for call in route.calls]


def _settled(service: Service, incident_id: int) -> bool:
    return not ops(service, incident_id, "pending") and not ops(service, incident_id, "running")


@pytest.mark.parametrize("announce", ["true", "false"], ids=["announced", "silent"])
def test_a_private_incident_reaches_no_public_surface(
    database: tuple[Engine, str], announce: str
) -> None:
    statuspage = FakeStatuspage()
    with respx.mock(assert_all_mocked=False, assert_all_called=False) as mock:
        mock.route(host="127.0.0.1").pass_through()
        statuspage.install(mock)
        public = mock.post(PUBLIC_HOOK).respond(200)
        private = mock.post(PRIVATE_HOOK).respond(200)
        with serving(
            database[1],
            WARROOM_WEBHOOKS=PUBLIC_HOOK,
            WARROOM_PRIVATE_WEBHOOKS=PRIVATE_HOOK,
            WARROOM_ANNOUNCE_PRIVATE=announce,
            **SETTINGS,
        ) as service:
            sandbox = service.sandbox
            alice = sandbox.as_user("alice")
            assert alice.command(f"/incident declare {TITLE} sev2 --private", "general")["ok"]
            channel = wait_until(lambda: _incident(service, 1).get("channel_id"), timeout=10)
            assert sandbox.channel(channel)["is_private"]
            wait_until(lambda: "U0ALICE" in sandbox.channel(channel)["members"], timeout=10)
            alice.command("/incident statuspage investigating We are looking into it", channel)
            refused = wait_until(
                lambda: [t for t in _private(service, channel, "U0ALICE") if "private" in t],
                timeout=10,
            )
            alice.command("/incident update Key revoked, rotating the rest", channel)
            alice.command("/incident resolve all keys rotated", channel)
            wait_until(
                lambda: "incident.resolved" in [e["event"] for e in _events(private)], timeout=15
            )
            wait_until(lambda: _settled(service, 1), timeout=15)
            broadcast = [m["text"] for m in sandbox.messages("incidents")]
            timeline = httpx.get(
                f"{service.url}/api/incidents/1/timeline", headers=service.auth
            ).json()["events"]

    assert refused == ["Incident #1 is private: nothing of it goes to the public status page"]
    # The broadcast channel hears that a private incident was opened, or nothing at all.
    assert broadcast == (["A private incident was opened."] if announce == "true" else [])
    assert statuspage.requests == []  # not even the resolve's follow-up
    assert public.calls.call_count == 0
    received = _events(private)
    assert [e["event"] for e in received][:1] == ["incident.opened"]
    assert received[0]["incident"]["title"] == TITLE
    assert received[0]["incident"]["private"] is True
    # The statuspage command was refused before it was recorded.
    assert not [e for e in timeline if e["kind"] == "statuspage"]


def test_the_declare_modal_opens_a_private_incident(service: Service) -> None:
    sandbox = service.sandbox
    alice = sandbox.as_user("alice")
    assert alice.command("/incident declare", "general")["ok"]
    wait_until(lambda: sandbox.open_views("alice"), timeout=10)
    answer = alice.submit_view({"title": TITLE, "severity": "sev2", "privacy": ["private"]})
    assert answer.get("response_action") != "errors", answer

    channel = wait_until(lambda: _incident(service, 1).get("channel_id"), timeout=10)
    assert sandbox.channel(channel)["is_private"]
    wait_until(lambda: sandbox.messages("incidents"), timeout=10)
    assert [m["text"] for m in sandbox.messages("incidents")] == ["A private incident was opened."]


def test_a_public_incident_is_still_announced_by_its_title(service: Service) -> None:
    sandbox = service.sandbox
    alice = sandbox.as_user("alice")
    assert alice.command("/incident declare", "general")["ok"]
    wait_until(lambda: sandbox.open_views("alice"), timeout=10)
    alice.submit_view({"title": "Margin calls stuck", "severity": "sev2"})

    channel = wait_until(lambda: _incident(service, 1).get("channel_id"), timeout=10)
    assert not sandbox.channel(channel)["is_private"]
    announced = wait_until(lambda: sandbox.messages("incidents"), timeout=10)
    assert "Margin calls stuck" in announced[0]["text"]
