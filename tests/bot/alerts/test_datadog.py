"""Datadog webhook integration bodies: the default payload and the README's payload.

Fixtures (see payloads/README.md): datadog_default_triggered.json is the webhook tile's
default payload, datadog_triggered.json / datadog_recovered.json the README's payload;
every value is an example Datadog's docs give for its variable
(docs.datadoghq.com/integrations/webhooks).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.alerts import AlertPayloadError, parse
from bot.alerts.datadog import DatadogWebhook, split_title
from tests.bot.alerts.payloads import dump, load, raw


def one(payload: object) -> object:
    [alert] = parse("datadog", dump(payload))
    return alert


def test_default_payload_fires_an_alert_named_by_the_event_title():
    [alert] = parse("datadog", raw("datadog_default_triggered.json"))

    assert alert.status == "firing"
    assert alert.title == "Memory Alert"
    assert alert.starts_at == datetime(2014, 7, 29, 19, 37, 52, tzinfo=UTC)
    assert alert.severity is None  # the default payload states none: the playbook decides
    assert alert.group_key is None
    assert alert.annotations["datadog_transition"] == "Triggered"
    assert alert.annotations["datadog_event_type"] == "query_alert_monitor"
    assert alert.annotations["description"] == "@webhook-url Sending to the webhook"


def test_default_payload_recovery_resolves_the_same_alert():
    firing = load("datadog_default_triggered.json")
    recovered = {**firing, "title": "[Recovered] [Memory Alert]", "id": "1234599"}

    [fired] = parse("datadog", dump(firing))
    [resolved] = parse("datadog", dump(recovered))

    assert resolved.status == "resolved"
    assert resolved.fingerprint == fired.fingerprint
    assert resolved.ends_at == datetime(2014, 7, 29, 19, 37, 52, tzinfo=UTC)
    assert resolved.starts_at is None


def test_default_payload_reads_priority_and_scope_from_the_title():
    payload = {**load("datadog_default_triggered.json")}
    payload["title"] = "[P2] [Triggered on {host:web-1}] Disk full"

    alert = one(payload)

    assert alert.title == "Disk full"
    assert alert.annotations["datadog_scope"] == "{host:web-1}"
    assert alert.severity == "sev2"
    other_host = one({**payload, "title": "[P2] [Triggered on {host:web-2}] Disk full"})
    assert other_host.fingerprint != alert.fingerprint


def test_documented_payload_maps_every_variable():
    [alert] = parse("datadog", raw("datadog_triggered.json"))

    assert alert.title == "Host is Down"
    assert alert.fingerprint == "9bd4ac313a4d1e8fae2482df7b77628"  # $AGGREG_KEY
    assert alert.group_key == "1234"  # $ALERT_ID: one incident per monitor
    assert alert.severity == "sev1"  # $ALERT_PRIORITY P1
    assert alert.url == "https://app.datadoghq.com/event/jump_to?event_id=123456"
    assert alert.labels == {
        "monitor": "",
        "name": "myService",
        "role": "computing-node",
        "availability-zone": "us-east-1a",
        "host": "ip-012345",
    }
    assert alert.annotations["datadog_monitor_id"] == "1234"
    assert alert.annotations["datadog_metric"] == "system.load.1"
    assert alert.annotations["description"] == "Host is Down"
    # "$ALERT_CYCLE_KEY" left unfilled and an empty $ALERT_QUERY are no values at all.
    assert "datadog_query" not in alert.annotations


@pytest.mark.parametrize(
    ("transition", "status"),
    [
        ("Triggered", "firing"),
        ("Re-Triggered", "firing"),
        ("Warn", "firing"),
        ("Re-Warn", "firing"),
        ("No Data", "firing"),
        ("Re-No Data", "firing"),
        ("Renotify", "firing"),
        ("Recovered", "resolved"),
    ],
)
def test_only_a_recovery_resolves(transition: str, status: str):
    payload = {**load("datadog_triggered.json"), "alert_transition": transition}

    assert one(payload).status == status


@pytest.mark.parametrize(
    ("changes", "severity"),
    [
        ({"alert_priority": "P3"}, "sev3"),
        ({"alert_priority": "P5"}, "sev4"),
        ({"alert_priority": "$ALERT_PRIORITY", "alert_type": "warning"}, "sev3"),
        ({"alert_priority": "", "alert_type": "error"}, "sev2"),
        ({"alert_priority": "", "alert_type": "error", "tags": "severity:critical"}, "sev1"),
        ({"alert_priority": "", "alert_type": "success", "alert_transition": "Recovered"}, None),
    ],
    ids=["P3", "P5", "unfilled-priority-warning", "error", "severity-tag", "success"],
)
def test_severity_from_priority_then_tags_then_alert_type(changes: dict, severity: str | None):
    payload = {**load("datadog_triggered.json"), **changes}

    assert one(payload).severity == severity


def test_unfilled_title_is_422():
    payload = {**load("datadog_default_triggered.json"), "title": "$EVENT_TITLE"}

    with pytest.raises(AlertPayloadError) as caught:
        parse("datadog", dump(payload))

    assert caught.value.status_code == 422
    assert caught.value.details == ["title: title must not be blank"]


def test_epoch_milliseconds_out_of_range_is_422():
    payload = {**load("datadog_default_triggered.json"), "date": "9" * 30}

    with pytest.raises(AlertPayloadError) as caught:
        parse("datadog", dump(payload))

    assert caught.value.status_code == 422
    assert caught.value.details == [f"date: epoch milliseconds out of range: {'9' * 30}"]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("[Triggered] [Memory Alert]", ("Memory Alert", "Triggered", None, None)),
        ("[P1] [Re-Triggered on {host:a}] CPU", ("CPU", "Re-Triggered", "P1", "{host:a}")),
        ("[No Data] Heartbeat", ("Heartbeat", "No Data", None, None)),
        ("Plain title", ("Plain title", None, None, None)),
        ("[prod] [Warn] Queue depth", ("[prod] Queue depth", "Warn", None, None)),
    ],
)
def test_split_title(title: str, expected: tuple):
    assert split_title(title) == expected


def _readme_payload() -> dict:
    readme = (Path(__file__).parents[3] / "README.md").read_text()
    section = readme.split("### Datadog", 1)[1].split("\n### ", 1)[0]
    return json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])


def test_the_readme_payload_names_only_variables_warroom_reads():
    template = _readme_payload()

    assert set(template) == set(DatadogWebhook.model_fields)
    # Every value is one of Datadog's variables, so a filled-in copy is a real delivery.
    filled = {**template, **load("datadog_triggered.json")}
    assert set(filled) == set(template)
    assert one(filled).fingerprint == "9bd4ac313a4d1e8fae2482df7b77628"


def test_the_readme_payload_with_nothing_filled_in_is_refused():
    # Datadog leaves a variable it has no value for as written: no title is no alert.
    with pytest.raises(AlertPayloadError) as caught:
        parse("datadog", dump(_readme_payload()))

    assert caught.value.details == ["title: title must not be blank"]
