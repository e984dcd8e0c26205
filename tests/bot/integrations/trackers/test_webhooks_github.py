"""GitHub's `issues` webhook read into ticket changes, its signature checked first.

Payloads: see payloads/README.md. Signature: https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from bot.integrations.trackers.base import TicketChange, WebhookRefused
from bot.integrations.trackers.webhooks_github import github_reader
from tests.bot.integrations.trackers.conftest import payload, raw

SECRET = "It's a Secret to Everybody"


def _signed(body: bytes, event: str = "issues", secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-Hub-Signature-256": f"sha256={digest}",
        "Content-Type": "application/json",
    }


def test_the_documented_signature_example_verifies() -> None:
    # The test values of the page above: this secret, "Hello, World!", and this digest.
    read = github_reader(SECRET)
    expected = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    headers = {"X-Hub-Signature-256": f"sha256={expected}", "X-GitHub-Event": "ping"}
    with pytest.raises(WebhookRefused) as refused:
        read(headers, b"Hello, World!", {})
    assert refused.value.status == 400  # signature accepted; the body is just not JSON


def test_a_closed_issue_reads_as_done_by_its_sender() -> None:
    body = raw("github_issues_closed.json")
    changes = github_reader(SECRET)(_signed(body), body, {})
    assert changes == [
        TicketChange(
            tracker="github",
            key="Codertocat/Hello-World#1",
            state="done",
            actor="octocat",
            at=datetime(2021, 7, 5, 18, 7, 10, tzinfo=UTC),
        )
    ]


def test_a_reopened_issue_reads_as_open_at_its_update() -> None:
    body = raw("github_issues_reopened.json")
    # Header names in any case: another server may lower them.
    headers = {k.lower(): v for k, v in _signed(body).items()}
    changes = github_reader(SECRET)(headers, body, {})
    assert changes == [
        TicketChange(
            tracker="github",
            key="Codertocat/Hello-World#1",
            state="open",
            actor="Codertocat",
            at=datetime(2021, 10, 11, 16, 40, 56, tzinfo=UTC),
        )
    ]


def test_an_issue_closed_as_not_planned_still_closes_the_follow_up() -> None:
    event = payload("github_issues_closed.json")
    event["issue"]["state_reason"] = "not_planned"
    body = json.dumps(event).encode()
    [change] = github_reader(SECRET)(_signed(body), body, {})
    assert change.state == "done"


def test_a_form_encoded_delivery_is_read_from_its_payload_field() -> None:
    body = urlencode({"payload": raw("github_issues_closed.json").decode()}).encode()
    headers = {**_signed(body), "Content-Type": "application/x-www-form-urlencoded"}
    [change] = github_reader(SECRET)(headers, body, {})
    assert (change.key, change.state) == ("Codertocat/Hello-World#1", "done")


@pytest.mark.parametrize(
    ("event", "fixture", "action"),
    [
        ("ping", "github_ping.json", None),
        ("issues", "github_issues_closed.json", "labeled"),
        ("issues", "github_issues_closed.json", "opened"),
        ("issue_comment", "github_issues_closed.json", "created"),
    ],
    ids=["ping", "labeled", "opened", "issue_comment"],
)
def test_other_events_and_actions_read_as_no_change(
    event: str, fixture: str, action: str | None
) -> None:
    body = raw(fixture)
    if action is not None:
        body = json.dumps({**payload(fixture), "action": action}).encode()
    assert github_reader(SECRET)(_signed(body, event), body, {}) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"X-GitHub-Event": "issues"},
        _signed(raw("github_issues_closed.json"), secret="another secret"),
        {**_signed(raw("github_issues_closed.json")), "X-Hub-Signature-256": "sha256=zz"},
        {**_signed(raw("github_issues_closed.json")), "X-Hub-Signature-256": "sha256=é"},
    ],
    ids=["missing", "other-secret", "not-hex", "non-ascii"],
)
def test_a_delivery_not_signed_with_our_secret_is_refused_401(headers: dict[str, str]) -> None:
    with pytest.raises(WebhookRefused) as refused:
        github_reader(SECRET)(headers, raw("github_issues_closed.json"), {})
    assert refused.value.status == 401
    assert "X-Hub-Signature-256" in refused.value.reason


def test_a_tampered_body_is_refused_401() -> None:
    body = raw("github_issues_closed.json")
    tampered = body.replace(b'"number": 1', b'"number": 2')
    with pytest.raises(WebhookRefused) as refused:
        github_reader(SECRET)(_signed(body), tampered, {})
    assert refused.value.status == 401


def test_a_signed_body_that_is_not_json_is_refused_400() -> None:
    body = b"{not json"
    with pytest.raises(WebhookRefused) as refused:
        github_reader(SECRET)(_signed(body), body, {})
    assert (refused.value.status, refused.value.reason) == (400, "the body is not JSON")


def test_a_closed_event_without_its_issue_number_is_refused_422() -> None:
    event = payload("github_issues_closed.json")
    del event["issue"]["number"]
    body = json.dumps(event).encode()
    with pytest.raises(WebhookRefused) as refused:
        github_reader(SECRET)(_signed(body), body, {})
    assert refused.value.status == 422


def test_an_empty_secret_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="GitHub webhook secret is empty"):
        github_reader("")
