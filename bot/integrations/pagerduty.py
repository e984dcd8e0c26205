"""Page through PagerDuty's Events API v2: trigger, acknowledge and resolve one alert."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from bot.incidents.effects import Page
from bot.incidents.paging import page_key
from bot.integrations.calls import call
from bot.integrations.journal import IncidentView, Journal
from bot.outbox.errors import GiveUp
from bot.outbox.routes import Attempt

# PagerDuty's four event severities, from ours (sev1 is the worst).
SEVERITIES = {"sev1": "critical", "sev2": "error", "sev3": "warning", "sev4": "info"}
ACTIONS = ("trigger", "acknowledge", "resolve")
SUMMARY_LIMIT = 1024  # PagerDuty truncates longer summaries


def dedup_key(incident_id: int) -> str:
    """One PagerDuty alert per incident: later events find it by this key, and PagerDuty's
    webhooks about the incident it opens carry it back (see `bot.incidents.paging`)."""
    return page_key(incident_id)


def event_body(
    routing_key: str, action: str, incident: IncidentView, *, escalation: bool = False
) -> dict[str, Any]:
    """The Events API v2 body; acknowledge and resolve carry only what identifies the alert."""
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": dedup_key(incident.id),
    }
    if action != "trigger":
        return body
    prefix = "[ESCALATED] " if escalation else ""
    summary = f"{prefix}[{incident.severity.upper()}] Incident #{incident.id}: {incident.title}"
    details: dict[str, Any] = {
        "incident_id": incident.id,
        "severity": incident.severity,
        "status": incident.status,
        "playbook": incident.playbook_id,
        "started_at": incident.started_at.isoformat(),
    }
    if incident.channel_name:
        details["channel"] = f"#{incident.channel_name}"
    if escalation:
        details["escalation"] = True
    body["payload"] = {
        "summary": summary[:SUMMARY_LIMIT],
        "source": "warroom",
        "severity": SEVERITIES.get(incident.severity, "error"),
        "custom_details": details,
    }
    if incident.channel_url:
        name = f"#{incident.channel_name}" if incident.channel_name else "incident channel"
        body["links"] = [{"href": incident.channel_url, "text": f"Slack {name}"}]
    return body


def pagerduty_handler(
    client: httpx.AsyncClient, journal: Journal, *, url: str, routing_key: str
) -> Callable[[Page, Attempt], Awaitable[dict[str, Any]]]:
    """The `pagerduty.event` handler: 202 is done, 429/5xx retry, 400 fails for good."""

    async def handle(effect: Page, _attempt: Attempt) -> dict[str, Any]:
        action = effect.action
        if action not in ACTIONS:
            raise GiveUp(f"unknown PagerDuty action {action!r}")
        incident = await journal.incident(int(effect.incident_id or 0))
        if incident is None:
            raise GiveUp(f"incident #{effect.incident_id} no longer exists")
        if incident.drill:
            return {"skipped": "drills never page"}
        escalation = effect.escalation
        label = "PagerDuty escalation" if escalation else f"PagerDuty {action}"
        data = {"integration": "pagerduty", "action": action}
        response = await call(
            client,
            journal,
            incident_id=incident.id,
            label=label,
            data=data,
            method="POST",
            url=url,
            json=event_body(routing_key, action, incident, escalation=escalation),
        )
        await journal.record(
            incident.id, f"{label} sent", ok=True, data={**data, "status": response.status_code}
        )
        return {"status": response.status_code, "dedup_key": dedup_key(incident.id)}

    return handle
