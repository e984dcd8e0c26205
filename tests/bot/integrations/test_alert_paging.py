"""A critical alert, posted as its sender posts it, opens a sev1 incident that pages.

Over real HTTP to `POST /alerts/{source}`, then through the real outbox and dispatcher to
the PagerDuty Events API (respx). alertmanager_firing.json carries `severity: critical` in
the shape of Alertmanager's webhook version 4 (see tests/bot/alerts/payloads); the default
playbook, which every one of these alerts falls to, says `severity: sev3`; PagerDuty's
incident is P1 with high urgency.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import respx
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.composition.runtime import Runtime
from bot.incidents import effects
from bot.incidents.context import Domain
from tests.bot.alerts.payloads import dump, load, raw
from tests.bot.integrations.conftest import PD_KEY, PD_URL, Build
from tests.bot.web.conftest import BEARER, make_settings, web_app
from tests.support.server import run_app_in_thread


@pytest.fixture
def alerts_url(
    database: tuple[Engine, str], sessions: sessionmaker[Session], domain: Domain
) -> Iterator[str]:
    """The alert route on the harness's database; the harness's dispatcher does the rest."""
    engine, url = database
    runtime = Runtime(make_settings(url), engine, sessions, domain)
    runtime.wake_dispatcher = lambda: None
    with run_app_in_thread(web_app(runtime)) as base:
        yield base


def _generic_without_severity() -> bytes:
    body = load("generic_firing.json")
    del body["severity"]
    return dump(body)


@pytest.mark.parametrize(
    ("source", "body", "severity", "pd_severity"),
    [
        pytest.param("alertmanager", raw("alertmanager_firing.json"), "sev1", "critical"),
        # PagerDuty's documented V3 incident (P1, high urgency); see payloads/pagerduty_v3.
        pytest.param("pagerduty", raw("pagerduty_v3/triggered.json"), "sev1", "critical"),
        pytest.param("generic", raw("generic_firing.json"), "sev1", "critical"),
        pytest.param(
            "generic",
            dump({**load("generic_firing.json"), "severity": "sev2"}),
            "sev2",
            "error",
            id="generic-sev2",
        ),
        pytest.param("generic", _generic_without_severity(), "sev3", None, id="generic-silent"),
    ],
)
async def test_the_alerts_own_severity_opens_the_incident_and_pages(
    harness: Build, alerts_url: str, source: str, body: bytes, severity: str, pd_severity: str
) -> None:
    h = harness(WARROOM_PAGERDUTY_ROUTING_KEY=PD_KEY, WARROOM_PAGERDUTY_URL=PD_URL)
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{alerts_url}/alerts/{source}", content=body, headers=BEARER)
    assert response.status_code == 202, response.text
    [ref] = response.json()["incidents"]

    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        route = mock.post(PD_URL).respond(202, json={"status": "success"})
        await h.dispatcher.drain()

    assert h.incident(ref["id"]).severity == severity
    if pd_severity is None:  # the playbook's sev3 default: nobody is paged
        assert route.call_count == 0
        assert h.ops(ref["id"], effects.PAGE) == []
        return
    [call] = route.calls
    sent = json.loads(call.request.content)
    assert (sent["event_action"], sent["dedup_key"]) == ("trigger", f"warroom-{ref['id']}")
    assert sent["payload"]["severity"] == pd_severity
    assert sent["payload"]["summary"].startswith(f"[{severity.upper()}] Incident #{ref['id']}:")
    [op] = h.ops(ref["id"], effects.PAGE)
    assert op.state == "done"
