"""Amazon SNS at `/alerts/cloudwatch`: who may post (signature and topic), and confirmations.

SNS cannot send a token, so its authentication is the message itself: a topic named in
WARROOM_SNS_TOPIC_ARNS, and a signature that verifies with the certificate SNS points to,
fetched over https from an SNS host of AWS (and cached). A SubscriptionConfirmation is
answered 2xx only once its SubscribeURL answered 2xx: otherwise SNS is told to retry.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
from fastapi.responses import JSONResponse

from bot.alerts.errors import AlertPayloadError
from bot.alerts.sns import (
    SnsMessage,
    is_sns_url,
    load_certificate,
    read_envelope,
    verify_signature,
)
from bot.web.errors import WebError

if TYPE_CHECKING:
    # cryptography loads on the first signature checked, not when the service starts.
    from cryptography import x509

log = logging.getLogger(__name__)

SOURCE = "cloudwatch"
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
CACHED_CERTIFICATES = 16  # SNS signs with one certificate per region at a time
MAX_CERTIFICATE = 64 * 1024

NO_TOPICS = (
    "WARROOM_SNS_TOPIC_ARNS is empty: every SNS topic is refused; list the topic ARNs "
    "whose CloudWatch alarms warroom should take"
)


def _decode(body: bytes) -> Any:
    # Not the alert route's decoder: that one rewrites unsafe escapes, and the signature
    # covers the text exactly as SNS sent it.
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError):
        raise WebError(400, "body is not JSON: SNS sends a JSON document") from None


def _error(error: AlertPayloadError) -> WebError:
    return WebError(error.status_code, error.to_dict())


class SnsGate:
    """Verifies SNS messages and confirms subscriptions, over one HTTP client.

    Args:
        topics: the accepted TopicArns.
        client: the shared client, or None to open one per fetch (tests, bare apps).
        now: the current time, for the certificate's validity.
    """

    def __init__(
        self,
        topics: frozenset[str],
        client: httpx.AsyncClient | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.topics = topics
        self.client = client
        self.now = now
        self.certificates: OrderedDict[str, x509.Certificate] = OrderedDict()

    async def _get(self, url: str) -> httpx.Response:
        # Never follow a redirect: it could lead off the SNS host we checked.
        if self.client is not None:
            return await self.client.get(url, follow_redirects=False, timeout=TIMEOUT)
        async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as client:
            return await client.get(url)

    async def _certificate(self, url: str) -> x509.Certificate:
        cached = self.certificates.get(url)
        if cached is not None:
            self.certificates.move_to_end(url)
            return cached
        try:
            response = await self._get(url)
        except httpx.HTTPError as error:
            log.warning("could not fetch the SNS signing certificate %s: %r", url, error)
            raise WebError(
                503, f"could not fetch the SNS signing certificate {url}; retry later"
            ) from None
        if response.status_code != 200 or len(response.content) > MAX_CERTIFICATE:
            raise WebError(
                503,
                f"the SNS signing certificate {url} answered HTTP {response.status_code}; "
                "retry later",
            )
        try:
            certificate = load_certificate(response.content)
        except ValueError:
            raise WebError(401, f"SigningCertURL {url} is not a PEM certificate") from None
        self.certificates[url] = certificate
        while len(self.certificates) > CACHED_CERTIFICATES:
            self.certificates.popitem(last=False)
        return certificate

    async def verify(self, body: bytes) -> SnsMessage:
        """Admit a message from an allowed topic whose signature verifies, or raise WebError.

        403 for a topic not allowed (or none configured), 401 for a signature that does
        not verify or a certificate from anywhere but SNS, 422 for a body that is not an
        SNS message, 503 when the certificate cannot be fetched (SNS retries).
        """
        try:
            message = read_envelope(_decode(body))
        except AlertPayloadError as error:
            raise _error(error) from None
        if not self.topics:
            raise WebError(403, NO_TOPICS)
        if message.topic_arn not in self.topics:
            raise WebError(
                403,
                f"SNS topic {message.topic_arn} is not in WARROOM_SNS_TOPIC_ARNS",
            )
        if not is_sns_url(message.signing_cert_url, certificate=True):
            raise WebError(
                401,
                "SigningCertURL must be an https .pem URL on an SNS host of AWS "
                f"(sns.<region>.amazonaws.com), not {message.signing_cert_url!r}",
            )
        certificate = await self._certificate(message.signing_cert_url)
        if not verify_signature(message, certificate, self.now()):
            raise WebError(401, "the SNS message signature does not verify")
        return message

    async def confirm(self, message: SnsMessage) -> JSONResponse:
        """Visit a SubscriptionConfirmation's SubscribeURL; 200 once SNS accepted it."""
        url = message.subscribe_url
        if not is_sns_url(url):
            raise WebError(
                422,
                "SubscribeURL must be an https URL on an SNS host of AWS "
                f"(sns.<region>.amazonaws.com), not {url!r}",
            )
        assert url is not None
        try:
            response = await self._get(url)
        except httpx.HTTPError as error:
            log.warning("confirming SNS subscription to %s failed: %r", message.topic_arn, error)
            raise WebError(
                502, f"could not reach SNS to confirm the subscription to {message.topic_arn}"
            ) from None
        if not 200 <= response.status_code < 300:
            log.warning(
                "SNS refused the confirmation for %s: HTTP %d",
                message.topic_arn,
                response.status_code,
            )
            raise WebError(
                502,
                f"SNS answered HTTP {response.status_code} to the confirmation of "
                f"{message.topic_arn}; the subscription is not confirmed",
            )
        log.info("confirmed the SNS subscription to %s", message.topic_arn)
        return JSONResponse({"sns": "subscription confirmed", "topic_arn": message.topic_arn})

    async def control(self, body: bytes) -> JSONResponse | None:
        """Answer a verified body that is not a Notification; None for a Notification."""
        message = read_envelope(_decode(body))
        if message.type == "SubscriptionConfirmation":
            return await self.confirm(message)
        if message.type == "UnsubscribeConfirmation":
            log.warning("SNS unsubscribed this endpoint from %s", message.topic_arn)
            return JSONResponse({"sns": "unsubscribe acknowledged", "topic_arn": message.topic_arn})
        return None
