"""Jira Cloud's `jira:issue_updated` webhook read into ticket changes, its secret checked
as a signature (`X-Hub-Signature`) or in the URL (`?secret=`).

Payloads: see payloads/README.md. Secret and signature:
https://developer.atlassian.com/cloud/jira/platform/webhooks/ ("Secure admin webhooks")
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.integrations.trackers.base import TicketChange, WebhookRefused
from bot.integrations.trackers.webhooks_jira import jira_reader
from tests.bot.integrations.trackers.conftest import payload, raw

SECRET = "jira-webhook-secret-0123456789"


def _signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature": f"sha256={digest}", "Content-Type": "application/json"}


def _bytes(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def test_an_issue_moved_to_done_reads_as_done() -> None:
    body = raw("jira_issue_resolved.json")
    assert jira_reader(SECRET)(_signed(body), body, {}) == [
        TicketChange(
            tracker="jira",
            key="JRA-20002",
            state="done",
            actor="Bryan Rollins [Atlassian]",
            at=datetime.fromtimestamp(1525698999, UTC),
        )
    ]


def test_an_issue_moved_out_of_done_reads_as_open() -> None:
    body = raw("jira_issue_reopened.json")
    [change] = jira_reader(SECRET)(_signed(body), body, {})
    assert (change.key, change.state, change.at) == (
        "JRA-20002",
        "open",
        datetime.fromtimestamp(1525699999, UTC),
    )


def test_the_secret_in_the_url_is_enough_when_the_hook_is_not_signed() -> None:
    body = raw("jira_issue_resolved.json")
    [change] = jira_reader(SECRET)({}, body, {"secret": SECRET})
    assert change.state == "done"


def test_the_documented_example_changes_no_status_so_reads_as_no_change() -> None:
    body = raw("jira_issue_updated.json")  # a summary and an issue-type change
    assert jira_reader(SECRET)(_signed(body), body, {}) == []


def test_other_events_read_as_no_change() -> None:
    event = payload("jira_issue_resolved.json")
    for name in ("jira:issue_created", "comment_created", "jira:issue_deleted"):
        body = _bytes({**event, "webhookEvent": name})
        assert jira_reader(SECRET)(_signed(body), body, {}) == []


def test_without_the_status_in_the_payload_the_resolution_decides() -> None:
    resolved = payload("jira_issue_resolved.json")
    del resolved["issue"]["fields"]["status"]
    reopened = payload("jira_issue_reopened.json")
    del reopened["issue"]["fields"]["status"]
    states = []
    for event in (resolved, reopened):
        body = _bytes(event)
        states += [c.state for c in jira_reader(SECRET)(_signed(body), body, {})]
    assert states == ["done", "open"]


def test_a_move_between_two_open_statuses_reads_as_open() -> None:
    event = payload("jira_issue_reopened.json")
    event["changelog"]["items"] = [
        {
            "field": "status",
            "fieldtype": "jira",
            "fieldId": "status",
            "from": "10000",
            "fromString": "To Do",
            "to": "3",
            "toString": "In Progress",
        }
    ]
    event["issue"]["fields"]["status"]["statusCategory"]["key"] = "indeterminate"
    body = _bytes(event)
    [change] = jira_reader(SECRET)(_signed(body), body, {})
    assert change.state == "open"  # an open follow-up told "open" stays as it is


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({}, {}),
        (_signed(raw("jira_issue_resolved.json"), secret="another"), {}),
        ({}, {"secret": "another"}),
        ({"X-Hub-Signature": "sha256=é"}, {"secret": "é"}),
    ],
    ids=["nothing", "signed-with-another", "wrong-query-secret", "non-ascii"],
)
def test_a_delivery_without_our_secret_is_refused_401(
    headers: dict[str, str], query: dict[str, str]
) -> None:
    with pytest.raises(WebhookRefused) as refused:
        jira_reader(SECRET)(headers, raw("jira_issue_resolved.json"), query)
    assert refused.value.status == 401


def test_a_tampered_body_is_refused_401() -> None:
    body = raw("jira_issue_resolved.json")
    with pytest.raises(WebhookRefused) as refused:
        jira_reader(SECRET)(_signed(body), body.replace(b"JRA-20002", b"JRA-1"), {})
    assert refused.value.status == 401


def test_a_body_that_is_not_a_json_object_is_refused_400() -> None:
    for body in (b"<xml/>", b"[]"):
        with pytest.raises(WebhookRefused) as refused:
            jira_reader(SECRET)(_signed(body), body, {})
        assert refused.value.status == 400


def test_a_status_change_without_the_issue_key_is_refused_422() -> None:
    event = payload("jira_issue_resolved.json")
    del event["issue"]["key"]
    body = _bytes(event)
    with pytest.raises(WebhookRefused) as refused:
        jira_reader(SECRET)(_signed(body), body, {})
    assert refused.value.status == 422
