"""Alertmanager webhook (version 4) normalization."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from bot.alerts import parse
from bot.alerts.alertmanager import AlertmanagerWebhook
from bot.incidents.alerts import NormalizedAlert
from tests.bot.alerts.payloads import DELETE, dump, load, raw, set_path

AM_GROUP_KEY = '{}/{service="matching-engine"}:{alertname="MatchingEngineErrors"}'
# The payload's externalURL qualifies Alertmanager's groupKey: two clusters never share one.
GROUP_KEY = f"http://alertmanager.example.com:9093 {AM_GROUP_KEY}"


def test_reference_incident_normalizes_exactly():
    [alert] = parse("alertmanager", raw("alertmanager_firing.json"))

    assert alert == NormalizedAlert(
        source="alertmanager",
        fingerprint="5b1c7e9d2a4f8e03",
        title="MatchingEngineErrors: API error 30030: matching engine upgrade in progress",
        status="firing",
        labels={
            "alertname": "MatchingEngineErrors",
            "service": "matching-engine",
            "severity": "critical",
            "team": "trading-core",
            "instance": "me-1.hk.example.com:9100",
            "job": "matching-engine",
        },
        annotations={
            "summary": "API error 30030: matching engine upgrade in progress",
            "description": "Spot and margin order placement fails with error 30030 on me-1.",
            "runbook_url": "https://runbooks.example.com/matching-engine/errors",
        },
        starts_at=datetime(2021, 3, 10, 17, 56, tzinfo=timezone(timedelta(hours=8))),
        ends_at=None,
        group_key=GROUP_KEY,
        severity="sev1",
        name="MatchingEngineErrors",
        former_group_key=AM_GROUP_KEY,
        url=(
            "http://prometheus.example.com:9090/graph?g0.expr=sum+by%28service%29%28rate"
            "%28api_errors_total%7Bcode%3D%2230030%22%7D%5B1m%5D%29%29+%3E+0&g0.tab=1"
        ),
    )
    assert alert.starts_at == datetime(2021, 3, 10, 9, 56, tzinfo=UTC)


def test_model_reads_every_v4_field():
    webhook = AlertmanagerWebhook.model_validate(load("alertmanager_firing.json"))

    assert webhook.version == "4"
    assert webhook.group_key == AM_GROUP_KEY
    assert webhook.truncated_alerts == 0
    assert webhook.status == "firing"
    assert webhook.receiver == "warroom"
    assert webhook.group_labels == {"alertname": "MatchingEngineErrors"}
    assert webhook.common_labels["service"] == "matching-engine"
    assert webhook.common_annotations["runbook_url"].endswith("/matching-engine/errors")
    assert webhook.external_url == "http://alertmanager.example.com:9093"
    assert webhook.alerts[0].fingerprint == "5b1c7e9d2a4f8e03"
    assert webhook.alerts[0].ends_at is None  # "0001-01-01T00:00:00Z"


def test_go_zero_time_means_unset_in_any_spelling():
    payload = load("alertmanager_firing.json")
    set_path(payload, ("alerts", 0, "endsAt"), "0001-01-01T00:00:00.000000000Z")

    [alert] = parse("alertmanager", dump(payload))

    assert alert.ends_at is None


def test_missing_optional_fields_take_defaults():
    body = dump({"alerts": [{"status": "firing", "labels": {"alertname": "Watchdog"}}]})

    [alert] = parse("alertmanager", body)

    assert alert.title == "Watchdog"
    assert alert.starts_at is None
    assert alert.group_key is None
    assert alert.severity is None
    assert alert.url is None
    assert len(alert.fingerprint) == 16


def test_title_is_the_alertname_then_the_summary_when_it_adds_something():
    payload = load("alertmanager_firing.json")
    titles = {}
    for summary in ("", "matchingengineerrors", "MatchingEngineErrors on me-1", "Error 30030"):
        set_path(payload, ("alerts", 0, "annotations", "summary"), summary)
        [alert] = parse("alertmanager", dump(payload))
        titles[summary] = (alert.name, alert.title)

    assert titles == {
        "": ("MatchingEngineErrors", "MatchingEngineErrors"),
        "matchingengineerrors": ("MatchingEngineErrors", "MatchingEngineErrors"),
        "MatchingEngineErrors on me-1": ("MatchingEngineErrors", "MatchingEngineErrors on me-1"),
        "Error 30030": ("MatchingEngineErrors", "MatchingEngineErrors: Error 30030"),
    }


def test_group_key_without_an_external_url_is_alertmanagers_own():
    payload = load("alertmanager_firing.json")
    del payload["externalURL"]

    [alert] = parse("alertmanager", dump(payload))

    assert alert.group_key == AM_GROUP_KEY
    assert alert.former_group_key is None


def test_title_falls_back_to_alertname_then_fingerprint():
    payload = load("alertmanager_firing.json")
    payload["commonAnnotations"] = {}
    set_path(payload, ("alerts", 0, "annotations", "summary"), DELETE)
    [by_name] = parse("alertmanager", dump(payload))

    set_path(payload, ("alerts", 0, "labels", "alertname"), DELETE)
    del payload["commonLabels"]["alertname"]
    [by_fingerprint] = parse("alertmanager", dump(payload))

    assert by_name.title == "MatchingEngineErrors"
    assert by_fingerprint.title == "Alert 5b1c7e9d2a4f8e03"


def test_missing_fingerprint_is_derived_from_labels_stably():
    payload = load("alertmanager_firing.json")
    set_path(payload, ("alerts", 0, "fingerprint"), DELETE)
    [first] = parse("alertmanager", dump(payload))
    labels = payload["alerts"][0]["labels"]
    payload["alerts"][0]["labels"] = dict(reversed(list(labels.items())))
    [reordered] = parse("alertmanager", dump(payload))
    payload["alerts"][0]["labels"]["instance"] = "me-2.hk.example.com:9100"
    [other] = parse("alertmanager", dump(payload))

    assert first.fingerprint == reordered.fingerprint
    assert first.fingerprint != other.fingerprint
    assert len(first.fingerprint) == 16


def test_each_alert_of_a_group_becomes_one_normalized_alert():
    payload = load("alertmanager_firing.json")
    second = {
        **payload["alerts"][0],
        "labels": {**payload["alerts"][0]["labels"], "instance": "me-2.hk.example.com:9100"},
        "fingerprint": "77aa0c3e5d9b1f24",
        "status": "resolved",
        "endsAt": "2021-03-10T18:15:00+08:00",
    }
    payload["alerts"].append(second)

    alerts = parse("alertmanager", dump(payload))

    assert [(a.fingerprint, a.status) for a in alerts] == [
        ("5b1c7e9d2a4f8e03", "firing"),
        ("77aa0c3e5d9b1f24", "resolved"),
    ]
    assert {a.group_key for a in alerts} == {GROUP_KEY}


def test_common_labels_fill_in_but_alert_labels_win():
    payload = load("alertmanager_firing.json")
    payload["commonLabels"]["datacenter"] = "hk1"
    payload["commonLabels"]["severity"] = "warning"

    [alert] = parse("alertmanager", dump(payload))

    assert alert.labels["datacenter"] == "hk1"
    assert alert.labels["severity"] == "critical"
    assert alert.severity == "sev1"


def test_untrusted_text_is_kept_verbatim_and_values_become_strings():
    payload = load("alertmanager_firing.json")
    labels = payload["alerts"][0]["labels"]
    labels["owner"] = "<!channel> <@U0BOSS> *urgent*"
    labels["replicas"] = 3
    labels["canary"] = True
    labels["ratio"] = 0.25
    payload["alerts"][0]["annotations"]["summary"] = "<!here> & <b>everyone</b>"

    [alert] = parse("alertmanager", dump(payload))

    assert alert.labels["owner"] == "<!channel> <@U0BOSS> *urgent*"
    assert alert.labels["replicas"] == "3"
    assert alert.labels["canary"] == "true"
    assert alert.labels["ratio"] == "0.25"
    assert alert.title == "MatchingEngineErrors: <!here> & <b>everyone</b>"


def test_unknown_fields_are_ignored():
    payload = load("alertmanager_firing.json")
    payload["someFutureField"] = {"x": 1}
    payload["alerts"][0]["anotherOne"] = [1, 2]

    [alert] = parse("alertmanager", dump(payload))

    assert alert.fingerprint == "5b1c7e9d2a4f8e03"


def test_empty_alert_list_gives_no_alerts():
    payload = load("alertmanager_firing.json")
    payload["alerts"] = []

    assert parse("alertmanager", dump(payload)) == []
