"""CloudWatch alarms in SNS envelopes: mapping, the string SNS signs, and signatures.

Fixtures (payloads/README.md): AWS's example SNS messages from the SNS developer guide,
and the CloudWatch alarm of aws/aws-lambda-go's testdata, re-signed with a test key.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.alerts import AlertPayloadError, parse, parse_notification
from bot.alerts.sns import (
    is_sns_url,
    load_certificate,
    read_envelope,
    string_to_sign,
    verify_signature,
)
from tests.bot.alerts.payloads import dump, load, raw
from tests.support.sns import alarm_notification, certificate_pem, signed

NOW = datetime.now(UTC)


def test_alarm_fires_an_alert_keyed_by_its_arn():
    [alert] = parse("cloudwatch", dump(alarm_notification("ALARM")))

    assert alert.status == "firing"
    assert alert.title == "EXAMPLE"
    assert alert.fingerprint == "arn:aws:cloudwatch:us-west-2:123456789012:alarm:EXAMPLE"
    assert alert.group_key == alert.fingerprint
    assert alert.starts_at == datetime(2015, 6, 3, 17, 43, 27, 123000, tzinfo=UTC)
    assert alert.ends_at is None
    assert alert.severity is None  # alarms state none: the playbook decides
    assert alert.labels == {
        "alarm_name": "EXAMPLE",
        "aws_account": "123456789012",
        "namespace": "AWS/EC2",
        "metric": "NetworkOut",
        "InstanceId": "TestInstance",
    }
    assert alert.annotations["reason"].startswith("Threshold Crossed: 1 out of the last 1")
    assert alert.annotations["region"] == "US West (Oregon)"
    assert alert.annotations["sns_topic_arn"] == "arn:aws:sns:us-west-2:123456789012:MyTopic"
    assert alert.url == (
        "https://us-west-2.console.aws.amazon.com/cloudwatch/home?region=us-west-2"
        "#alarmsV2:alarm/EXAMPLE"
    )


def test_ok_resolves_the_same_alert():
    [fired] = parse("cloudwatch", dump(alarm_notification("ALARM")))
    [resolved] = parse("cloudwatch", dump(alarm_notification("OK", message_id="other")))

    assert resolved.status == "resolved"
    assert (resolved.fingerprint, resolved.group_key) == (fired.fingerprint, fired.group_key)
    assert resolved.ends_at == datetime(2015, 6, 3, 17, 58, 27, 123000, tzinfo=UTC)


def test_insufficient_data_gives_no_alert():
    assert parse("cloudwatch", dump(alarm_notification("INSUFFICIENT_DATA"))) == []


@pytest.mark.parametrize(
    "name", ["sns_subscription_confirmation.json", "sns_unsubscribe_confirmation.json"]
)
def test_confirmations_give_no_alert(name: str):
    assert parse("cloudwatch", raw(name)) == []


def test_the_message_id_is_the_delivery_id():
    parsed = parse_notification("cloudwatch", dump(alarm_notification(message_id="m-1")))

    assert parsed.delivery_id == "m-1"


def test_a_message_that_is_no_alarm_is_422_saying_so():
    with pytest.raises(AlertPayloadError) as caught:
        parse("cloudwatch", raw("sns_notification.json"))  # "Hello world!"

    assert caught.value.status_code == 422
    assert caught.value.message == (
        "the SNS Message is not a CloudWatch alarm: it is not JSON (it starts 'Hello world!')"
    )


def test_an_alarm_without_its_state_is_422_naming_the_field():
    alarm = load("cloudwatch_alarm.json")
    del alarm["NewStateValue"]
    body = dump(signed({**load("sns_notification.json"), "Message": json.dumps(alarm)}))

    with pytest.raises(AlertPayloadError) as caught:
        parse("cloudwatch", body)

    assert caught.value.status_code == 422
    assert caught.value.details == ["Message.NewStateValue: Field required"]


def test_a_body_that_is_not_sns_is_422_naming_the_fields():
    with pytest.raises(AlertPayloadError) as caught:
        parse("cloudwatch", raw("datadog_triggered.json"))

    assert caught.value.status_code == 422
    assert caught.value.message == "body is not an Amazon SNS message"
    assert "Type: Field required" in caught.value.details


# The examples of AWS's "Verifying the signatures of Amazon SNS messages".
def test_string_to_sign_of_a_notification_is_the_one_aws_documents():
    message = read_envelope(
        {
            "Type": "Notification",
            "MessageId": "4d4dc071-ddbf-465d-bba8-08f81c89da64",
            "TopicArn": "arn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P",
            "Subject": "My subject",
            "Message": "My Test Message",
            "Timestamp": "2019-01-31T04:37:04.321Z",
            "SignatureVersion": "1",
            "Signature": "x",
            "SigningCertURL": "https://sns.us-east-2.amazonaws.com/x.pem",
        }
    )

    assert string_to_sign(message) == (
        b"Message\nMy Test Message\nMessageId\n4d4dc071-ddbf-465d-bba8-08f81c89da64\n"
        b"Subject\nMy subject\nTimestamp\n2019-01-31T04:37:04.321Z\n"
        b"TopicArn\narn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P\n"
        b"Type\nNotification\n"
    )


def test_string_to_sign_of_a_confirmation_is_the_one_aws_documents():
    url = (
        "https://sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn="
        "arn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P&Token=233..."
    )
    message = read_envelope(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": "3d891288-136d-417f-bc05-901c108273ee",
            "Token": "233...",
            "TopicArn": "arn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P",
            "Message": "My Test Message",
            "SubscribeURL": url,
            "Timestamp": "2019-01-31T19:25:13.719Z",
            "SignatureVersion": "1",
            "Signature": "x",
            "SigningCertURL": "https://sns.us-east-2.amazonaws.com/x.pem",
        }
    )

    assert (
        string_to_sign(message)
        == (
            "Message\nMy Test Message\nMessageId\n3d891288-136d-417f-bc05-901c108273ee\n"
            f"SubscribeURL\n{url}\nTimestamp\n2019-01-31T19:25:13.719Z\nToken\n233...\n"
            "TopicArn\narn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P\n"
            "Type\nSubscriptionConfirmation\n"
        ).encode()
    )


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize(
    "name",
    [
        "sns_notification.json",
        "sns_subscription_confirmation.json",
        "sns_unsubscribe_confirmation.json",
    ],
)
def test_signatures_verify_for_both_versions_and_every_type(name: str, version: str):
    message = read_envelope(signed(load(name), version))
    certificate = load_certificate(certificate_pem())

    assert verify_signature(message, certificate, NOW)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Message", "Hello world?"),
        ("Subject", "My Second Message"),
        ("TopicArn", "arn:aws:sns:us-west-2:123456789012:OtherTopic"),
        ("Timestamp", "2012-05-02T00:54:07.655Z"),
        ("SignatureVersion", "2"),  # signed as SHA1, checked as SHA256
        ("Signature", "bm90IGEgc2lnbmF0dXJl"),
        ("Signature", "not base64!"),
    ],
)
def test_a_changed_message_does_not_verify(field: str, value: str):
    message = read_envelope({**signed(load("sns_notification.json")), field: value})

    assert not verify_signature(message, load_certificate(certificate_pem()), NOW)


def test_an_expired_certificate_does_not_verify():
    message = read_envelope(signed(load("sns_notification.json")))

    later = NOW + timedelta(days=60)
    assert not verify_signature(message, load_certificate(certificate_pem()), later)


@pytest.mark.parametrize(
    ("url", "certificate", "allowed"),
    [
        ("https://sns.us-west-2.amazonaws.com/SimpleNotificationService-abc.pem", True, True),
        ("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-a.pem", True, True),
        ("https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=x", False, True),
        ("http://sns.us-west-2.amazonaws.com/SimpleNotificationService-abc.pem", True, False),
        ("https://sns.us-west-2.amazonaws.com/cert.txt", True, False),
        ("https://sns.us-west-2.amazonaws.com.evil.example/c.pem", True, False),
        ("https://evil.example/sns.us-west-2.amazonaws.com/c.pem", True, False),
        ("https://sns.us-west-2.amazonaws.com@evil.example/c.pem", True, False),
        ("https://user@sns.us-west-2.amazonaws.com/c.pem", True, False),
        ("https://sns.us-west-2.amazonaws.com:8443/c.pem", True, False),
        ("https://s3.us-west-2.amazonaws.com/c.pem", True, False),
        ("https://sns.amazonaws.com/c.pem", True, False),
        ("https://[::1/c.pem", True, False),
        ("", True, False),
    ],
)
def test_only_https_sns_hosts_of_aws_are_trusted(url: str, certificate: bool, allowed: bool):
    assert is_sns_url(url, certificate=certificate) is allowed
