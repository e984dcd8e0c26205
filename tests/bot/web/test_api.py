"""`/api/incidents...` over real HTTP: the shapes a dashboard reads, and JSON errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.incidents.clock import SimulatedClock
from bot.incidents.commands import parse_command
from bot.incidents.service import execute
from storage.models import Incident
from storage.unit_of_work import unit_of_work
from tests.bot.alerts.payloads import raw
from tests.bot.web.conftest import FIRING, Served

STARTED = "2021-03-10T09:56:00"  # 17:56 HKT, the alert's startsAt


def utc(text: str | None) -> datetime | None:
    """Parse an API timestamp, insisting it says UTC (Z or +00:00)."""
    if text is None:
        return None
    assert text.endswith(("Z", "+00:00")), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def run(served: Served, text: str, incident_id: int, actor: str = "U0ALICE") -> None:
    """Run `/incident <text>` in the incident's channel, as Slack would, and commit."""
    runtime = served.runtime
    with unit_of_work(runtime.sessions) as uow:
        incident = uow.session.get(Incident, incident_id)
        execute(uow, runtime.domain, parse_command(text), incident=incident, actor=actor)


@pytest.fixture
def opened(web: Served, clock: SimulatedClock) -> tuple[Served, int]:
    """The reference incident: opened by the Alertmanager alert, then worked on."""
    incident_id = web.post("alertmanager", raw(FIRING["alertmanager"])).json()["incidents"][0]["id"]
    clock.advance(timedelta(minutes=1))
    run(web, "ack", incident_id)
    run(web, "role comms <@U0BOB>", incident_id)
    run(web, "task done 1", incident_id)
    clock.advance(timedelta(minutes=8))
    run(web, "impact Spot and margin trading intermittently down", incident_id)
    run(web, "cause Internal dependency of the matching engine failed", incident_id)
    run(web, "log 17:58 API users report error 30030", incident_id, actor="U0BOB")
    run(web, "action Multi-region redundancy for the dependency <@U0CAROL>", incident_id)
    return web, incident_id


def test_list_shape_and_started_at_from_the_alert(opened: tuple[Served, int]) -> None:
    web, incident_id = opened

    response = web.get("/api/incidents")

    assert response.status_code == 200
    [item] = response.json()["incidents"]
    assert set(item) == {
        "id",
        "title",
        "severity",
        "status",
        "playbook",
        "channel_id",
        "channel_name",
        "opened_at",
        "started_at",
        "resolved_at",
        "drill",
        "recurrence_of",
        "source",
        "alert_names",
    }
    assert item["id"] == incident_id
    assert item["drill"] is False
    assert item["recurrence_of"] is None  # the group's first incident
    assert item["title"] == (
        "MatchingEngineErrors: API error 30030: matching engine upgrade in progress"
    )
    assert (item["source"], item["alert_names"]) == ("alertmanager", ["MatchingEngineErrors"])
    assert (item["severity"], item["status"]) == ("sev1", "investigating")
    assert item["playbook"] == "trading-engine-outage"
    assert item["channel_name"].startswith("inc-20210310-")
    assert utc(item["started_at"]) == datetime.fromisoformat(STARTED + "+00:00")
    assert utc(item["opened_at"]) == datetime.fromisoformat(STARTED + "+00:00")
    assert item["resolved_at"] is None


def test_list_is_newest_first_and_filters_by_status(
    opened: tuple[Served, int], clock: SimulatedClock
) -> None:
    web, first = opened
    clock.advance(timedelta(minutes=5))
    second = web.post("generic", raw(FIRING["generic"])).json()["incidents"][0]["id"]
    clock.advance(timedelta(minutes=5))
    run(web, "resolve Service restored", first)

    def ids(query: str = "") -> list[int]:
        response = web.get(f"/api/incidents{query}")
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["incidents"]]

    assert ids() == [second, first]
    assert ids("?status=open") == [second]
    assert ids("?status=resolved") == [first]
    assert ids("?status=investigating") == [second]
    assert ids("?status=monitoring") == []
    assert ids("?limit=1") == [second]
    resolved = web.get("/api/incidents?status=resolved").json()["incidents"][0]
    assert utc(resolved["resolved_at"]) == clock.now()


def test_unknown_status_filter_is_a_json_422(web: Served) -> None:
    response = web.get("/api/incidents?status=closed")

    assert response.status_code == 422
    assert response.json() == {
        "error": "status: 'closed' is not one of: open, investigating, identified, monitoring, "
        "resolved ('open' = not resolved)",
        "parameter": "status",
    }


def test_detail_shape(opened: tuple[Served, int], catalog) -> None:
    web, incident_id = opened

    response = web.get(f"/api/incidents/{incident_id}")

    assert response.status_code == 200
    detail = response.json()
    listed = web.get("/api/incidents").json()["incidents"][0]
    assert {key: detail[key] for key in listed} == listed
    assert detail["impact"] == "Spot and margin trading intermittently down"
    assert detail["cause"] == "Internal dependency of the matching engine failed"
    assert detail["drill"] is False
    assert detail["roles"]["comms"] == "U0BOB"

    milestones = detail["milestones"]
    assert {"started", "detected", "declared", "acknowledged"} <= set(milestones)
    started = milestones["started"]
    assert (started["source"], started["actor"], started["history"]) == ("alert", None, [])
    assert utc(started["at"]) == datetime(2021, 3, 10, 9, 56, tzinfo=UTC)
    assert milestones["acknowledged"]["actor"] == "U0ALICE"

    stage = detail["stage"]
    assert (stage["id"], stage["title"]) == ("respond", "Emergency response")
    tasks = catalog.get("trading-engine-outage").stage("respond").tasks
    assert stage["tasks"] == [
        {"n": n, "text": task.text, "done": n == 1} for n, task in enumerate(tasks, 1)
    ]

    [alert] = detail["alerts"]
    assert alert["source"] == "alertmanager"
    assert alert["fingerprint"] == "5b1c7e9d2a4f8e03"
    assert (alert["status"], alert["seen_count"], alert["ends_at"]) == ("firing", 1, None)
    assert alert["labels"]["service"] == "matching-engine"
    assert alert["annotations"]["runbook_url"].startswith("https://runbooks.example.com/")
    assert utc(alert["starts_at"]) == datetime(2021, 3, 10, 9, 56, tzinfo=UTC)
    assert alert["url"].startswith("http://prometheus.example.com:9090/")

    [item] = detail["action_items"]
    assert item["text"] == "Multi-region redundancy for the dependency"
    # A sev1 of Wednesday 2021-03-10: due 5 business days later.
    assert (item["owner"], item["status"], item["due"]) == ("U0CAROL", "open", "2021-03-17")


def test_milestone_edits_keep_their_history(opened: tuple[Served, int]) -> None:
    web, incident_id = opened
    run(web, "time identified 18:05", incident_id)
    run(web, "time identified 18:04", incident_id)

    identified = web.get(f"/api/incidents/{incident_id}").json()["milestones"]["identified"]

    assert utc(identified["at"]) == datetime(2021, 3, 10, 10, 4, tzinfo=UTC)
    [edit] = identified["history"]
    assert utc(edit["at"]) == datetime(2021, 3, 10, 10, 5, tzinfo=UTC)


def test_timeline_in_the_order_things_happened(opened: tuple[Served, int]) -> None:
    web, incident_id = opened

    response = web.get(f"/api/incidents/{incident_id}/timeline")

    assert response.status_code == 200
    events = response.json()["events"]
    assert all(set(event) == {"at", "kind", "actor", "text", "source"} for event in events)
    times = [utc(event["at"]) for event in events]
    assert times == sorted(times)
    alert = next(e for e in events if e["kind"] == "alert")
    assert (alert["text"], alert["source"], alert["actor"]) == (
        "Alert firing: MatchingEngineErrors: API error 30030: matching engine upgrade in progress",
        "alert",
        None,
    )
    assert utc(alert["at"]) == datetime(2021, 3, 10, 9, 56, tzinfo=UTC)
    # `log 17:58` was typed at 18:05 HKT but sits at 17:58, before the impact note.
    kinds = [e["kind"] for e in events]
    logged = next(i for i, e in enumerate(events) if "error 30030" in e["text"] and e["actor"])
    assert utc(events[logged]["at"]) == datetime(2021, 3, 10, 9, 58, tzinfo=UTC)
    assert events[logged]["actor"] == "U0BOB"
    assert logged < kinds.index("impact")


@pytest.mark.parametrize("path", ["/api/incidents/999", "/api/incidents/999/timeline"])
def test_unknown_incident_is_a_json_404(web: Served, path: str) -> None:
    response = web.get(path)

    assert (response.status_code, response.json()) == (404, {"error": "no incident #999"})


def test_non_numeric_id_is_a_json_422(web: Served) -> None:
    response = web.get("/api/incidents/abc")

    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid request"
    assert any(line.startswith("path.incident_id") for line in body["details"])


def test_openapi_schema_names_the_response_models(web: Served) -> None:
    schema = web.get("/openapi.json", {}).json()
    paths = schema["paths"]
    assert {"/api/incidents", "/api/incidents/{incident_id}"} <= set(paths)
    ok = paths["/api/incidents/{incident_id}"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["$ref"].endswith("/IncidentDetail")
    detail = schema["components"]["schemas"]["IncidentDetail"]["properties"]
    assert {"milestones", "stage", "roles", "alerts", "action_items"} <= set(detail)
    assert "404" in paths["/api/incidents/{incident_id}/timeline"]["get"]["responses"]


def test_the_service_app_serves_these_routes(make_runtime) -> None:
    from bot.composition.app import create_app

    app = create_app(make_runtime(token=None, slack=False), public_url="http://127.0.0.1:1")
    paths = set(app.openapi()["paths"])
    assert {
        "/alerts/{source}",
        "/api/incidents",
        "/api/incidents/{incident_id}",
        "/api/incidents/{incident_id}/timeline",
    } <= paths
