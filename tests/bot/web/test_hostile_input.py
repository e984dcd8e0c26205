"""Broken strings, huge keys and extreme dates through `POST /alerts/{source}` over real HTTP.

The bodies start from each source's documented example payload (tests/bot/alerts/payloads)
and are sent as a JSON encoder sends them: `json.dumps` writes a lone surrogate as the
escape `\\ud83d`, exactly what a JavaScript sender cutting a string inside an emoji emits.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from storage.models import Alert, Incident
from tests.bot.alerts.payloads import load, set_path
from tests.bot.web.conftest import FIRING, SOURCES, Served

NOTHING = {"incidents": 0, "alerts": 0, "timeline": 0, "outbox": 0, "deliveries": 0}
CUT_EMOJI = " \ud83d|\udd25"  # both halves of 🔥 (U+1F525), each on its own
CUT_SHOWN = " \ufffd|\ufffd"
NUL = "a\x00b"

# Values that must keep their meaning (enumerations and times) are left alone.
KEEP = {
    "status",
    "version",
    "event_type",
    "resource_type",
    "type",
    "severity",
    "startsAt",
    "endsAt",
    "starts_at",
    "ends_at",
    "occurred_at",
    "created_at",
    "date",
    "action",
}
MAPS = {"labels", "annotations", "commonLabels", "commonAnnotations", "groupLabels"}


def poisoned(value: Any, suffix: str, parent: str = "") -> Any:
    """Append `suffix` to every string of a payload, and to the keys of label maps."""
    if isinstance(value, dict):
        return {
            (f"{key}{suffix}" if parent in MAPS else key): (
                item if key in KEEP and parent not in MAPS else poisoned(item, suffix, key)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [poisoned(item, suffix, parent) for item in value]
    if isinstance(value, str):
        return value + suffix
    return value


def label_texts(source: str, labels: dict[str, str]) -> list[str]:
    """The label texts that carry the sender's strings: Datadog's tags are one "k:v, k:v"
    text (only its last value ends with a suffix, hence `any` for it), and a bare tag
    (Opsgenie's example has only those) is a label named by it, with no value."""
    if source == "opsgenie":
        return [value or key for key, value in labels.items()]
    return list(labels.values())


def send(web: Served, source: str, payload: Any) -> Any:
    # ensure_ascii (the default) writes lone surrogates and NULs as \\u escapes.
    return web.post(source, json.dumps(payload).encode("ascii"))


def assert_readable(web: Served, incident_id: int) -> dict[str, Any]:
    """The incident, its timeline and its postmortem all answer 200; return the incident."""
    assert web.get("/api/incidents").status_code == 200
    detail = web.get(f"/api/incidents/{incident_id}")
    assert detail.status_code == 200, detail.text
    assert web.get(f"/api/incidents/{incident_id}/timeline").status_code == 200
    postmortem = web.get(f"/api/incidents/{incident_id}/postmortem")
    assert postmortem.status_code == 200, postmortem.text
    return detail.json()


@pytest.mark.parametrize("source", SOURCES)
def test_lone_surrogates_in_every_string_are_replaced_and_the_incident_stays_readable(
    web: Served, source: str
) -> None:
    response = send(web, source, poisoned(load(FIRING[source]), CUT_EMOJI))

    assert response.status_code == 202, response.text
    [ref] = response.json()["incidents"]
    detail = assert_readable(web, ref["id"])
    assert detail["title"].endswith(CUT_SHOWN)
    [alert] = detail["alerts"]
    assert alert["title"].endswith(CUT_SHOWN)
    labels = alert["labels"]
    every = any if source == "datadog" else all
    assert labels and every(text.endswith(CUT_SHOWN) for text in label_texts(source, labels))
    if source not in ("pagerduty", "datadog", "opsgenie"):  # not the sender's label names
        assert all(key.endswith(CUT_SHOWN) for key in labels)
    if source != "opsgenie":  # Opsgenie sends no link
        assert alert["url"].endswith(CUT_SHOWN)
    assert CUT_SHOWN in web.get(f"/api/incidents/{ref['id']}/postmortem").text


@pytest.mark.parametrize("source", SOURCES)
def test_nul_characters_are_removed_from_every_string(web: Served, source: str) -> None:
    response = send(web, source, poisoned(load(FIRING[source]), NUL))

    assert response.status_code == 202, response.text
    [ref] = response.json()["incidents"]
    detail = assert_readable(web, ref["id"])
    assert detail["title"].endswith("ab")
    with web.runtime.sessions() as session:
        alert = session.scalars(select(Alert)).one()
        incident = session.get(Incident, ref["id"])
    assert incident is not None and "\x00" not in incident.title
    stored = json.dumps([alert.title, alert.url, alert.fingerprint, alert.labels])
    assert "\\u0000" not in stored
    every = any if source == "datadog" else all
    assert every(text.endswith("ab") for text in label_texts(source, alert.labels))


# Random, as a real key is: PostgreSQL compresses index entries, and "kkk..." would fit.
HUGE = secrets.token_urlsafe(8_000)
# Where each source keeps its identity keys (alert fingerprint, group, delivery id).
KEYS: dict[str, list[tuple[str | int, ...]]] = {
    "alertmanager": [("groupKey",), ("alerts", 0, "fingerprint")],
    "grafana": [("groupKey",), ("alerts", 0, "fingerprint")],
    "pagerduty": [("event", "id"), ("event", "data", "id")],
    "datadog": [("aggreg_key",), ("alert_id",)],
    "opsgenie": [("alert", "alertId")],
    "generic": [("fingerprint",), ("group",)],
}


def with_keys(source: str, value: str) -> Any:
    payload = load(FIRING[source])
    for path in KEYS[source]:
        set_path(payload, path, value)
    return payload


@pytest.mark.parametrize("source", SOURCES)
def test_huge_keys_are_stored_hashed_and_still_deduplicate(web: Served, source: str) -> None:
    first = send(web, source, with_keys(source, HUGE))
    again = send(web, source, with_keys(source, HUGE))
    other = send(web, source, with_keys(source, HUGE + "2"))

    assert (first.status_code, again.status_code, other.status_code) == (202, 202, 202)
    [opened] = first.json()["incidents"]
    assert opened["created"] is True
    if source == "pagerduty":  # the same event.id: a repeat, answered as the first time
        assert again.json() == first.json()
    else:
        assert again.json()["incidents"] == [{**opened, "created": False}]
    [different] = other.json()["incidents"]
    assert different["created"] is True and different["id"] != opened["id"]
    with web.runtime.sessions() as session:
        alerts = session.scalars(select(Alert).order_by(Alert.id)).all()
        keys = session.scalars(select(Incident.grouping_key)).all()
    assert [alert.seen_count for alert in alerts] == [1 if source == "pagerduty" else 2, 1]
    assert len({alert.fingerprint for alert in alerts}) == 2
    assert all(len(alert.fingerprint.encode()) <= 512 for alert in alerts)
    assert all(key is not None and len(key.encode()) <= 512 for key in keys)
    assert_readable(web, opened["id"])


@pytest.mark.parametrize(
    ("source", "path", "value", "field"),
    [
        pytest.param(
            "alertmanager",
            ("alerts", 0, "startsAt"),
            "9999-12-31T23:59:59-14:00",
            "alerts.0.startsAt",
            id="alertmanager-past-year-9999-in-utc",
        ),
        pytest.param(
            "grafana",
            ("alerts", 0, "endsAt"),
            "9999-12-31T23:00:00Z",
            "alerts.0.endsAt",
            id="grafana-last-day-of-year-9999",
        ),
        pytest.param(
            "pagerduty",
            ("event", "occurred_at"),
            "9999-12-31T23:59:59-14:00",
            "event.occurred_at",
            id="pagerduty-past-year-9999-in-utc",
        ),
        pytest.param(
            "generic",
            ("starts_at",),
            "0001-01-01T00:30:00+01:00",
            "starts_at",
            id="generic-year-0-in-utc",
        ),
        pytest.param(
            "generic",
            ("ends_at",),
            "0001-01-01T12:00:00Z",
            "ends_at",
            id="generic-first-day-of-year-1",
        ),
    ],
)
def test_dates_outside_what_can_be_stored_are_refused_naming_the_field(
    web: Served, source: str, path: tuple[str | int, ...], value: str, field: str
) -> None:
    response = send(web, source, set_path(load(FIRING[source]), path, value))

    assert response.status_code == 422, response.text
    details = response.json()["details"]
    assert any(line.startswith(f"{field}: ") and "out of range" in line for line in details)
    assert web.counts() == NOTHING


def test_go_zero_time_still_means_unset(web: Served) -> None:
    # Alertmanager sends "0001-01-01T00:00:00Z" as endsAt of every firing alert.
    payload = set_path(
        load(FIRING["alertmanager"]), ("alerts", 0, "endsAt"), "0001-01-01T00:00:00Z"
    )

    response = send(web, "alertmanager", payload)

    assert response.status_code == 202, response.text
    [ref] = response.json()["incidents"]
    assert assert_readable(web, ref["id"])["alerts"][0]["ends_at"] is None


def test_an_incident_stored_with_a_lone_surrogate_before_the_fix_stays_readable(
    web: Served, engine: Engine
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's JSONB never took a lone surrogate")
    response = send(web, "generic", load(FIRING["generic"]))
    [ref] = response.json()["incidents"]
    # What an older warroom stored for `"owner": "\ud83d"`: SQLite keeps the JSON escape.
    with engine.begin() as connection:
        connection.execute(text("""UPDATE alerts SET labels = '{"owner": "\\ud83d"}'"""))
        connection.execute(text("""UPDATE timeline_events SET data = '{"note": "\\udd25"}'"""))

    detail = assert_readable(web, ref["id"])

    assert detail["alerts"][0]["labels"] == {"owner": "\ufffd"}
