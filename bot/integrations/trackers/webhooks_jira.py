"""Jira Cloud's `jira:issue_updated` webhook: an issue moved into or out of Done.

Two ways to share the secret, since Jira offers both (developer.atlassian.com/cloud/jira/
platform/webhooks/, "Secure admin webhooks"):
- a webhook registered with a secret is signed: `X-Hub-Signature: sha256=<hex>`, the
  HMAC-SHA256 of the raw body with that secret;
- one registered without (or through a tool that cannot set it) puts the secret in its
  URL: `https://warroom.example/webhooks/jira?secret=<secret>`.
Either one verifying is enough; each is compared in constant time.

Jira says what changed (`changelog.items`) and where the issue is now
(`issue.fields.status.statusCategory.key`), not which category the old status was in: a
status move that ends in the Done category reads as done, any other status move as open
(an open follow-up told "open" stays as it is). Without the status in the payload, the
resolution decides: set is done, cleared is open.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from bot.integrations.trackers.base import TicketChange, WebhookReader, WebhookRefused
from bot.integrations.trackers.webhook_checks import (
    dig,
    epoch_ms,
    header,
    hmac_sha256_hex,
    json_object,
    require_secret,
    same,
    text,
)

SIGNATURE = "X-Hub-Signature"
EVENT = "jira:issue_updated"


def jira_reader(secret: str) -> WebhookReader:
    """A reader for `POST /webhooks/jira`, checking deliveries against `secret`."""
    key = require_secret(secret, "Jira")

    def read(
        headers: Mapping[str, str], body: bytes, query: Mapping[str, str]
    ) -> list[TicketChange]:
        signature = header(headers, SIGNATURE)
        given = query.get("secret")
        if signature is None and given is None:
            raise WebhookRefused(401, f"neither {SIGNATURE} nor ?secret= was sent")
        signed = signature is not None and same(signature, "sha256=" + hmac_sha256_hex(key, body))
        told = given is not None and same(given, secret)
        if not (signed or told):
            raise WebhookRefused(401, f"{SIGNATURE} or ?secret= does not verify")
        payload = json_object(body)
        if payload.get("webhookEvent") != EVENT:
            return []
        state = _state(payload)
        if state is None:
            return []
        issue_key = text(dig(payload, "issue", "key"))
        if issue_key is None:
            raise WebhookRefused(422, f"a {EVENT} event without issue.key")
        return [
            TicketChange(
                tracker="jira",
                key=issue_key,
                state=state,
                actor=text(dig(payload, "user", "displayName")),
                at=epoch_ms(payload.get("timestamp")),
            )
        ]

    return read


def _state(payload: dict[str, Any]) -> Literal["done", "open"] | None:
    """Done, open, or None when the update moved neither the status nor the resolution."""
    items = dig(payload, "changelog", "items")
    moved = {
        str(item.get("fieldId") or item.get("field")).lower(): item
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict)
    }
    status, resolution = moved.get("status"), moved.get("resolution")
    if status is None and resolution is None:
        return None
    category = text(dig(payload, "issue", "fields", "status", "statusCategory", "key"))
    if category is not None:
        if category == "done":
            return "done"
        if status is not None or not _filled(resolution, "to"):
            return "open"
        return None  # a resolution set on an issue outside Done: no close to report
    if resolution is None:
        return None  # a status move, and no saying where it ended
    return "done" if _filled(resolution, "to") else "open"


def _filled(item: dict[str, Any] | None, side: str) -> bool:
    """Whether a changelog item's `to` (or `from`) side holds a value."""
    if item is None:
        return False
    return bool(item.get(side) or item.get(f"{side}String"))
