"""`POST /alerts/{source}` over real HTTP: what is stored, what is answered, what is refused."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import select

from bot.composition.runtime import Runtime
from bot.web.body import MAX_BODY, MIB
from storage.db import make_engine, make_sessionmaker
from storage.models import Alert, Delivery, Incident, TimelineEvent
from tests.bot.alerts.payloads import alertmanager_group, dump, load, raw
from tests.bot.web.conftest import (
    BEARER,
    FIRING,
    RESOLVED,
    SOURCES,
    Served,
    make_settings,
    pagerduty_signature,
    web_app,
)
from tests.support.server import run_app_in_thread

TITLES = {
    "alertmanager": "MatchingEngineErrors: API error 30030: matching engine upgrade in progress",
    "grafana": "OrderLatencyHigh: p99 order latency above 250 ms",
    "pagerduty": "Matching engine returning error 30030",
    "datadog": "Host is Down",
    "opsgenie": "test alert",
    "generic": "Margin liquidation queue stalled",
}
NOTHING = {"incidents": 0, "alerts": 0, "timeline": 0, "outbox": 0, "deliveries": 0}


@pytest.mark.parametrize("source", SOURCES)
def test_firing_notification_opens_an_incident_and_answers_after_commit(
    web: Served, source: str
) -> None:
    response = web.post(source, raw(FIRING[source]))

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["alerts"] == 1
    [ref] = body["incidents"]
    assert ref["created"] is True
    assert ref["channel_id"] is None  # the outbox dispatcher creates the channel later
    with web.runtime.sessions() as session:
        incident = session.get(Incident, ref["id"])
        assert incident is not None
        assert (incident.title, incident.status) == (TITLES[source], "investigating")
        # Slack may give the channel another name (`-2`): none is promised before it exists.
        assert (ref["channel_name"], ref["channel_status"]) == (None, "pending")
        [alert] = session.scalars(select(Alert)).all()
        assert (alert.source, alert.incident_id, alert.seen_count) == (source, incident.id, 1)
        texts = session.scalars(
            select(TimelineEvent.text).where(TimelineEvent.incident_id == incident.id)
        ).all()
    assert f"Alert firing: {TITLES[source]}" in texts
    assert web.counts()["outbox"] > 0
    # The dispatcher is woken once, and by then the incident is committed.
    assert web.wakes == [1]


@pytest.mark.parametrize("source", SOURCES)
def test_resolved_notification_is_a_timeline_entry_and_leaves_the_incident_open(
    web: Served, source: str
) -> None:
    opened = web.post(source, raw(FIRING[source])).json()["incidents"][0]

    response = web.post(source, raw(RESOLVED[source]))

    assert response.status_code == 202, response.text
    assert response.json()["incidents"] == [{**opened, "created": False}]
    with web.runtime.sessions() as session:
        incident = session.get(Incident, opened["id"])
        assert incident is not None and incident.status == "investigating"
        alert = session.scalars(select(Alert)).one()
        assert alert.status == "resolved"
        texts = session.scalars(select(TimelineEvent.text)).all()
    assert f"Alert resolved: {TITLES[source]}" in texts


def test_resolved_notification_without_an_open_incident_opens_nothing(web: Served) -> None:
    response = web.post("alertmanager", raw("alertmanager_resolved.json"))

    assert (response.status_code, response.json()) == (202, {"incidents": [], "alerts": 1})
    assert web.counts() == NOTHING


def test_same_alertmanager_notification_twice_opens_nothing_new(web: Served) -> None:
    first = web.post("alertmanager", raw(FIRING["alertmanager"])).json()
    before = web.counts()

    second = web.post("alertmanager", raw(FIRING["alertmanager"]))

    assert second.status_code == 202
    assert second.json() == {
        "incidents": [{**first["incidents"][0], "created": False}],
        "alerts": 1,
    }
    after = web.counts()
    assert (after["incidents"], after["alerts"], after["timeline"]) == (
        before["incidents"],
        before["alerts"],
        before["timeline"],
    )
    with web.runtime.sessions() as session:
        assert session.scalars(select(Alert.seen_count)).one() == 2


def test_one_notification_touching_several_incidents_lists_each_once_in_order(
    web: Served,
) -> None:
    # Without a groupKey, each Grafana alert instance is its own group (bundled playbooks
    # have no group_by for these labels); the third repeats the first.
    payload = load("grafana_firing.json")
    payload.pop("groupKey", None)
    first = payload["alerts"][0]
    second = {**first, "fingerprint": "00000000000000b2", "labels": {**first["labels"], "n": "2"}}
    payload["alerts"] = [first, second, first]

    response = web.post("grafana", dump(payload))

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["alerts"] == 3
    assert [ref["created"] for ref in body["incidents"]] == [True, True]
    assert body["incidents"][0]["id"] < body["incidents"][1]["id"]
    counts = web.counts()
    assert (counts["incidents"], counts["alerts"]) == (2, 2)
    with web.runtime.sessions() as session:
        assert sorted(session.scalars(select(Alert.seen_count))) == [1, 2]


def test_channel_mention_in_a_label_is_stored_verbatim(web: Served) -> None:
    ref = web.post("generic", raw("generic_firing.json")).json()["incidents"][0]

    with web.runtime.sessions() as session:
        alert = session.scalars(select(Alert)).one()
    assert alert.labels["owner"] == "<!channel> please look"
    detail = web.get(f"/api/incidents/{ref['id']}").json()
    assert detail["alerts"][0]["labels"]["owner"] == "<!channel> please look"


def test_pagerduty_event_about_something_else_stores_no_incident(web: Served) -> None:
    # PagerDuty's documented `service.updated` example (pagerduty_v3/README.md).
    response = web.post("pagerduty", raw("pagerduty_v3/service_updated.json"))

    assert (response.status_code, response.json()) == (202, {"incidents": [], "alerts": 0})
    assert web.counts() == NOTHING


PAGERDUTY_EVENT_ID = "01BZNKQ4PJ6C3Z0GYB5SCK4M6T"  # event.id of pagerduty_triggered.json


def test_pagerduty_delivery_retried_is_answered_alike_and_stored_once(web: Served) -> None:
    first = web.post("pagerduty", raw(FIRING["pagerduty"]))
    stored = web.counts()

    again = web.post("pagerduty", raw(FIRING["pagerduty"]))

    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert first.json()["incidents"][0]["created"] is True
    assert web.counts() == stored
    assert stored["incidents"] == 1 and stored["deliveries"] == 1
    with web.runtime.sessions() as session:
        assert session.scalars(select(Alert.seen_count)).one() == 1
        delivery = session.scalars(select(Delivery)).one()
    assert (delivery.source, delivery.delivery_id) == ("pagerduty", PAGERDUTY_EVENT_ID)
    assert web.wakes == [1]  # the repeat woke nothing: it wrote nothing


def test_pagerduty_delivery_replayed_under_a_new_webhook_id_reopens_nothing(web: Served) -> None:
    # X-Webhook-Id is not signed; event.id is (it is in the body). A captured "triggered"
    # delivery replayed after the incident resolved must not make the alert fire again.
    def signed(body: bytes, webhook_id: str) -> dict[str, str]:
        return {"X-PagerDuty-Signature": pagerduty_signature(body), "X-Webhook-Id": webhook_id}

    triggered, resolved = raw(FIRING["pagerduty"]), raw(RESOLVED["pagerduty"])
    first = web.post("pagerduty", triggered, signed(triggered, "delivery-1"))
    assert web.post("pagerduty", resolved, signed(resolved, "delivery-2")).status_code == 202
    stored = web.counts()

    replay = web.post("pagerduty", triggered, signed(triggered, "delivery-3-forged"))

    assert replay.status_code == 202
    assert replay.json() == first.json()
    assert web.counts() == stored
    with web.runtime.sessions() as session:
        alert = session.scalars(select(Alert)).one()
        texts = session.scalars(select(TimelineEvent.text)).all()
    assert (alert.status, alert.seen_count) == ("resolved", 1)
    assert not [text for text in texts if text.startswith("Alert firing again")]


def test_pagerduty_delivery_retried_concurrently_is_stored_once(web: Served) -> None:
    with ThreadPoolExecutor(8) as pool:
        responses = list(
            pool.map(lambda _: web.post("pagerduty", raw(FIRING["pagerduty"])), range(8))
        )

    assert {r.status_code for r in responses} == {202}
    assert len({r.text for r in responses}) == 1
    counts = web.counts()
    assert (counts["incidents"], counts["alerts"], counts["deliveries"]) == (1, 1, 1)


@pytest.mark.parametrize(
    ("source", "body", "status", "error"),
    [
        pytest.param("alertmanager", b'{"alerts": [', 400, "body is not JSON", id="malformed"),
        pytest.param("generic", b"\xff\xfe{}", 400, "body is not UTF-8", id="not-utf8"),
        pytest.param("alertmanager", b'{"alerts": "x"}', 422, "does not fit", id="wrong-shape"),
        pytest.param("grafana", b"[]", 422, "does not fit", id="not-an-object"),
        pytest.param("nagios", b"{}", 404, "unknown alert source 'nagios'", id="unknown-source"),
    ],
)
def test_bad_requests_answer_json_and_store_nothing(
    web: Served, source: str, body: bytes, status: int, error: str
) -> None:
    response = web.post(source, body)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert error in response.json()["error"]
    assert web.counts() == NOTHING
    assert web.wakes == []


def test_wrong_shape_names_each_mistake(web: Served) -> None:
    payload = load("alertmanager_firing.json")
    payload["alerts"][0]["startsAt"] = "yesterday"
    del payload["alerts"][0]["labels"]

    response = web.post("alertmanager", dump(payload))

    assert response.status_code == 422
    details = response.json()["details"]
    assert any(line.startswith("alerts.0.startsAt") for line in details)
    assert any(line.startswith("alerts.0.labels") for line in details)


def _padded(size: int) -> bytes:
    """A valid generic alert body of exactly `size` bytes."""
    payload = load("generic_firing.json")
    payload["annotations"]["padding"] = ""
    base = len(dump(payload))
    payload["annotations"]["padding"] = "x" * (size - base)
    body = dump(payload)
    assert len(body) == size
    return body


CAP = 2 * MIB  # WARROOM_MAX_ALERT_BODY for the tests below: over the 1 MiB of other routes


def test_default_alert_body_cap_is_16_mib(tmp_path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'w.db'}")
    assert settings.max_alert_body == 16 * MIB


def test_body_of_exactly_the_alert_cap_is_accepted(serve) -> None:
    web = serve(slack=True, WARROOM_MAX_ALERT_BODY=str(CAP))
    assert web.post("generic", _padded(CAP)).status_code == 202


def test_body_over_the_alert_cap_is_refused_by_its_content_length(serve) -> None:
    web = serve(slack=True, WARROOM_MAX_ALERT_BODY=str(CAP))
    response = web.post("generic", _padded(CAP + 1))

    assert response.status_code == 413
    assert response.json() == {"error": "body larger than 2097152 bytes (2 MiB) refused"}
    assert web.counts() == NOTHING


def test_chunked_body_over_the_alert_cap_is_refused_while_streaming(serve) -> None:
    web = serve(slack=True, WARROOM_MAX_ALERT_BODY=str(CAP))
    body = _padded(CAP + 1)

    def chunks():
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    try:
        response = web.post("generic", chunks())
    except httpx.TransportError:
        # The server may answer and close before the client has sent everything.
        response = None
    if response is not None:
        assert "content-length" not in response.request.headers
        assert response.status_code == 413
        assert "2 MiB" in response.json()["error"]
    assert web.counts() == NOTHING


def test_a_2500_alert_alertmanager_group_is_stored_whole(web: Served) -> None:
    """A node-down storm under `max_alerts: 0`: one 1.8 MB body, every alert kept."""
    body = alertmanager_group(2500)
    assert len(body) > MAX_BODY

    response = web.post("alertmanager", body)

    assert response.status_code == 202, response.text
    assert response.json()["alerts"] == 2500
    [ref] = response.json()["incidents"]
    assert ref["created"] is True
    counts = web.counts()
    assert (counts["incidents"], counts["alerts"]) == (1, 2500)
    detail = web.get(f"/api/incidents/{ref['id']}").json()
    assert len(detail["alerts"]) == 2500
    instances = {alert["labels"]["instance"] for alert in detail["alerts"]}
    assert "node-02499.hk.example.com:9100" in instances


def test_chunked_body_under_the_cap_is_accepted(web: Served) -> None:
    body = raw("generic_firing.json")
    response = web.post("generic", iter([body[:10], body[10:]]))

    assert "content-length" not in response.request.headers
    assert response.status_code == 202


def test_database_unavailable_answers_503_without_details(tmp_path, domain) -> None:
    url = f"sqlite:///{tmp_path / 'missing' / 'warroom.db'}"
    engine = make_engine(url)
    runtime = Runtime(make_settings(url, slack=True), engine, make_sessionmaker(engine), domain)
    try:
        with run_app_in_thread(web_app(runtime)) as base:
            response = httpx.post(
                f"{base}/alerts/alertmanager",
                content=raw(FIRING["alertmanager"]),
                headers=BEARER,
            )
            listing = httpx.get(f"{base}/api/incidents", headers=BEARER)
    finally:
        engine.dispose()
    assert (response.status_code, response.json()) == (503, {"error": "database unavailable"})
    assert (listing.status_code, listing.json()) == (503, {"error": "database unavailable"})
    assert "Traceback" not in response.text + listing.text


def test_openapi_documents_the_alert_route(web: Served) -> None:
    schema = httpx.get(f"{web.base}/openapi.json").json()
    operation = schema["paths"]["/alerts/{source}"]["post"]
    assert {"202", "400", "401", "404", "413", "422", "503"} <= set(operation["responses"])
    accepted = json.dumps(operation["responses"]["202"])
    assert "Accepted" in accepted
