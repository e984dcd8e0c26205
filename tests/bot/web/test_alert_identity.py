"""What an alert opens is named after the alert, kept apart per sender, and answered with
only what is known: titles, alert names and source in the API, group keys per cluster, and
the channel in the 202 once Slack created it.

grafana_docs_example.json is Grafana's documented webhook example (source in
tests/bot/alerts/payloads/README.md); alertmanager_firing.json is a version 4 notification.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.incidents.commands import parse_command
from bot.incidents.service import execute
from storage.models import Alert, Incident
from storage.unit_of_work import unit_of_work
from tests.bot.alerts.payloads import dump, load, raw
from tests.bot.web.conftest import Served


def _incident(web: Served, incident_id: int) -> dict[str, Any]:
    response = web.get(f"/api/incidents/{incident_id}")
    assert response.status_code == 200, response.text
    return response.json()


def _opened(web: Served, source: str, body: bytes) -> int:
    response = web.post(source, body)
    assert response.status_code == 202, response.text
    [ref] = response.json()["incidents"]
    return int(ref["id"])


def test_grafanas_documented_alert_opens_an_incident_named_after_it(web: Served) -> None:
    payload = load("grafana_docs_example.json")
    payload["alerts"] = payload["alerts"][:1]

    incident = _incident(web, _opened(web, "grafana", dump(payload)))

    assert incident["title"] == "High memory usage: This alert was triggered for zone us-1"
    assert (incident["source"], incident["alert_names"]) == ("grafana", ["High memory usage"])


def test_grafanas_documented_notification_of_two_alerts_says_so(web: Served) -> None:
    incident = _incident(web, _opened(web, "grafana", raw("grafana_docs_example.json")))

    assert incident["title"] == "High memory usage and 1 more"
    assert incident["alert_names"] == ["High memory usage", "High CPU usage"]
    assert [alert["title"] for alert in incident["alerts"]] == [
        "High memory usage: This alert was triggered for zone us-1",
        "High CPU usage: This alert was triggered for zone eu-1",
    ]


def test_a_group_of_distinct_alertnames_is_titled_by_the_first_and_how_many_more(
    web: Served,
) -> None:
    payload = load("alertmanager_firing.json")
    payload["commonLabels"] = {"cluster": "hk1"}
    payload["commonAnnotations"] = {}
    base = payload["alerts"][0]
    names = ["InstanceDown", "InstanceDown", "DiskFull", "HighLoad"]
    payload["alerts"] = [
        {
            **base,
            "labels": {"alertname": name, "instance": f"node-{n}"},
            "annotations": {"summary": f"{name} on node-{n}"},
            "fingerprint": f"{n:016x}",
        }
        for n, name in enumerate(names)
    ]

    incident_id = _opened(web, "alertmanager", dump(payload))
    # A later alert of the group joins under the title the incident opened with.
    payload["alerts"] = [
        {**payload["alerts"][0], "fingerprint": "ff", "labels": {"alertname": "X"}}
    ]
    web.post("alertmanager", dump(payload))

    incident = _incident(web, incident_id)
    assert incident["title"] == "InstanceDown and 2 more"
    assert incident["alert_names"] == ["InstanceDown", "DiskFull", "HighLoad", "X"]


def test_a_declared_incident_has_no_source_and_no_alert_names(web: Served) -> None:
    with unit_of_work(web.runtime.sessions) as uow:
        declare = parse_command("declare Checkout is slow sev2")
        execute(uow, web.runtime.domain, declare, incident=None, actor="U0ALICE")

    [item] = web.get("/api/incidents").json()["incidents"]
    assert (item["title"], item["source"], item["alert_names"]) == ("Checkout is slow", None, [])


def test_two_alertmanager_clusters_with_the_same_groupkey_open_two_incidents(
    web: Served,
) -> None:
    hk = load("alertmanager_firing.json")
    sg = {**hk, "externalURL": "http://alertmanager.sg.example.com:9093"}

    first = _opened(web, "alertmanager", dump(hk))
    second = _opened(web, "alertmanager", dump(sg))
    again = _opened(web, "alertmanager", dump(hk))

    assert first != second
    assert again == first


def test_an_incident_opened_before_group_keys_named_their_sender_is_joined_while_open(
    web: Served,
) -> None:
    # Before the upgrade the group key was Alertmanager's groupKey alone; a notification
    # without an externalURL is keyed exactly so.
    old = load("alertmanager_firing.json")
    del old["externalURL"]
    opened_before = _opened(web, "alertmanager", dump(old))
    with web.runtime.sessions() as session:
        incident = session.get(Incident, opened_before)
        assert incident is not None
        assert incident.grouping_key == f"alertmanager:{old['groupKey']}"

    after = _opened(web, "alertmanager", raw("alertmanager_firing.json"))

    assert after == opened_before
    with web.runtime.sessions() as session:
        assert len(session.scalars(select(Incident)).all()) == 1
        assert len(session.scalars(select(Alert)).all()) == 1


def test_a_group_resolved_before_the_upgrade_is_still_its_last_incident_for_refire(
    web: Served,
) -> None:
    old = load("alertmanager_firing.json")
    del old["externalURL"]
    resolved_before = _opened(web, "alertmanager", dump(old))
    with unit_of_work(web.runtime.sessions) as uow:
        incident = uow.session.get(Incident, resolved_before)
        resolve = parse_command("resolve Restarted")
        execute(uow, web.runtime.domain, resolve, incident=incident, actor="U0ALICE")

    # Within the playbook's refire_window: it joins the resolved incident, opens none.
    again = web.post("alertmanager", raw("alertmanager_firing.json")).json()

    assert [(ref["id"], ref["created"]) for ref in again["incidents"]] == [(resolved_before, False)]
    with web.runtime.sessions() as session:
        assert len(session.scalars(select(Incident)).all()) == 1


def test_the_202_names_the_channel_only_once_slack_created_it(web: Served) -> None:
    first = web.post("alertmanager", raw("alertmanager_firing.json")).json()
    [ref] = first["incidents"]
    assert (ref["channel_id"], ref["channel_name"], ref["channel_status"]) == (
        None,
        None,
        "pending",
    )
    # What the outbox stores once Slack created the channel: its name was taken, so `-2`.
    with web.runtime.sessions() as session:
        incident = session.get(Incident, ref["id"])
        assert incident is not None
        taken = incident.channel_name
        incident.channel_id, incident.channel_name = "C0INCIDENT2", f"{taken}-2"
        session.commit()

    again = web.post("alertmanager", raw("alertmanager_firing.json")).json()

    assert again["incidents"] == [
        {
            "id": ref["id"],
            "channel_id": "C0INCIDENT2",
            "channel_name": f"{taken}-2",
            "channel_status": "ready",
            "created": False,
        }
    ]


def test_the_openapi_schema_documents_the_channel_status(web: Served) -> None:
    schema = web.get("/openapi.json").json()["components"]["schemas"]

    ref = schema["IncidentRef"]["properties"]
    assert ref["channel_status"]["enum"] == ["pending", "ready"]
    assert "null until" in ref["channel_name"]["description"]
    summary = schema["IncidentSummary"]["properties"]
    assert {"source", "alert_names"} <= set(summary)
