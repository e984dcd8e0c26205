"""warroom's generic alert JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.alerts import AlertPayloadError, parse
from bot.incidents.alerts import NormalizedAlert
from tests.bot.alerts.payloads import dump, raw


def errors_of(payload) -> list[str]:
    with pytest.raises(AlertPayloadError) as caught:
        parse("generic", dump(payload))
    assert caught.value.status_code == 422
    return caught.value.details


def test_single_object_normalizes_exactly():
    [alert] = parse("generic", raw("generic_firing.json"))

    assert alert == NormalizedAlert(
        source="generic",
        fingerprint="c7138e06c8deb5c4",
        title="Margin liquidation queue stalled",
        status="firing",
        labels={
            "service": "margin-engine",
            "region": "ap-east-1",
            "owner": "<!channel> please look",
        },
        annotations={
            "description": "No liquidation processed for 120 s.",
            "runbook_url": "https://runbooks.example.com/margin/liquidations",
        },
        starts_at=datetime(2021, 3, 10, 17, 56, 0, 123456, timezone(timedelta(hours=8))),
        ends_at=None,
        group_key="margin-engine/ap-east-1",
        severity="sev1",
        url="https://ops.example.com/checks/liquidation-queue",
    )


def test_minimal_alert_takes_defaults():
    [alert] = parse("generic", dump({"title": "Disk almost full"}))

    assert alert == NormalizedAlert(
        source="generic", fingerprint=alert.fingerprint, title="Disk almost full"
    )
    assert alert.status == "firing"
    assert alert.severity is None
    assert alert.group_key is None


def test_batch_gives_one_alert_each_in_order():
    body = dump({"alerts": [{"title": "a"}, {"title": "b", "status": "resolved"}]})

    alerts = parse("generic", body)

    assert [(a.title, a.status) for a in alerts] == [("a", "firing"), ("b", "resolved")]


def test_empty_batch_gives_no_alerts():
    assert parse("generic", dump({"alerts": []})) == []


def test_fingerprint_is_a_fixed_function_of_title_and_labels():
    # Stored alert identities depend on this value: changing it splits open incidents.
    [alert] = parse("generic", dump({"title": "x", "labels": {"a": "1"}}))

    assert alert.fingerprint == "b18a821177229f91"


def test_fingerprint_ignores_label_order_and_everything_but_title_and_labels():
    first = {"title": "Queue stalled", "labels": {"service": "margin", "region": "hk"}}
    same = {
        "title": "Queue stalled",
        "labels": {"region": "hk", "service": "margin"},
        "severity": "sev2",
        "annotations": {"note": "changed"},
        "status": "resolved",
        "starts_at": "2021-03-10T17:56:00+08:00",
    }
    [a] = parse("generic", dump(first))
    [b] = parse("generic", dump(same))

    assert a.fingerprint == b.fingerprint


@pytest.mark.parametrize(
    "changed",
    [
        {"title": "Queue stalled!", "labels": {"service": "margin", "region": "hk"}},
        {"title": "Queue stalled", "labels": {"service": "margin", "region": "sg"}},
        {"title": "Queue stalled", "labels": {"service": "margin"}},
        {"title": "Queue stalled", "labels": {"service": "margin", "region": "hk", "x": ""}},
    ],
    ids=["title", "label-value", "label-removed", "label-added"],
)
def test_fingerprint_changes_with_title_or_labels(changed):
    base = {"title": "Queue stalled", "labels": {"service": "margin", "region": "hk"}}
    [a] = parse("generic", dump(base))
    [b] = parse("generic", dump(changed))

    assert b.fingerprint != a.fingerprint


def test_explicit_fingerprint_wins():
    [alert] = parse("generic", dump({"title": "x", "fingerprint": "check-42"}))

    assert alert.fingerprint == "check-42"


@pytest.mark.parametrize(
    ("field", "path"),
    [("severty", "severty"), ("startsAt", "startsAt"), ("labels_", "labels_")],
)
def test_unknown_fields_are_rejected_by_name(field, path):
    assert errors_of({"title": "x", field: "sev1"}) == [f"{path}: Extra inputs are not permitted"]


def test_unknown_fields_inside_a_batch_name_the_alert():
    details = errors_of({"alerts": [{"title": "ok"}, {"title": "x", "sevrity": "sev1"}]})

    assert details == ["alerts.1.sevrity: Extra inputs are not permitted"]


def test_unknown_top_level_field_next_to_alerts_is_rejected():
    assert errors_of({"alerts": [], "source": "cron"}) == ["source: Extra inputs are not permitted"]


@pytest.mark.parametrize(
    ("given", "severity"),
    [
        ("sev1", "sev1"),
        ("SEV2", "sev2"),
        ("critical", "sev1"),
        ("error", "sev2"),
        ("warning", "sev3"),
        ("info", "sev4"),
        ("P3", "sev3"),
    ],
)
def test_severity_words(given, severity):
    [alert] = parse("generic", dump({"title": "x", "severity": given}))

    assert alert.severity == severity


def test_unknown_severity_is_rejected():
    assert errors_of({"title": "x", "severity": "apocalyptic"}) == [
        "severity: unknown severity 'apocalyptic': use sev1..sev4 or critical, error, warning, info"
    ]


def test_severity_falls_back_to_labels_and_field_wins_over_labels():
    [from_label] = parse("generic", dump({"title": "x", "labels": {"severity": "warning"}}))
    [explicit] = parse(
        "generic", dump({"title": "x", "severity": "sev1", "labels": {"severity": "warning"}})
    )

    assert from_label.severity == "sev3"
    assert explicit.severity == "sev1"


@pytest.mark.parametrize("title", ["", "   "])
def test_blank_title_is_rejected(title):
    details = errors_of({"title": title})

    assert len(details) == 1
    assert details[0].startswith("title: ")


def test_title_must_be_a_string():
    assert errors_of({"title": 42}) == ["title: Input should be a valid string"]


def test_label_values_become_strings_but_labels_must_be_an_object():
    [alert] = parse("generic", dump({"title": "x", "labels": {"port": 8080, "tls": False}}))

    assert alert.labels == {"port": "8080", "tls": "false"}
    assert errors_of({"title": "x", "labels": ["a"]}) == [
        "labels: Input should be a valid dictionary"
    ]


def test_ends_before_it_starts_is_rejected():
    details = errors_of(
        {
            "title": "x",
            "starts_at": "2021-03-10T18:15:00+08:00",
            "ends_at": "2021-03-10T17:56:00+08:00",
        }
    )

    assert details == ["(root): ends_at is before starts_at"]


def test_ends_at_with_offset_parses_to_its_instant():
    [alert] = parse(
        "generic",
        dump({"title": "x", "status": "resolved", "ends_at": "2021-03-10T18:15:00.5+08:00"}),
    )

    assert alert.ends_at == datetime(2021, 3, 10, 10, 15, 0, 500000, tzinfo=UTC)
