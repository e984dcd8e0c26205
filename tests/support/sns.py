"""Sign SNS messages as Amazon SNS would, with a test key and a self-signed certificate.

AWS's private key is not ours, so the tests make their own and serve its certificate
(through respx) at an SNS-looking URL. The canonical string is written out here from
AWS's "Verifying the signatures of Amazon SNS messages", independently of bot.alerts.sns,
so a mistake there cannot hide behind the same mistake here.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from tests.bot.alerts.payloads import load

TOPIC = "arn:aws:sns:us-west-2:123456789012:MyTopic"
CERT_URL = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem"
NOTIFICATION_KEYS = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
CONFIRMATION_KEYS = [
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
]


@cache
def key_and_certificate() -> tuple[rsa.RSAPrivateKey, bytes]:
    """One RSA key and its self-signed PEM certificate per test process (keys are slow)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, certificate.public_bytes(serialization.Encoding.PEM)


def certificate_pem() -> bytes:
    """The PEM certificate whose key signs every message of `signed`."""
    return key_and_certificate()[1]


def canonical(message: dict[str, Any]) -> bytes:
    """The string to sign, per message type, keys in byte order, each `name\\nvalue\\n`."""
    keys = NOTIFICATION_KEYS if message["Type"] == "Notification" else CONFIRMATION_KEYS
    return "".join(f"{key}\n{message[key]}\n" for key in keys if key in message).encode("utf-8")


def signed(message: dict[str, Any], version: str = "1") -> dict[str, Any]:
    """`message` with SignatureVersion, Signature and SigningCertURL set as SNS sets them."""
    key, _ = key_and_certificate()
    message = {
        **message,
        "SignatureVersion": version,
        "SigningCertURL": message.get("SigningCertURL", CERT_URL),
    }
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = key.sign(canonical(message), padding.PKCS1v15(), algorithm)
    message["Signature"] = base64.b64encode(signature).decode()
    return message


def alarm_notification(
    state: str = "ALARM", message_id: str = "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", **changes: Any
) -> dict[str, Any]:
    """AWS's example Notification carrying AWS's example CloudWatch alarm, signed."""
    alarm = {**load("cloudwatch_alarm.json"), "NewStateValue": state}
    if state == "OK":
        alarm["OldStateValue"] = "ALARM"
        alarm["StateChangeTime"] = "2015-06-03T17:58:27.123+0000"
    envelope = {
        **load("sns_notification.json"),
        "Subject": f'{state}: "EXAMPLE" in US West (Oregon)',
        "Message": json.dumps(alarm),
        "MessageId": message_id,
        **changes,
    }
    return signed(envelope)
