"""GitHub's `issues` webhook: an issue closed or reopened there, read as a ticket change.

Each delivery is signed with the webhook's secret: `X-Hub-Signature-256: sha256=<hex>`, the
HMAC-SHA256 of the raw body (docs.github.com/en/webhooks/using-webhooks/
validating-webhook-deliveries). An issue closed as "not planned" closes the follow-up too:
either way nobody is working on it there any more, and a follow-up left open here would
only turn overdue.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal
from urllib.parse import parse_qs

from bot.integrations.trackers.base import TicketChange, WebhookReader, WebhookRefused
from bot.integrations.trackers.webhook_checks import (
    dig,
    header,
    hmac_sha256_hex,
    iso_time,
    json_object,
    require_secret,
    same,
    text,
)

SIGNATURE = "X-Hub-Signature-256"
EVENT = "X-GitHub-Event"
STATES: dict[str, Literal["done", "open"]] = {"closed": "done", "reopened": "open"}


def github_reader(secret: str) -> WebhookReader:
    """A reader for `POST /webhooks/github`, checking deliveries against `secret`."""
    key = require_secret(secret, "GitHub")

    def read(
        headers: Mapping[str, str], body: bytes, query: Mapping[str, str]
    ) -> list[TicketChange]:
        signature = header(headers, SIGNATURE)
        if not signature:
            raise WebhookRefused(401, f"{SIGNATURE} is missing")
        if not same(signature, "sha256=" + hmac_sha256_hex(key, body)):
            raise WebhookRefused(401, f"{SIGNATURE} does not match the body")
        payload = json_object(_json_part(headers, body))
        # `ping` (sent when the hook is made) and every other event say nothing of tickets.
        if header(headers, EVENT) != "issues":
            return []
        state = STATES.get(str(payload.get("action")))
        if state is None:
            return []
        repository = text(dig(payload, "repository", "full_name"))
        number = dig(payload, "issue", "number")
        if repository is None or isinstance(number, bool) or not isinstance(number, int):
            raise WebhookRefused(
                422, "an issues event without repository.full_name and issue.number"
            )
        issue = payload["issue"]
        at = iso_time(issue.get("closed_at") if state == "done" else None)
        return [
            TicketChange(
                tracker="github",
                key=f"{repository}#{number}",
                state=state,
                actor=text(dig(payload, "sender", "login")),
                at=at or iso_time(issue.get("updated_at")),
            )
        ]

    return read


def _json_part(headers: Mapping[str, str], body: bytes) -> bytes:
    """The JSON of a delivery: the body itself, or its `payload` field when the hook was
    set to send `application/x-www-form-urlencoded` (the signature covers the whole body)."""
    kind = (header(headers, "Content-Type") or "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return body
    try:
        fields = parse_qs(body.decode("utf-8"), strict_parsing=True)
    except (UnicodeDecodeError, ValueError) as error:
        raise WebhookRefused(400, "the form body cannot be read") from error
    values = fields.get("payload")
    if not values:
        raise WebhookRefused(400, "the form body has no payload field")
    return values[0].encode("utf-8")
