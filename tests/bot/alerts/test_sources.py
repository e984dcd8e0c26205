"""Behaviour every alert source shares, parametrized over all of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bot.alerts import SOURCES, AlertPayloadError, UnknownSource, parse
from tests.bot.alerts.payloads import DELETE, dump, load, raw, set_path

HKT = timedelta(hours=8)


@dataclass(frozen=True)
class Case:
    source: str
    firing: str
    resolved: str
    start: tuple[str | int, ...]  # where the alert's start time lives in the body
    status: tuple[str | int, ...] | None  # where the per-alert status lives, if anywhere
    title: str
    fingerprint: str
    severity: str | None
    starts_at: datetime
    ends_at: datetime  # of the resolved payload

    def __str__(self) -> str:
        return self.source


CASES = [
    Case(
        source="alertmanager",
        firing="alertmanager_firing.json",
        resolved="alertmanager_resolved.json",
        start=("alerts", 0, "startsAt"),
        status=("alerts", 0, "status"),
        title="MatchingEngineErrors: API error 30030: matching engine upgrade in progress",
        fingerprint="5b1c7e9d2a4f8e03",
        severity="sev1",
        starts_at=datetime(2021, 3, 10, 9, 56, tzinfo=UTC),
        ends_at=datetime(2021, 3, 10, 10, 15, tzinfo=UTC),
    ),
    Case(
        source="grafana",
        firing="grafana_firing.json",
        resolved="grafana_resolved.json",
        start=("alerts", 0, "startsAt"),
        status=("alerts", 0, "status"),
        title="OrderLatencyHigh: p99 order latency above 250 ms",
        fingerprint="c6eed97d0e4f2a11",
        severity="sev3",
        starts_at=datetime(2021, 3, 10, 9, 56, 0, 123456, tzinfo=UTC),
        ends_at=datetime(2021, 3, 10, 10, 15, 0, 987654, tzinfo=UTC),
    ),
    Case(
        source="pagerduty",
        firing="pagerduty_triggered.json",
        resolved="pagerduty_resolved.json",
        start=("event", "data", "created_at"),
        status=None,
        title="Matching engine returning error 30030",
        fingerprint="Q2FNZ4V2VZ3ADQ",
        severity="sev1",
        starts_at=datetime(2021, 3, 10, 9, 56, 1, tzinfo=UTC),
        ends_at=datetime(2021, 3, 10, 10, 15, 0, 250000, tzinfo=UTC),
    ),
    Case(
        source="datadog",
        firing="datadog_triggered.json",
        resolved="datadog_recovered.json",
        start=("date",),
        status=None,
        title="Host is Down",
        fingerprint="9bd4ac313a4d1e8fae2482df7b77628",
        severity="sev1",
        starts_at=datetime(2014, 7, 29, 19, 37, 52, tzinfo=UTC),
        ends_at=datetime(2014, 7, 29, 19, 47, 52, tzinfo=UTC),
    ),
    Case(
        source="opsgenie",
        firing="opsgenie_create.json",
        resolved="opsgenie_close.json",
        start=("alert", "createdAt"),
        status=None,
        title="test alert",
        fingerprint="052652ac-5d1c-464a-812a-7dd18bbfba8c",
        severity=None,  # Opsgenie's example states no priority
        starts_at=datetime(2015, 1, 5, 10, 3, 11, 104000, tzinfo=UTC),
        ends_at=datetime(2015, 1, 5, 10, 3, 44, 764002, tzinfo=UTC),
    ),
    Case(
        source="generic",
        firing="generic_firing.json",
        resolved="generic_resolved.json",
        start=("starts_at",),
        status=("status",),
        title="Margin liquidation queue stalled",
        fingerprint="c7138e06c8deb5c4",
        severity="sev1",
        starts_at=datetime(2021, 3, 10, 9, 56, 0, 123456, tzinfo=UTC),
        ends_at=datetime(2021, 3, 10, 10, 15, tzinfo=UTC),
    ),
]

by_source = pytest.mark.parametrize("case", CASES, ids=str)


# CloudWatch alarms travel as a JSON string inside a signed SNS envelope, so a path into
# the body cannot reach their fields: tests/bot/alerts/test_cloudwatch.py covers them.
ENVELOPED = {"cloudwatch"}


def test_every_source_has_a_case():
    assert sorted(set(SOURCES) - ENVELOPED) == sorted(case.source for case in CASES)


def payload_error(source: str, body: bytes) -> AlertPayloadError:
    with pytest.raises(AlertPayloadError) as caught:
        parse(source, body)
    return caught.value


@by_source
def test_firing_payload_gives_one_firing_alert(case: Case):
    [alert] = parse(case.source, raw(case.firing))

    assert alert.source == case.source
    assert alert.status == "firing"
    assert alert.title == case.title
    assert alert.fingerprint == case.fingerprint
    assert alert.severity == case.severity
    assert alert.starts_at == case.starts_at
    assert alert.starts_at.tzinfo is not None
    assert alert.ends_at is None


@by_source
def test_resolved_payload_gives_the_same_alert_resolved(case: Case):
    [firing] = parse(case.source, raw(case.firing))
    [resolved] = parse(case.source, raw(case.resolved))

    assert resolved.status == "resolved"
    assert resolved.ends_at == case.ends_at
    assert (resolved.source, resolved.fingerprint) == (firing.source, firing.fingerprint)
    assert resolved.group_key == firing.group_key


@by_source
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-03-10T17:56:00.123456789+08:00", datetime(2021, 3, 10, 9, 56, 0, 123456, UTC)),
        # Truncated, not rounded: rounding would move the alert into the next second.
        ("2021-03-10T09:56:59.999999999Z", datetime(2021, 3, 10, 9, 56, 59, 999999, UTC)),
        ("2021-03-10T04:26:00.5-05:30", datetime(2021, 3, 10, 9, 56, 0, 500000, UTC)),
        ("2021-03-10T09:56:00Z", datetime(2021, 3, 10, 9, 56, tzinfo=UTC)),
    ],
    ids=["nanoseconds+08:00", "nanoseconds-Z", "tenths-05:30", "seconds-Z"],
)
def test_timestamps_keep_their_instant(case: Case, text: str, expected: datetime):
    body = dump(set_path(load(case.firing), case.start, text))

    [alert] = parse(case.source, body)

    assert alert.starts_at == expected
    assert alert.starts_at.astimezone(UTC).replace(tzinfo=None) == expected.replace(tzinfo=None)


@by_source
def test_offset_is_kept_not_discarded(case: Case):
    body = dump(set_path(load(case.firing), case.start, "2021-03-10T17:56:00+08:00"))

    [alert] = parse(case.source, body)

    assert alert.starts_at.utcoffset() == HKT
    assert alert.starts_at.isoformat() == "2021-03-10T17:56:00+08:00"


@by_source
@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("yesterday", "not an ISO 8601 timestamp: 'yesterday'"),
        ("2021-03-10T17:56:00", "timestamp needs a UTC offset (e.g. 'Z' or '+08:00')"),
    ],
    ids=["garbage", "naive"],
)
def test_bad_timestamp_is_422_naming_the_field(case: Case, text: str, problem: str):
    body = dump(set_path(load(case.firing), case.start, text))

    error = payload_error(case.source, body)

    assert error.status_code == 422
    assert error.details == [f"{'.'.join(map(str, case.start))}: {problem}"]


# PagerDuty, Datadog and Opsgenie have no status field: it comes from event_type
# (test_pagerduty), the alert transition (test_datadog) and the action (test_opsgenie).
@pytest.mark.parametrize("case", [case for case in CASES if case.status], ids=str)
def test_unknown_status_is_422_naming_the_field(case: Case):
    body = dump(set_path(load(case.firing), case.status, "burning"))

    error = payload_error(case.source, body)

    assert error.status_code == 422
    assert error.message == f"body does not fit the {case.source} payload"
    path = ".".join(map(str, case.status))
    assert error.details == [f"{path}: Input should be 'firing' or 'resolved'"]
    assert error.to_dict() == {"error": error.message, "details": error.details}


@by_source
def test_missing_title_is_422_naming_the_field(case: Case):
    missing = {
        "alertmanager": ("alerts", 0, "labels"),
        "grafana": ("alerts", 0, "labels"),
        "pagerduty": ("event", "data", "title"),
        "datadog": ("title",),
        "opsgenie": ("alert", "message"),
        "generic": ("title",),
    }[case.source]
    body = dump(set_path(load(case.firing), missing, DELETE))

    error = payload_error(case.source, body)

    assert error.status_code == 422
    assert error.details == [f"{'.'.join(map(str, missing))}: Field required"]


@by_source
@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b'{"alerts": [\n  {"status": "firing",,}\n]}', "line 2 column 23"),
        (b"", "line 1 column 1"),
        (b'{"title": "x"', "line 1 column 14"),
        (b"{'title': 'single quotes'}", "line 1 column 2"),
    ],
    ids=["double-comma", "empty", "truncated", "single-quotes"],
)
def test_bytes_that_are_not_json_are_400_with_position(case: Case, body: bytes, where: str):
    error = payload_error(case.source, body)

    assert error.status_code == 400
    assert error.message.startswith("body is not JSON: ")
    assert error.message.endswith(f" at {where}")
    assert error.details is None


@by_source
@pytest.mark.parametrize("body", [b'{"x": NaN}', b"[Infinity]"], ids=["NaN", "Infinity"])
def test_python_only_json_constants_are_400(case: Case, body: bytes):
    error = payload_error(case.source, body)

    assert error.status_code == 400
    assert "is not valid JSON" in error.message


@by_source
def test_body_that_is_not_utf8_is_400(case: Case):
    error = payload_error(case.source, b'{"title": "caf\xe9"}')

    assert error.status_code == 400
    assert error.message == "body is not UTF-8: invalid byte at offset 14"


@by_source
@pytest.mark.parametrize("body", [b"[]", b'"alert"', b"42", b"null"])
def test_json_that_is_not_an_object_is_422_at_the_root(case: Case, body: bytes):
    error = payload_error(case.source, body)

    assert error.status_code == 422
    assert len(error.details) == 1
    assert error.details[0].startswith("(root): Input should be a valid dictionary")


def test_unknown_source_is_404_listing_the_known_ones():
    with pytest.raises(UnknownSource) as caught:
        parse("nagios", b"{}")

    assert caught.value.status_code == 404
    assert caught.value.source == "nagios"
    assert caught.value.message == (
        "unknown alert source 'nagios'; known sources: "
        "alertmanager, cloudwatch, datadog, generic, grafana, opsgenie, pagerduty"
    )
    assert isinstance(caught.value, AlertPayloadError)


def test_unknown_source_is_checked_before_the_body():
    with pytest.raises(UnknownSource):
        parse("nagios", b"not json")
