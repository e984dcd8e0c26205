"""Who may call `/alerts/*` and `/api/*`: WARROOM_ALERT_TOKEN, a source's signature, or loopback.

- Token set: `Authorization: Bearer <token>`, or basic auth with the token as password
  (any user name, as Alertmanager's `basic_auth` and Grafana's contact points send it).
  On the alert routes a valid Grafana signature authenticates too, and a PagerDuty
  signature, whenever present, must verify (and then authenticates).
- `/alerts/cloudwatch` is Amazon SNS, which cannot send a token: a message from a topic
  in WARROOM_SNS_TOPIC_ARNS whose signature verifies is admitted, and nothing else is
  (a token does not replace the signature there; see `bot.web.sns`).
- Token unset, sandbox mode: only loopback clients, so a laptop demo needs no setup.
- Token unset, real Slack credentials: everything is refused; an open webhook in
  production would let anyone page the on-call.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import time
from collections.abc import Awaitable, Callable

from fastapi import Request

from bot.alerts import verify_grafana_signature, verify_pagerduty_signature
from bot.alerts.grafana import SIGNATURE_HEADER as GRAFANA_SIGNATURE
from bot.alerts.grafana import TIMESTAMP_HEADER as GRAFANA_TIMESTAMP
from bot.alerts.pagerduty import SIGNATURE_HEADER as PAGERDUTY_SIGNATURE
from bot.composition.config import Settings
from bot.web.body import read_body
from bot.web.errors import WebError
from bot.web.origin import browser_refusal
from bot.web.sns import SOURCE as SNS_SOURCE
from bot.web.sns import SnsGate

SIGNATURE_MAX_AGE = 300.0  # seconds, like Slack's request signatures

TOKEN_REQUIRED = (
    "WARROOM_ALERT_TOKEN must be set: with Slack credentials configured, "
    "/alerts and /api refuse every request until it is"
)
LOOPBACK_ONLY = "WARROOM_ALERT_TOKEN is not set: in sandbox mode only loopback clients are allowed"
MISSING = "authentication required: send Authorization: Bearer <WARROOM_ALERT_TOKEN>"
WRONG = "wrong token"

Authenticator = Callable[[Request], Awaitable[None]]


def unauthorized(message: str) -> WebError:
    """A 401 answer in our JSON shape, with the challenge HTTP requires."""
    return WebError(401, message, headers={"WWW-Authenticate": "Bearer"})


def is_loopback(host: str | None) -> bool:
    """Tell whether a client address is 127.0.0.0/8 or ::1 (also IPv4-mapped)."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def presented_secret(authorization: str | None) -> bytes | None:
    """The token a request presents: the bearer token, or the basic-auth password."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if not value:
        return None
    # Starlette decodes header bytes as latin-1; encoding back restores the exact bytes.
    raw = value.encode("latin-1", "replace")
    if scheme.lower() == "bearer":
        return raw
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            return None
        _user, colon, password = decoded.partition(b":")
        return password if colon else None
    return None


def token_matches(presented: bytes | None, token: str) -> bool:
    """Compare in constant time, on bytes (compare_digest refuses non-ASCII str)."""
    if presented is None:
        return False
    return hmac.compare_digest(presented, token.encode("utf-8"))


def require_auth(
    settings: Settings,
    *,
    signatures: bool = False,
    sns: SnsGate | None = None,
    now: Callable[[], float] = time.time,
) -> Authenticator:
    """Build the dependency that admits a request or raises a 401 WebError.

    Args:
        signatures: also accept the Grafana and PagerDuty webhook signatures, reading
            the (size-capped) body of `/alerts/{source}` to check them.
        sns: with `signatures`, the gate that verifies SNS messages on
            `/alerts/cloudwatch` (without one, that route refuses everything).
        now: Unix time, for the Grafana timestamp window.
    """
    secret = settings.alert_token.get_secret_value() if settings.alert_token else ""
    token = secret or None  # an empty token would let an empty password in
    sandbox = settings.sandbox_mode
    # Configured, a Grafana signature counts only with a fresh timestamp in this header:
    # without one a captured request could be replayed at any time.
    stamp_required = settings.grafana_timestamp_header or None
    limit = settings.max_alert_body  # the signed bodies are the alert routes'

    async def authenticate(request: Request) -> None:
        source = request.path_params.get("source") if signatures else None
        if source == SNS_SOURCE:
            # The signature is the only credential SNS has; it is checked whatever else
            # the request carries, and in sandbox mode too.
            if sns is None:
                raise unauthorized("SNS messages are not accepted here")
            await sns.verify(await read_body(request, limit))
            return
        if token is None and not sandbox:
            raise unauthorized(TOKEN_REQUIRED)
        pagerduty_signature = request.headers.get(PAGERDUTY_SIGNATURE)
        if source == "pagerduty" and pagerduty_signature is not None:
            # A signature that does not verify means a forged or misconfigured sender,
            # whatever token the request also carries.
            body = await read_body(request, limit)
            if token and verify_pagerduty_signature([token], body, pagerduty_signature):
                return
            raise unauthorized(f"{PAGERDUTY_SIGNATURE} does not verify with WARROOM_ALERT_TOKEN")
        if token is None:
            client = request.client.host if request.client else None
            if not is_loopback(client):
                raise unauthorized(LOOPBACK_ONLY)
            refused = browser_refusal(request)
            if refused is not None:
                raise refused
            return
        presented = presented_secret(request.headers.get("authorization"))
        if token_matches(presented, token):
            return
        grafana_signature = request.headers.get(GRAFANA_SIGNATURE)
        if source == "grafana" and grafana_signature:
            body = await read_body(request, limit)
            stamp = request.headers.get(stamp_required or GRAFANA_TIMESTAMP)
            if stamp_required and stamp is None:
                raise unauthorized(
                    f"{GRAFANA_SIGNATURE} needs a timestamp in {stamp_required}: name it as"
                    " the timestamp header of the contact point's HMAC signature settings"
                )
            when = now() if stamp is not None else None
            if verify_grafana_signature(
                token, body, grafana_signature, stamp, now=when, max_age=SIGNATURE_MAX_AGE
            ):
                return
            raise unauthorized(
                f"{GRAFANA_SIGNATURE} does not verify with WARROOM_ALERT_TOKEN"
                " (or its timestamp is more than 5 minutes off)"
            )
        raise unauthorized(MISSING if presented is None else WRONG)

    return authenticate
