"""Publish scheduled maintenance on an Atlassian Statuspage, following its window.

A window becomes a scheduled incident (Statuspage's `status: scheduled` with
`scheduled_for` / `scheduled_until`), moved to `in_progress` when it starts and to
`completed` when it ends, and deleted when it is cancelled (a scheduled incident has no
cancelled status). warroom moves it itself, on its scheduler's clock, so Statuspage's own
automatic transitions are left off. API: https://developer.statuspage.io/#tag/incidents
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx

from bot.incidents.effects import PublishMaintenance
from bot.integrations.calls import as_error, attempt
from bot.integrations.journal import Journal
from bot.integrations.statuspage import tagged
from bot.outbox.errors import GiveUp
from bot.outbox.routes import Attempt

REF = "statuspage_incident_id"
PHASES = ("scheduled", "in_progress", "completed", "cancelled")
# Subscribers hear of a window ahead: the 24-hour notice the reference report promises.
BODY = "Scheduled maintenance from {start} to {end} (UTC)."


def maintenance_handler(
    client: httpx.AsyncClient, journal: Journal, *, url: str, page_id: str, api_key: str
) -> Callable[[PublishMaintenance, Attempt], Awaitable[dict[str, Any]]]:
    """The `statuspage.maintenance` handler: create the scheduled incident once, then move
    it through its phases. A retried creation first looks among the page's scheduled
    incidents for the one it may have made already (Statuspage has no idempotency key)."""
    base = f"{url.rstrip('/')}/pages/{page_id}/incidents"
    headers = {"Authorization": f"OAuth {api_key}"}

    async def send(method: str, target: str, label: str, **kwargs: Any) -> httpx.Response:
        verdict, response = await attempt(client, method, target, headers=headers, **kwargs)
        if verdict.ok and response is not None:
            return response
        raise as_error(label, verdict)

    async def handle(effect: PublishMaintenance, op: Attempt) -> dict[str, Any]:
        if effect.phase not in PHASES:
            raise GiveUp(f"unknown maintenance phase {effect.phase!r}")
        item = await journal.maintenance(effect.maintenance_id)
        if item is None:
            raise GiveUp(f"maintenance #{effect.maintenance_id} no longer exists")
        public_id = (item.external or {}).get(REF)
        if public_id is None and op.resumed:
            public_id = await _made_before(item.id or 0)
            if public_id is not None:
                await journal.remember_maintenance(item.id or 0, **{REF: public_id})
        if effect.phase == "scheduled":
            if public_id is not None:
                return {REF: public_id, "status": "scheduled"}
            response = await send(
                "POST",
                base,
                "Statuspage maintenance creation",
                json={
                    "incident": {
                        "name": item.title,
                        "status": "scheduled",
                        "body": BODY.format(start=_iso(item.starts_at), end=_iso(item.ends_at)),
                        "scheduled_for": _iso(item.starts_at),
                        "scheduled_until": _iso(item.ends_at),
                        "scheduled_remind_prior": True,
                        "scheduled_auto_in_progress": False,
                        "scheduled_auto_completed": False,
                        "metadata": {"warroom": {"maintenance_id": item.id}},
                    }
                },
            )
            public_id = _public_id(response)
            await journal.remember_maintenance(item.id or 0, **{REF: public_id})
            return {REF: public_id, "status": "scheduled"}
        if public_id is None:
            return {"skipped": "the maintenance was never published on the status page"}
        if effect.phase == "cancelled":
            await send("DELETE", f"{base}/{public_id}", "Statuspage maintenance delete")
            return {REF: public_id, "status": "deleted"}
        await send(
            "PATCH",
            f"{base}/{public_id}",
            "Statuspage maintenance update",
            json={"incident": {"status": effect.phase}},
        )
        return {REF: public_id, "status": effect.phase}

    async def _made_before(maintenance_id: int) -> str | None:
        verdict, response = await attempt(client, "GET", f"{base}/scheduled", headers=headers)
        if not verdict.ok or response is None:
            return None
        return tagged(response, "maintenance_id", maintenance_id)

    return handle


def _public_id(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError as error:
        raise GiveUp("Statuspage created a maintenance but its answer is not JSON") from error
    public_id = body.get("id") if isinstance(body, dict) else None
    if not public_id:
        raise GiveUp("Statuspage created a maintenance but its answer has no id")
    return str(public_id)


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")
