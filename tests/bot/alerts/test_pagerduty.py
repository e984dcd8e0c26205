"""PagerDuty V3 webhook normalization, severity mapping and signatures."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from bot.alerts import AlertPayloadError, parse, verify_pagerduty_signature
from bot.alerts.pagerduty import pagerduty_severity
from bot.incidents.alerts import NormalizedAlert
from tests.bot.alerts.payloads import DELETE, dump, load, raw, set_path

OLD_SECRET = "pd-secret-2023"
NEW_SECRET = "pd-secret-2024"
BODY = raw("pagerduty_triggered.json")


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def event(event_type: str) -> bytes:
    return dump(set_path(load("pagerduty_triggered.json"), ("event", "event_type"), event_type))


def test_triggered_incident_normalizes_exactly():
    [alert] = parse("pagerduty", BODY)

    assert alert == NormalizedAlert(
        source="pagerduty",
        fingerprint="Q2FNZ4V2VZ3ADQ",
        title="Matching engine returning error 30030",
        status="firing",
        labels={"service": "matching-engine", "urgency": "high", "priority": "P1"},
        annotations={
            "pagerduty_event": "incident.triggered",
            "pagerduty_event_id": "01BZNKQ4PJ6C3Z0GYB5SCK4M6T",
            "pagerduty_status": "triggered",
            "pagerduty_incident_key": "8c1f0b6a2e7d4d0e9a3b5c7d1e2f3a4b",
            "pagerduty_agent": "matching-engine",
        },
        starts_at=datetime(2021, 3, 10, 9, 56, 1, tzinfo=UTC),
        ends_at=None,
        group_key="Q2FNZ4V2VZ3ADQ",
        severity="sev1",
        url="https://acme.pagerduty.com/incidents/Q2FNZ4V2VZ3ADQ",
    )


def test_resolved_event_ends_at_its_occurrence():
    [alert] = parse("pagerduty", raw("pagerduty_resolved.json"))

    assert alert.status == "resolved"
    assert alert.ends_at == datetime(2021, 3, 10, 10, 15, 0, 250000, tzinfo=UTC)
    assert alert.annotations["pagerduty_agent"] == "Mei Chan"


@pytest.mark.parametrize(
    "event_type",
    [
        "incident.triggered",
        "incident.acknowledged",
        "incident.unacknowledged",
        "incident.reopened",
        "incident.priority_updated",
        "incident.escalated",
        "incident.reassigned",
    ],
)
def test_incident_events_other_than_resolved_are_firing(event_type: str):
    [alert] = parse("pagerduty", event(event_type))

    assert alert.status == "firing"
    assert alert.ends_at is None
    assert alert.annotations["pagerduty_event"] == event_type


@pytest.mark.parametrize("event_type", ["service.updated", "pagey.ping", "incident_type.created"])
def test_events_that_are_not_about_incidents_give_no_alerts(event_type: str):
    assert parse("pagerduty", event(event_type)) == []


def test_incident_event_about_a_note_gives_no_alerts():
    assert parse("pagerduty", raw("pagerduty_annotated.json")) == []


def test_ping_without_data_gives_no_alerts():
    body = dump(
        {
            "event": {
                "id": "01C0000000000000000000PING",
                "event_type": "pagey.ping",
                "resource_type": "pagey",
                "occurred_at": "2021-03-10T09:00:00Z",
                "agent": None,
                "client": None,
                "data": None,
            }
        }
    )

    assert parse("pagerduty", body) == []


def test_missing_event_is_422():
    body = dump({"messages": []})

    with pytest.raises(AlertPayloadError) as caught:
        parse("pagerduty", body)

    assert caught.value.status_code == 422
    assert caught.value.details == ["event: Field required"]


def test_incident_without_priority_or_service_still_normalizes():
    payload = load("pagerduty_triggered.json")
    set_path(payload, ("event", "data", "priority"), None)
    set_path(payload, ("event", "data", "service"), DELETE)
    set_path(payload, ("event", "data", "created_at"), DELETE)

    [alert] = parse("pagerduty", dump(payload))

    assert alert.labels == {"urgency": "high"}
    assert alert.severity == "sev2"
    assert alert.starts_at == datetime(2021, 3, 10, 9, 56, 2, 518000, tzinfo=UTC)


def test_untrusted_service_name_is_kept_verbatim():
    payload = load("pagerduty_triggered.json")
    set_path(payload, ("event", "data", "service", "summary"), "<!channel> svc")

    [alert] = parse("pagerduty", dump(payload))

    assert alert.labels["service"] == "<!channel> svc"


@pytest.mark.parametrize(
    ("urgency", "priority", "severity"),
    [
        ("high", "P1", "sev1"),
        ("low", "P1", "sev1"),
        (None, "SEV-1", "sev1"),
        ("high", "P2", "sev2"),
        ("high", "P3", "sev2"),
        ("high", None, "sev2"),
        ("HIGH", "P5", "sev2"),
        ("low", "P2", "sev2"),
        ("low", "P3", "sev3"),
        ("low", "P4", "sev4"),
        ("low", "P5", "sev4"),
        ("low", None, "sev4"),
        ("low", "Business critical", "sev4"),
        (None, None, None),
        (None, "Custom", None),
    ],
)
def test_severity_mapping(urgency, priority, severity):
    assert pagerduty_severity(urgency, priority) == severity


def test_severity_comes_from_the_incident():
    payload = load("pagerduty_triggered.json")
    set_path(payload, ("event", "data", "priority", "summary"), "P3")
    set_path(payload, ("event", "data", "urgency"), "low")

    [alert] = parse("pagerduty", dump(payload))

    assert alert.severity == "sev3"
    assert alert.labels["priority"] == "P3"


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (f"v1={sign(BODY, NEW_SECRET)}", True),
        (f"v1={sign(BODY, OLD_SECRET)}", True),
        (f"v1={sign(BODY, 'someone-else')},v1={sign(BODY, NEW_SECRET)}", True),
        (f"v1={sign(BODY, NEW_SECRET)}, v1={sign(BODY, 'someone-else')}", True),
        (f"v1={sign(BODY, NEW_SECRET).upper()}", True),
        (f"v1={sign(BODY, 'someone-else')}", False),
        (f"v1={sign(BODY + b' ', NEW_SECRET)}", False),
        (f"v0={sign(BODY, NEW_SECRET)}", False),
        (sign(BODY, NEW_SECRET), False),
        ("v1=", False),
        ("v1=é", False),
        ("", False),
        (None, False),
    ],
    ids=[
        "current-secret",
        "rotated-out-secret",
        "second-of-two",
        "first-of-two-with-space",
        "uppercase-hex",
        "wrong-secret",
        "tampered-body",
        "unknown-scheme",
        "no-scheme",
        "empty-value",
        "non-ascii",
        "empty",
        "missing",
    ],
)
def test_signature(header: str | None, ok: bool):
    assert verify_pagerduty_signature([NEW_SECRET, OLD_SECRET], BODY, header) is ok


def test_signature_fails_without_secrets_or_with_empty_secret():
    assert verify_pagerduty_signature([], BODY, f"v1={sign(BODY, '')}") is False
    assert verify_pagerduty_signature([""], BODY, f"v1={sign(BODY, '')}") is False
