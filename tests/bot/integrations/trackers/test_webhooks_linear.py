"""Linear's Issue webhook read into ticket changes: signature and freshness checked first.

Payloads: see payloads/README.md. Signature and the one-minute `webhookTimestamp` rule:
https://linear.app/developers/webhooks ("Securing webhooks")
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.incidents.clock import SimulatedClock
from bot.integrations.trackers.base import TicketChange, WebhookRefused
from bot.integrations.trackers.webhooks_linear import linear_reader
from tests.bot.integrations.trackers.conftest import payload

SECRET = "lin_wh_0123456789abcdefghijklmnopqrstuvwxyz"
NOW = datetime(2021, 3, 12, 2, 10, 42, tzinfo=UTC)


def _delivery(
    name: str, *, sent: datetime = NOW, secret: str = SECRET, **changes: Any
) -> tuple[dict[str, str], bytes]:
    """The fixture stamped `sent` (as Linear does at delivery) and signed."""
    event = {**payload(name), **changes, "webhookTimestamp": int(sent.timestamp() * 1000)}
    body = json.dumps(event).encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Linear-Signature": digest,
        "Linear-Delivery": "234d1a4e-b617-4388-90fe-adc3633d6b72",
        "Linear-Event": str(event["type"]),
        "Content-Type": "application/json; charset=utf-8",
    }
    return headers, body


def _read(headers: dict[str, str], body: bytes) -> list[TicketChange]:
    return linear_reader(SECRET, clock=SimulatedClock(NOW))(headers, body, {})


def test_an_issue_moved_to_a_completed_state_reads_as_done() -> None:
    assert _read(*_delivery("linear_issue_completed.json")) == [
        TicketChange(
            tracker="linear",
            key="ENG-42",
            state="done",
            actor="Alice Oncall",
            at=datetime(2021, 3, 12, 2, 10, 41, 317000, tzinfo=UTC),
        )
    ]


def test_an_issue_moved_back_to_started_reads_as_open() -> None:
    [change] = _read(*_delivery("linear_issue_reopened.json"))
    assert (change.key, change.state, change.at) == (
        "ENG-42",
        "open",
        datetime(2021, 3, 13, 9, 30, tzinfo=UTC),
    )


def test_a_canceled_issue_reads_as_done() -> None:
    event = payload("linear_issue_completed.json")
    data = {
        **event["data"],
        "completedAt": None,
        "canceledAt": "2021-03-12T02:10:41.317Z",
        "state": {"id": "c1", "color": "#95a2b3", "name": "Canceled", "type": "canceled"},
    }
    [change] = _read(
        *_delivery(
            "linear_issue_completed.json",
            data=data,
            updatedFrom={"stateId": "s0", "canceledAt": None},
        )
    )
    assert change.state == "done"


def test_a_done_issue_moved_to_another_done_state_reports_nothing_new() -> None:
    event = payload("linear_issue_completed.json")
    data = {
        **event["data"],
        "canceledAt": "2021-03-12T02:10:41.317Z",
        "completedAt": None,
        "state": {"id": "c1", "color": "#95a2b3", "name": "Canceled", "type": "canceled"},
    }
    was = {"stateId": "s-done", "completedAt": "2021-03-11T00:00:00.000Z", "canceledAt": None}
    assert _read(*_delivery("linear_issue_completed.json", data=data, updatedFrom=was)) == []


@pytest.mark.parametrize(
    "changes",
    [
        {},  # the docs' example: a comment created
        {"type": "Issue", "action": "create"},
        {"type": "Issue", "action": "update", "updatedFrom": {"title": "Old title"}},
    ],
    ids=["comment", "issue-created", "title-changed"],
)
def test_anything_but_a_state_change_reads_as_no_change(changes: dict[str, Any]) -> None:
    fixture = "linear_comment_create.json" if not changes else "linear_issue_completed.json"
    assert _read(*_delivery(fixture, **changes)) == []


@pytest.mark.parametrize(
    "off", [timedelta(seconds=61), timedelta(seconds=-61)], ids=["old", "ahead"]
)
def test_a_delivery_stamped_more_than_a_minute_off_is_refused_401(off: timedelta) -> None:
    with pytest.raises(WebhookRefused) as refused:
        _read(*_delivery("linear_issue_completed.json", sent=NOW - off))
    assert refused.value.status == 401
    assert "webhookTimestamp" in refused.value.reason


def test_a_delivery_stamped_within_the_minute_is_read() -> None:
    [change] = _read(*_delivery("linear_issue_completed.json", sent=NOW - timedelta(seconds=59)))
    assert change.state == "done"


def test_a_delivery_without_a_timestamp_is_refused_401() -> None:
    event = payload("linear_issue_completed.json")
    del event["webhookTimestamp"]
    body = json.dumps(event).encode()
    headers = {"Linear-Signature": hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()}
    with pytest.raises(WebhookRefused) as refused:
        _read(headers, body)
    assert refused.value.status == 401


@pytest.mark.parametrize(
    "signature",
    [None, "another secret", "0" * 64, "é"],
    ids=["missing", "other-secret", "zeros", "non-ascii"],
)
def test_a_delivery_not_signed_with_our_secret_is_refused_401(signature: str | None) -> None:
    headers, body = _delivery("linear_issue_completed.json")
    if signature is None:
        del headers["Linear-Signature"]
    elif signature == "another secret":
        headers, body = _delivery("linear_issue_completed.json", secret=signature)
    else:
        headers["Linear-Signature"] = signature
    with pytest.raises(WebhookRefused) as refused:
        _read(headers, body)
    assert refused.value.status == 401
    assert "Linear-Signature" in refused.value.reason


def test_a_tampered_body_is_refused_401() -> None:
    headers, body = _delivery("linear_issue_completed.json")
    with pytest.raises(WebhookRefused) as refused:
        _read(headers, body.replace(b"ENG-42", b"ENG-41"))
    assert refused.value.status == 401


def test_a_signed_body_that_is_not_json_is_refused_400() -> None:
    body = b"not json"
    headers = {"Linear-Signature": hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()}
    with pytest.raises(WebhookRefused) as refused:
        _read(headers, body)
    assert refused.value.status == 400
