"""Opsgenie Webhook integration: alert action data (payloads/README.md names the source)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.alerts import AlertPayloadError, parse
from tests.bot.alerts.payloads import dump, load, raw


def test_create_fires_an_alert_keyed_by_the_opsgenie_alert():
    [alert] = parse("opsgenie", raw("opsgenie_create.json"))

    assert alert.status == "firing"
    assert alert.title == "test alert"  # Opsgenie's example has a leading space
    assert alert.fingerprint == alert.group_key == "052652ac-5d1c-464a-812a-7dd18bbfba8c"
    assert alert.labels == {"tag1": "", "tag2": ""}
    assert alert.annotations["opsgenie_alias"] == "aliastest"
    assert alert.annotations["opsgenie_tiny_id"] == "23"
    assert alert.starts_at == datetime(2015, 1, 5, 10, 3, 11, 104000, tzinfo=UTC)


def test_close_resolves_at_the_update_time_given_in_nanoseconds():
    [alert] = parse("opsgenie", raw("opsgenie_close.json"))

    assert alert.status == "resolved"
    assert alert.ends_at == datetime(2015, 1, 5, 10, 3, 44, 764002, tzinfo=UTC)


@pytest.mark.parametrize("action", ["Acknowledge", "UnAcknowledge", "AddNote", "Delete"])
def test_other_actions_give_no_alert(action: str):
    payload = {**load("opsgenie_close.json"), "action": action}

    assert parse("opsgenie", dump(payload)) == []


def test_priority_tags_and_details_are_read():
    payload = load("opsgenie_create.json")
    payload["alert"].update(
        priority="P1",
        tags=["service:matching-engine", "critical-path"],
        details={"region": "ap-east-1", "retries": 3},
        entity="matching-engine-7",
        description="Order rejections above 5%",
    )

    [alert] = parse("opsgenie", dump(payload))

    assert alert.severity == "sev1"
    assert alert.labels == {
        "service": "matching-engine",
        "critical-path": "",
        "region": "ap-east-1",
        "retries": "3",
        "entity": "matching-engine-7",
    }
    assert alert.annotations["description"] == "Order rejections above 5%"


def test_a_body_without_its_alert_is_422_naming_the_field():
    payload = load("opsgenie_create.json")
    del payload["alert"]["alertId"]

    with pytest.raises(AlertPayloadError) as caught:
        parse("opsgenie", dump(payload))

    assert caught.value.status_code == 422
    assert caught.value.details == ["alert.alertId: Field required"]
