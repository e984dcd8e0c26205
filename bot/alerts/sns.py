"""Amazon SNS HTTP(S) deliveries: the envelope, its signature, and which AWS URLs we trust.

Pure: the signing certificate is fetched by the web adapter (only from a URL that
`is_sns_url` allows) and handed in as PEM bytes. The canonical string to sign is the one
AWS's "Verifying the signatures of Amazon SNS messages" gives: the listed name-value
pairs, each as `name\\nvalue\\n`, in byte order; SignatureVersion 1 signs it with
SHA1withRSA, version 2 with SHA256withRSA.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.alerts.errors import AlertPayloadError, describe_validation_error

if TYPE_CHECKING:
    # cryptography loads on the first signature checked, not when the service starts.
    from cryptography import x509

MessageType = Literal["SubscriptionConfirmation", "Notification", "UnsubscribeConfirmation"]

# sns.<region>.amazonaws.com, and the China partition's sns.<region>.amazonaws.com.cn.
_SNS_HOST = re.compile(r"sns\.[a-z]{2}(-[a-z]+)+-\d\.amazonaws\.com(\.cn)?")

_SIGNED_NOTIFICATION = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_SIGNED_SUBSCRIPTION = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
_HASHES = {"1": "SHA1", "2": "SHA256"}  # SignatureVersion: cryptography's hash class


class SnsMessage(BaseModel):
    """The JSON body SNS POSTs to an HTTP(S) subscription (any of its three types)."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    type: MessageType = Field(alias="Type")
    message_id: str = Field(alias="MessageId", min_length=1)
    topic_arn: str = Field(alias="TopicArn", min_length=1)
    message: str = Field(alias="Message")
    # Kept as sent: the signature covers the exact text.
    timestamp: str = Field(alias="Timestamp")
    signature_version: Literal["1", "2"] = Field(alias="SignatureVersion")
    signature: str = Field(alias="Signature", min_length=1)
    signing_cert_url: str = Field(alias="SigningCertURL", min_length=1)
    subject: str | None = Field(default=None, alias="Subject")
    subscribe_url: str | None = Field(default=None, alias="SubscribeURL")
    token: str | None = Field(default=None, alias="Token")
    unsubscribe_url: str | None = Field(default=None, alias="UnsubscribeURL")


def read_envelope(payload: Any) -> SnsMessage:
    """Validate a decoded SNS body, or raise AlertPayloadError(422) naming each mistake."""
    try:
        return SnsMessage.model_validate(payload)
    except ValidationError as exc:
        raise AlertPayloadError(
            422, "body is not an Amazon SNS message", describe_validation_error(exc)
        ) from None


def string_to_sign(message: SnsMessage) -> bytes:
    """The canonical text SNS signed for this message, as bytes (UTF-8)."""
    fields = _SIGNED_NOTIFICATION if message.type == "Notification" else _SIGNED_SUBSCRIPTION
    values = {
        "Message": message.message,
        "MessageId": message.message_id,
        "Subject": message.subject,
        "SubscribeURL": message.subscribe_url,
        "Timestamp": message.timestamp,
        "Token": message.token,
        "TopicArn": message.topic_arn,
        "Type": message.type,
    }
    parts: list[str] = []
    for name in fields:
        value = values[name]
        if value is None:
            if name == "Subject":
                continue  # signed only when the publisher gave one
            value = ""
        parts.append(f"{name}\n{value}\n")
    return "".join(parts).encode("utf-8")


def is_sns_url(url: str | None, *, certificate: bool = False) -> bool:
    """Whether `url` is https on an SNS host of AWS (and, for a certificate, a .pem path).

    No user info, no port other than 443: what SNS itself sends, nothing that could point
    a request of ours elsewhere.
    """
    if not url:
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme != "https" or parts.username is not None or parts.password is not None:
        return False
    if port not in (None, 443) or not _SNS_HOST.fullmatch(parts.hostname or ""):
        return False
    return not certificate or parts.path.endswith(".pem")


def load_certificate(pem: bytes) -> x509.Certificate:
    """Parse a PEM certificate (raises ValueError if it is not one)."""
    from cryptography import x509

    return x509.load_pem_x509_certificate(pem)


def verify_signature(message: SnsMessage, certificate: x509.Certificate, now: datetime) -> bool:
    """Check the message's signature with the certificate's RSA key, within its validity."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        return False
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        signature = base64.b64decode(message.signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    algorithm: hashes.HashAlgorithm = getattr(hashes, _HASHES[message.signature_version])()
    try:
        key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        return False
    return True
