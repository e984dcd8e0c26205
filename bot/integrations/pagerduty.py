"""Page through PagerDuty's Events API v2: trigger, acknowledge and resolve an incident's alerts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from bot.incidents.effects import Page
from bot.incidents.paging import page_key
from bot.incidents.privacy import DEFAULT_PUBLIC_TITLE
from bot.integrations.calls import call
from bot.integrations.journal import IncidentView, Journal
from bot.outbox.errors import GiveUp
from bot.outbox.routes import Attempt

# PagerDuty's four event severities, from ours (sev1 is the worst).
SEVERITIES = {"sev1": "critical", "sev2": "error", "sev3": "warning", "sev4": "info"}
ACTIONS = ("trigger", "acknowledge", "resolve")
SUMMARY_LIMIT = 1024  # PagerDuty truncates longer summaries


def dedup_key(incident_id: int, page: int = 1) -> str:
    """The key of the incident's `page`-th page: later events find its alert by it, and
    PagerDuty's webhooks about the incident it opens carry it back (see
    `bot.incidents.paging`)."""
    return page_key(incident_id, page)


def summary_of(incident: IncidentView, *, escalation: bool = False) -> str:
    """The one line PagerDuty's alert shows; a private incident goes by its public title,
    since everyone with PagerDuty access reads the alert, not only its channel's members."""
    prefix = "[ESCALATED] " if escalation else ""
    name = f"Incident #{incident.id}"
    title = incident.title
    if incident.private:
        name, title = f"{name} (private)", incident.public_title or DEFAULT_PUBLIC_TITLE
    summary = f"{prefix}[{incident.severity.upper()}] {name}: {title}"
    return summary[:SUMMARY_LIMIT]


def event_body(
    routing_key: str,
    action: str,
    incident: IncidentView,
    *,
    escalation: bool = False,
    page: int = 1,
) -> dict[str, Any]:
    """The Events API v2 body; acknowledge and resolve carry only what identifies the alert."""
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": dedup_key(incident.id, page),
    }
    if action != "trigger":
        return body
    details: dict[str, Any] = {
        "incident_id": incident.id,
        "severity": incident.severity,
        "status": incident.status,
        "playbook": incident.playbook_id,
        "started_at": incident.started_at.isoformat(),
    }
    # A private channel's name tells what the incident is about: left out, like its title.
    if incident.channel_name and not incident.private:
        details["channel"] = f"#{incident.channel_name}"
    if incident.private:
        details["private"] = True
    if escalation:
        details["escalation"] = True
    if page > 1:
        details["page"] = page
    body["payload"] = {
        "summary": summary_of(incident, escalation=escalation),
        "source": "warroom",
        "severity": SEVERITIES.get(incident.severity, "error"),
        "custom_details": details,
    }
    if incident.channel_url:
        named = incident.channel_name and not incident.private
        name = f"#{incident.channel_name}" if named else "incident channel"
        body["links"] = [{"href": incident.channel_url, "text": f"Slack {name}"}]
    return body


def pagerduty_handler(
    client: httpx.AsyncClient, journal: Journal, *, url: str, routing_key: str
) -> Callable[[Page, Attempt], Awaitable[dict[str, Any]]]:
    """The `pagerduty.event` handler: 202 is done, 429/5xx retry, 400 fails for good.

    A trigger goes out under its page's key; acknowledge and resolve reach every page of
    the incident up to the effect's (each event is idempotent in PagerDuty, so a retry
    that sends some again changes nothing).
    """

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
        pages = [effect.page] if action == "trigger" else list(range(1, effect.page + 1))
        response: httpx.Response | None = None
        for page in pages:
            response = await call(
                client,
                journal,
                incident_id=incident.id,
                label=label,
                data=data,
                method="POST",
                url=url,
                json=event_body(routing_key, action, incident, escalation=escalation, page=page),
            )
        assert response is not None
        await journal.record(
            incident.id, f"{label} sent", ok=True, data={**data, "status": response.status_code}
        )
        result: dict[str, Any] = {
            "status": response.status_code,
            "dedup_key": dedup_key(incident.id, effect.page),
        }
        if action == "trigger":
            result["summary"] = summary_of(incident, escalation=escalation)
        return result

    return handle
