"""`POST /alerts/cloudwatch` over real HTTP: SNS confirmations, signatures, topics.

SNS's side is played by respx: the SubscribeURL and the signing certificate are the only
outbound calls, and each test says which it expects. Messages are AWS's documented
examples (payloads/README.md), signed with a test key whose certificate respx serves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select

from bot.web.sns import NO_TOPICS
from storage.models import Alert, Incident
from tests.bot.alerts.payloads import dump, load
from tests.bot.web.conftest import BEARER, Served
from tests.support.sns import CERT_URL, TOPIC, alarm_notification, certificate_pem, signed

NOTHING = {"incidents": 0, "alerts": 0, "timeline": 0, "outbox": 0, "deliveries": 0}
# SNS posts JSON as text/plain, with no credentials but the signature.
SNS_HEADERS = {"Content-Type": "text/plain; charset=UTF-8", "User-Agent": "Amazon SNS"}
SUBSCRIBE_URL = load("sns_subscription_confirmation.json")["SubscribeURL"]


@pytest.fixture
def aws() -> Iterator[respx.MockRouter]:
    """SNS's HTTPS endpoints; calls to the app under test go through untouched."""
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="127.0.0.1").pass_through()
        mock.get(CERT_URL, name="certificate").respond(200, content=certificate_pem())
        mock.get(SUBSCRIBE_URL, name="subscribe").respond(
            200, text="<ConfirmSubscriptionResponse/>"
        )
        yield mock


@pytest.fixture
def sns(serve: Callable[..., Served]) -> Served:
    """The app in production shape (Slack credentials, a token) accepting one topic."""
    return serve(slack=True, WARROOM_SNS_TOPIC_ARNS=TOPIC)


def post(web: Served, message: dict[str, Any], headers: dict[str, str] | None = None):
    return web.post(
        "cloudwatch", dump(message), headers=SNS_HEADERS if headers is None else headers
    )


def test_subscription_confirmation_is_confirmed_before_the_answer(
    sns: Served, aws: respx.MockRouter
) -> None:
    response = post(sns, signed(load("sns_subscription_confirmation.json")))

    assert response.status_code == 200, response.text
    assert response.json() == {"sns": "subscription confirmed", "topic_arn": TOPIC}
    assert aws["subscribe"].call_count == 1
    assert aws["certificate"].call_count == 1
    assert sns.counts() == NOTHING


@pytest.mark.parametrize(
    "sns_side",
    [httpx.Response(403, text="<Error>expired token</Error>"), httpx.ConnectError("down")],
    ids=["refused", "unreachable"],
)
def test_a_confirmation_sns_did_not_take_is_5xx_so_sns_sends_it_again(
    sns: Served, aws: respx.MockRouter, sns_side: Any
) -> None:
    if isinstance(sns_side, httpx.Response):
        aws["subscribe"].return_value = sns_side
    else:
        aws["subscribe"].side_effect = sns_side

    response = post(sns, signed(load("sns_subscription_confirmation.json")))

    assert response.status_code == 502
    error = response.json()["error"]
    assert TOPIC in error and "confirm" in error
    assert sns.counts() == NOTHING


def test_a_subscribe_url_over_plain_http_is_never_visited(
    sns: Served, aws: respx.MockRouter
) -> None:
    plain = SUBSCRIBE_URL.replace("https://", "http://")
    message = signed({**load("sns_subscription_confirmation.json"), "SubscribeURL": plain})

    response = post(sns, message)

    assert response.status_code == 422
    assert response.json() == {
        "error": "SubscribeURL must be an https URL on an SNS host of AWS "
        f"(sns.<region>.amazonaws.com), not {plain!r}"
    }
    assert aws["subscribe"].call_count == 0
    assert sns.counts() == NOTHING


def test_unsubscribe_confirmation_is_acknowledged_and_changes_nothing(
    sns: Served, aws: respx.MockRouter
) -> None:
    response = post(sns, signed(load("sns_unsubscribe_confirmation.json")))

    assert response.status_code == 200
    assert response.json() == {"sns": "unsubscribe acknowledged", "topic_arn": TOPIC}
    assert aws["subscribe"].call_count == 0  # re-subscribing is a human's decision
    assert sns.counts() == NOTHING


def test_alarm_opens_an_incident_and_ok_resolves_its_alert(
    sns: Served, aws: respx.MockRouter
) -> None:
    fired = post(sns, alarm_notification("ALARM", message_id="m-alarm"))

    assert fired.status_code == 202, fired.text
    [ref] = fired.json()["incidents"]
    assert ref["created"] is True

    resolved = post(sns, alarm_notification("OK", message_id="m-ok"))

    assert resolved.status_code == 202, resolved.text
    assert resolved.json()["incidents"] == [{**ref, "created": False}]
    with sns.runtime.sessions() as session:
        incident = session.get(Incident, ref["id"])
        assert incident is not None and incident.title == "EXAMPLE"
        alert = session.scalars(select(Alert)).one()
        assert (alert.source, alert.status) == ("cloudwatch", "resolved")
    assert aws["certificate"].call_count == 1  # cached for the second message


def test_signature_version_2_is_accepted(sns: Served, aws: respx.MockRouter) -> None:
    message = alarm_notification()
    message = signed({k: v for k, v in message.items() if k != "Signature"}, version="2")

    response = post(sns, message)

    assert response.status_code == 202, response.text


def test_a_message_sns_delivers_twice_is_stored_once(sns: Served, aws: respx.MockRouter) -> None:
    first = post(sns, alarm_notification(message_id="m-retried"))
    counts = sns.counts()

    again = post(sns, alarm_notification(message_id="m-retried"))

    assert again.status_code == 202
    assert again.json() == first.json()
    assert sns.counts() == counts


def test_insufficient_data_is_acknowledged_without_an_incident(
    sns: Served, aws: respx.MockRouter
) -> None:
    response = post(sns, alarm_notification("INSUFFICIENT_DATA"))

    assert response.status_code == 202
    assert response.json() == {"incidents": [], "alerts": 0}
    assert sns.counts() == NOTHING


def test_a_tampered_message_is_401_and_stores_nothing(sns: Served, aws: respx.MockRouter) -> None:
    message = alarm_notification()
    message["Message"] = message["Message"].replace('"ALARM"', '"OK"')

    response = post(sns, message)

    assert response.status_code == 401
    assert response.json() == {"error": "the SNS message signature does not verify"}
    assert sns.counts() == NOTHING


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
        "http://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb72.pem",
        "https://sns.us-west-2.amazonaws.com/not-a-certificate.txt",
    ],
    ids=["other-host", "plain-http", "not-pem"],
)
def test_a_certificate_from_anywhere_but_sns_is_never_fetched(
    sns: Served, aws: respx.MockRouter, url: str
) -> None:
    # SigningCertURL is not part of the signed text: a forger could point it anywhere.
    message = {**alarm_notification(), "SigningCertURL": url}

    response = post(sns, message)

    assert response.status_code == 401
    assert response.json()["error"].startswith("SigningCertURL must be an https .pem URL")
    assert [
        call.request.url.host for call in aws.calls if call.request.url.host != "127.0.0.1"
    ] == []
    assert sns.counts() == NOTHING


def test_a_topic_not_allowed_is_403_and_stores_nothing(sns: Served, aws: respx.MockRouter) -> None:
    other = "arn:aws:sns:us-west-2:123456789012:SomeoneElsesTopic"

    response = post(sns, alarm_notification(TopicArn=other))

    assert response.status_code == 403
    assert response.json() == {"error": f"SNS topic {other} is not in WARROOM_SNS_TOPIC_ARNS"}
    assert aws["certificate"].call_count == 0
    assert sns.counts() == NOTHING


def test_without_allowed_topics_every_sns_message_is_403(
    serve: Callable[..., Served], aws: respx.MockRouter
) -> None:
    web = serve(slack=True)

    response = post(web, signed(load("sns_subscription_confirmation.json")))

    assert response.status_code == 403
    assert response.json() == {"error": NO_TOPICS}
    assert aws["subscribe"].call_count == 0


def test_the_alert_token_does_not_replace_the_signature(sns: Served, aws: respx.MockRouter) -> None:
    message = {**alarm_notification(), "Signature": "bm90IHNpZ25lZA=="}

    response = post(sns, message, headers=BEARER)

    assert response.status_code == 401
    assert sns.counts() == NOTHING


def test_a_certificate_sns_cannot_serve_now_is_503_so_sns_retries(
    sns: Served, aws: respx.MockRouter
) -> None:
    aws["certificate"].return_value = httpx.Response(500)

    response = post(sns, alarm_notification())

    assert response.status_code == 503
    assert "retry later" in response.json()["error"]
    assert sns.counts() == NOTHING


def test_a_body_that_is_not_sns_is_422(sns: Served, aws: respx.MockRouter) -> None:
    response = sns.post("cloudwatch", dump(load("datadog_triggered.json")))

    assert response.status_code == 422
    assert response.json()["error"] == "body is not an Amazon SNS message"
    assert sns.counts() == NOTHING
