"""Linear's Issue webhook: an issue completed or canceled, or taken back from either.

Linear signs each delivery: `Linear-Signature` is the hex HMAC-SHA256 of the raw body with
the webhook's signing secret, and the body's `webhookTimestamp` (ms) must be within a
minute of our clock, or the delivery may be a replay (linear.app/developers/webhooks,
"Securing webhooks"; Linear's own SDK refuses a body without one too).

An update's `updatedFrom` holds the previous values of what changed: a state change always
names `stateId`, and `completedAt` / `canceledAt` when it enters or leaves Done/Canceled.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

from bot.incidents.clock import Clock, SystemClock
from bot.integrations.trackers.base import TicketChange, WebhookReader, WebhookRefused
from bot.integrations.trackers.webhook_checks import (
    dig,
    epoch_ms,
    header,
    hmac_sha256_hex,
    iso_time,
    json_object,
    require_secret,
    same,
    text,
)

SIGNATURE = "Linear-Signature"
TOLERANCE = timedelta(seconds=60)
DONE_TYPES = frozenset({"completed", "canceled"})
OPEN_TYPES = frozenset({"triage", "backlog", "unstarted", "started"})


def linear_reader(secret: str, *, clock: Clock | None = None) -> WebhookReader:
    """A reader for `POST /webhooks/linear`, checking deliveries against `secret`.

    `clock` is the wall clock unless a test gives one: Linear stamps deliveries in real time.
    """
    key = require_secret(secret, "Linear")
    now = (clock or SystemClock()).now

    def read(
        headers: Mapping[str, str], body: bytes, query: Mapping[str, str]
    ) -> list[TicketChange]:
        signature = header(headers, SIGNATURE)
        if not signature:
            raise WebhookRefused(401, f"{SIGNATURE} is missing")
        if not same(signature, hmac_sha256_hex(key, body)):
            raise WebhookRefused(401, f"{SIGNATURE} does not match the body")
        payload = json_object(body)
        sent = epoch_ms(payload.get("webhookTimestamp"))
        if sent is None:
            raise WebhookRefused(401, "webhookTimestamp is missing")
        if abs(now() - sent) > TOLERANCE:
            raise WebhookRefused(401, "webhookTimestamp is more than a minute off: a replay?")
        if payload.get("type") != "Issue" or payload.get("action") != "update":
            return []
        data = payload.get("data")
        was = payload.get("updatedFrom")
        if not isinstance(data, dict) or not isinstance(was, dict):
            return []
        state = _state(data, was)
        if state is None:
            return []
        identifier = text(data.get("identifier"))
        if identifier is None:
            raise WebhookRefused(422, "an Issue update without data.identifier")
        at = (
            iso_time(data.get("completedAt") or data.get("canceledAt")) if state == "done" else None
        )
        return [
            TicketChange(
                tracker="linear",
                key=identifier,
                state=state,
                actor=text(dig(payload, "actor", "name")),
                at=at or iso_time(data.get("updatedAt")),
            )
        ]

    return read


def _state(data: dict[str, Any], was: dict[str, Any]) -> Literal["done", "open"] | None:
    """Done when the issue entered Completed/Canceled, open when it left them, else None."""
    if not {"stateId", "completedAt", "canceledAt"} & was.keys():
        return None
    kind = text(dig(data, "state", "type"))
    if kind in DONE_TYPES:
        done_now = True
    elif kind in OPEN_TYPES:
        done_now = False
    else:  # no state in the payload: the stamps say it
        done_now = bool(data.get("completedAt") or data.get("canceledAt"))
    stamps = {"completedAt", "canceledAt"} & was.keys()
    # Unknown (only `stateId` moved): between two done states it would say done twice,
    # which changes nothing; from an open state it is the close we want.
    done_before = any(was.get(name) for name in stamps) if stamps else None
    if done_now and done_before is not True:
        return "done"
    if not done_now and done_before:
        return "open"
    return None
