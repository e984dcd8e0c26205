"""`GET /api/incidents/{id}` writes its alerts out in the database (a storm's incident has
tens of thousands): the same alerts, values and order as the ordinary read gives, and the
ordinary read where a stored value needs its repairs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine, text

from bot.web.api import incident_detail, stored_json
from storage.reads import NotRendered, alerts_json, read_session
from tests.bot.web.conftest import Served

LABELS = {
    "alertname": "OrderGateway5xx",
    "instance": 'gw-01:9100 "primary" \\ back\\slash',
    "team": "交易 — trading ✓",
    "emoji": "rocket 🚀",
    "tab": "a\tb\nc",
}


def _notification(count: int) -> dict[str, Any]:
    alerts = []
    for n in range(count):
        alert: dict[str, Any] = {
            "status": "firing",
            "labels": {**LABELS, "n": str(count - n)},  # fingerprints sort against arrival
            "annotations": {"summary": f"5xx on gateway {n} </script>", "empty": ""},
            "startsAt": "2021-03-10T17:56:00.123456+08:00"
            if n % 2
            else "2021-03-10T17:56:00+08:00",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": f"http://prometheus.example.com/graph?g0.expr=x&n={n}" if n % 3 else "",
            "fingerprint": f"{count - n:04d}",
        }
        alerts.append(alert)
    return {
        "version": "4",
        "groupKey": '{}:{alertname="OrderGateway5xx"}',
        "status": "firing",
        "receiver": "warroom",
        "groupLabels": {"alertname": "OrderGateway5xx"},
        "commonLabels": {"alertname": "OrderGateway5xx"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.com",
        "alerts": alerts,
    }


def _ordinary(web: Served, incident_id: int) -> dict[str, Any]:
    """The detail as the ordinary read answers it (its text repaired as the answer's is)."""
    with read_session(web.runtime.sessions) as session:
        detail = incident_detail(session, incident_id).model_dump(mode="json")
    return dict(json.loads(stored_json(detail)))


def test_the_alerts_written_by_the_database_are_the_ordinary_reads(web: Served) -> None:
    answer = web.post("alertmanager", json.dumps(_notification(40)).encode())
    incident_id = answer.json()["incidents"][0]["id"]
    # One of them resolved since: an end time, and the status it has now.
    resolved = _notification(40)
    resolved["alerts"] = [{**resolved["alerts"][5], "status": "resolved"}]
    resolved["alerts"][0]["endsAt"] = "2021-03-10T18:20:00.5+08:00"
    resolved["status"] = "resolved"
    web.post("alertmanager", json.dumps(resolved).encode())

    detail = web.get(f"/api/incidents/{incident_id}")

    assert detail.status_code == 200
    assert detail.headers["content-type"] == "application/json"
    shown = detail.json()
    assert shown == _ordinary(web, incident_id)
    assert [alert["fingerprint"] for alert in shown["alerts"]] == [
        f"{40 - n:04d}" for n in range(40)
    ]
    assert shown["alerts"][5]["ends_at"] == "2021-03-10T10:20:00.500000Z"
    assert shown["alerts"][1]["starts_at"] == "2021-03-10T09:56:00.123456Z"
    assert shown["alerts"][0]["starts_at"] == "2021-03-10T09:56:00Z"
    # Written by the database, not by the ordinary read's fallback.
    assert json.loads(f"[{_written(web, incident_id)}]") == shown["alerts"]


def _written(web: Served, incident_id: int) -> str:
    with read_session(web.runtime.sessions) as session:
        return alerts_json(connection=session.connection(), incident_id=incident_id)


def test_an_incident_without_alerts_and_a_missing_one(web: Served) -> None:
    declared = web.post("generic", json.dumps({"title": "Spot trading errors"}).encode())
    incident_id = declared.json()["incidents"][0]["id"]
    with web.runtime.engine.begin() as connection:
        connection.execute(text("DELETE FROM alerts WHERE incident_id = :i"), {"i": incident_id})

    assert web.get(f"/api/incidents/{incident_id}").json()["alerts"] == []
    missing = web.get("/api/incidents/999999")
    assert missing.status_code == 404 and "error" in missing.json()


# Written by hand or by an older warroom: a time not in SQLAlchemy's form, a lone surrogate
# kept in a JSON column; each shown as the ordinary read shows it.
ODD = {
    "hand-written time": (
        "UPDATE alerts SET starts_at = '2021-03-10T09:56:00' WHERE fingerprint = '0002'",
        ("starts_at", "2021-03-10T09:56:00Z"),
    ),
    "lone surrogate": (
        """UPDATE alerts SET labels = '{"alertname": "bad \\udc80 text"}'"""
        " WHERE fingerprint = '0002'",
        ("labels", {"alertname": "bad \ufffd text"}),
    ),
}


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
@pytest.mark.parametrize("odd", list(ODD))
def test_stored_values_it_cannot_write_go_the_ordinary_way(
    web: Served, database: tuple[Engine, str], odd: str
) -> None:
    answer = web.post("alertmanager", json.dumps(_notification(3)).encode())
    incident_id = answer.json()["incidents"][0]["id"]
    statement, (field, shown_as) = ODD[odd]
    with database[0].begin() as connection:
        connection.execute(text(statement))

    shown = web.get(f"/api/incidents/{incident_id}").json()

    with pytest.raises(NotRendered):
        _written(web, incident_id)
    assert shown == _ordinary(web, incident_id)
    assert shown["alerts"][1][field] == shown_as
