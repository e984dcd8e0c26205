"""Alerts through the running service and the sandbox: a critical alert opens a sev1
incident and pages; channel names keep the title in any script; the 202 names a channel
only once Slack created it.

alertmanager_firing.json is a version 4 notification carrying `severity: critical`; it
falls to the trading-engine-outage playbook, whose `severity: sev1` is only its default,
so the test also sends it as `warning` (sev3: no page).
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import Engine

from bot.incidents import effects
from tests.bot.alerts.payloads import load
from tests.e2e.conftest import Service, serving
from tests.e2e.test_refusals import generic, ops
from tests.support.server import wait_until

PD_URL = "https://events.pagerduty.test/v2/enqueue"
PD_KEY = "R0UTINGKEY0123456789ABCDEFGHIJKL"


def _post(service: Service, source: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(f"{service.url}/alerts/{source}", json=body, headers=service.auth)
    assert answer.status_code == 202, answer.text
    return answer.json()


def _channel(service: Service, incident_id: int) -> dict[str, Any]:
    def created() -> str | None:
        url = f"{service.url}/api/incidents/{incident_id}"
        return httpx.get(url, headers=service.auth).json()["channel_id"]

    return service.sandbox.channel(wait_until(created, timeout=15))


def test_a_critical_alertmanager_alert_opens_a_sev1_incident_and_pages(
    database: tuple[Engine, str],
) -> None:
    critical = load("alertmanager_firing.json")
    warning = json.loads(json.dumps(critical).replace('"critical"', '"warning"'))
    warning["groupKey"] = '{}:{alertname="MatchingEngineErrors", level="warning"}'
    with respx.mock(assert_all_mocked=False, assert_all_called=False) as mock:
        mock.route(host="127.0.0.1").pass_through()
        page = mock.post(PD_URL).respond(202, json={"status": "success"})
        with serving(
            database[1], WARROOM_PAGERDUTY_ROUTING_KEY=PD_KEY, WARROOM_PAGERDUTY_URL=PD_URL
        ) as service:
            [paged] = _post(service, "alertmanager", critical)["incidents"]
            [quiet] = _post(service, "alertmanager", warning)["incidents"]
            wait_until(lambda: ops(service, paged["id"], "done"), timeout=15)
            wait_until(lambda: page.call_count == 1, timeout=15)
            incidents = {
                i["id"]: i
                for i in httpx.get(f"{service.url}/api/incidents", headers=service.auth).json()[
                    "incidents"
                ]
            }
            quiet_pages = [
                op for op in ops(service, quiet["id"], "done") if op.kind == effects.PAGE
            ]

    assert (incidents[paged["id"]]["severity"], incidents[quiet["id"]]["severity"]) == (
        "sev1",
        "sev3",
    )
    assert incidents[paged["id"]]["playbook"] == "trading-engine-outage"
    sent = json.loads(page.calls[0].request.content)
    assert (sent["event_action"], sent["payload"]["severity"]) == ("trigger", "critical")
    assert sent["dedup_key"] == f"warroom-{paged['id']}"
    assert quiet_pages == []


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("決済が止まった", "決済が止まった"),
        ("Ошибка базы: Реплика", "ошибка-базы-реплика"),
        ("🔥🔥", "fire"),
    ],
    ids=["japanese", "cyrillic", "emoji"],
)
def test_channel_names_keep_the_title_in_any_script(
    service: Service, title: str, slug: str
) -> None:
    [ref] = _post(service, "generic", generic(title, "any", "g1"))["incidents"]

    assert re.fullmatch(rf"inc-\d{{8}}-{slug}", _channel(service, ref["id"])["name"])


def test_the_202_names_the_channel_slack_gave_once_it_exists(service: Service) -> None:
    first = _post(service, "generic", generic("Quotes stale", "quotes", "q1"))["incidents"][0]
    _channel(service, first["id"])
    second = _post(service, "generic", generic("Quotes stale", "quotes", "q2"))["incidents"][0]
    assert (second["channel_id"], second["channel_name"], second["channel_status"]) == (
        None,
        None,
        "pending",
    )
    taken = _channel(service, second["id"])

    again = _post(service, "generic", generic("Quotes stale", "quotes", "q2"))["incidents"][0]

    assert taken["name"].endswith("-2")
    assert (again["channel_id"], again["channel_name"], again["channel_status"]) == (
        taken["id"],
        taken["name"],
        "ready",
    )
