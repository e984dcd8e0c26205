"""Outgoing webhooks: signed JSON incident events to the team's own endpoints.

The contract receivers rely on is in WEBHOOKS.md next to this file.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx

from bot.incidents.effects import SendWebhook
from bot.integrations.calls import attempt, failure_text
from bot.integrations.http import Verdict
from bot.integrations.journal import IncidentView, Journal
from bot.outbox.errors import GiveUp, RetryLater
from bot.outbox.routes import Attempt

log = logging.getLogger(__name__)
# An incident's events wait for its channel (receivers get its id): for a moment here
# while Slack is creating it (the dispatcher's round waits for this op, so never long),
# else a retry later, for as long as Slack takes. A channel that cannot be created at all
# ends the wait (its `channel.open` fails for good) and the events say `null`.
CHANNEL_WAIT = 1.0
CHANNEL_POLL = 0.05
CHANNEL_RETRY = 1.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Warroom-Signature value: HMAC-SHA256 of "<timestamp>.<body>", hex."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def incident_json(incident: IncidentView, payload: dict[str, Any]) -> dict[str, Any]:
    """The incident as receivers see it; values the event itself carries win."""
    body: dict[str, Any] = {
        "id": incident.id,
        "title": incident.title,
        "severity": payload.get("severity", incident.severity),
        "status": payload.get("status", incident.status),
        "channel_id": incident.channel_id,
        "channel_name": incident.channel_name,
        "started_at": _iso(incident.started_at),
        "resolved_at": _iso(incident.resolved_at),
        "playbook": incident.playbook_id,
        "drill": incident.drill,
        "private": incident.private,
        "public_title": incident.public_title,
    }
    if incident.channel_url:
        body["url"] = incident.channel_url
    return body


def event_json(effect: SendWebhook, incident: IncidentView, now: datetime) -> dict[str, Any]:
    """The body of one delivery: the event, the incident, and what the event is about.

    Its shape per event is in webhook_schemas/ next to this file (WEBHOOKS.md)."""
    payload = {
        key: value
        for key, value in (("severity", effect.severity), ("status", effect.status))
        if value is not None
    }
    body: dict[str, Any] = {"event": effect.event, "incident": incident_json(incident, payload)}
    if effect.event == "playbook.stage":
        body["stage"] = {"id": effect.stage, "title": effect.stage_title}
    body["sent_at"] = _iso(now)
    return body


async def with_channel(journal: Journal, incident: IncidentView) -> IncidentView:
    """The incident once its channel is known; RetryLater while Slack is still creating it."""
    deadline = time.monotonic() + CHANNEL_WAIT
    while incident.channel_id is None:
        creating = await journal.channel_pending(incident.id)
        if creating is None:
            break
        if creating != "running" or time.monotonic() > deadline:
            raise RetryLater("waiting for the incident channel", CHANNEL_RETRY)
        await asyncio.sleep(CHANNEL_POLL)
        found = await journal.incident(incident.id)
        if found is None:
            raise GiveUp(f"incident #{incident.id} no longer exists")
        incident = found
    return incident


def targets(configured: list[str], payload: dict[str, Any]) -> list[str]:
    """Every configured URL, plus the playbook's own for a playbook webhook, each once."""
    extra = [payload["url"]] if payload.get("url") else []
    return list(dict.fromkeys([*configured, *extra]))


def private_targets(destinations: list[str], private_ok: list[str]) -> list[str]:
    """Of the destinations, the receivers marked private-ok: the only ones a private
    incident's events go to (a playbook's own URL included only if it is marked)."""
    return [url for url in dict.fromkeys([*destinations, *private_ok]) if url in private_ok]


def webhook_handler(
    client: httpx.AsyncClient,
    journal: Journal,
    *,
    urls: list[str],
    secret: str | None,
    private_ok: list[str] | None = None,
) -> Callable[[SendWebhook, Attempt], Awaitable[dict[str, Any]]]:
    """The `webhook.send` handler: one POST per URL; any retryable failure retries the op.

    A URL that already took this delivery is not sent it again when the op retries: its
    success is a timeline entry keyed by delivery and URL. A private incident's events go
    only to the `private_ok` receivers (WARROOM_PRIVATE_WEBHOOKS), which also get every
    public one.
    """
    private_ok = private_ok or []
    warned = False

    async def handle(effect: SendWebhook, op: Attempt) -> dict[str, Any]:
        nonlocal warned
        event = effect.event
        # What the event itself says (its url, severity, status), as the payload helpers read it.
        payload = {
            key: value
            for key, value in (
                ("url", effect.url),
                ("severity", effect.severity),
                ("status", effect.status),
            )
            if value is not None
        }
        destinations = targets([*urls, *private_ok], payload)
        if not destinations:
            return {"skipped": "no webhook URLs"}
        incident = await journal.incident(int(effect.incident_id or 0))
        if incident is None:
            raise GiveUp(f"incident #{effect.incident_id} no longer exists")
        if incident.private:
            destinations = private_targets(destinations, private_ok)
            if not destinations:
                return {"skipped": "a private incident: no receiver is marked private-ok"}
        incident = await with_channel(journal, incident)
        if secret is None and not warned:
            warned = True
            log.warning("WARROOM_WEBHOOK_SECRET is not set: webhooks are sent unsigned")
        delivery = f"{incident.id}:{event}:{op.op_id}"
        now = journal.now()
        body = json.dumps(
            event_json(effect, incident, now),
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
        timestamp = str(int(now.timestamp()))
        headers = {
            "Content-Type": "application/json",
            "X-Warroom-Event": event,
            "X-Warroom-Delivery": delivery,
            "X-Warroom-Timestamp": timestamp,
        }
        if secret is not None:
            headers["X-Warroom-Signature"] = sign(secret, timestamp, body)

        delivered: list[str] = []
        failures: list[tuple[str, Verdict]] = []
        for url in destinations:
            host = _host(url)
            key = f"webhook:{delivery}:{hashlib.sha256(url.encode()).hexdigest()[:16]}"
            if await journal.recorded(key):
                delivered.append(host)
                continue
            label = f"Webhook {event} to {host}"
            data = {"integration": "webhook", "event": event, "host": host, "delivery": delivery}
            verdict = Verdict("refused", "not an http(s) URL")
            if _valid(url):
                verdict, _ = await attempt(client, "POST", url, content=body, headers=headers)
            if verdict.ok:
                delivered.append(host)
                await journal.record(
                    incident.id,
                    f"{label} delivered ({verdict.detail})",
                    ok=True,
                    data={**data, "status": verdict.detail},
                    key=key,
                )
                continue
            failures.append((host, verdict))
            await journal.record(
                incident.id,
                failure_text(label, verdict),
                ok=False,
                data={**data, "error": verdict.detail, "retry": verdict.outcome == "retry"},
            )
        if failures:
            raise _failure(event, failures)
        return {"delivery": delivery, "delivered": delivered}

    return handle


def _failure(event: str, failures: list[tuple[str, Verdict]]) -> Exception:
    reason = f"webhook {event}: " + "; ".join(f"{host} {v.detail}" for host, v in failures)
    retryable = [v for _, v in failures if v.outcome == "retry"]
    if not retryable:
        return GiveUp(reason)
    delays = [v.delay for v in retryable if v.delay is not None]
    return RetryLater(reason, max(delays) if delays else None)


def _valid(url: str) -> bool:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.host)


def _host(url: str) -> str:
    """Only the host is ever shown: a webhook URL's path or query may hold a token."""
    try:
        return httpx.URL(url).host or "invalid URL"
    except httpx.InvalidURL:
        return "invalid URL"


def _iso(when: datetime | None) -> str | None:
    return when.isoformat().replace("+00:00", "Z") if when is not None else None
