"""Publish to an Atlassian Statuspage: one public incident per warroom incident.

The public text is exactly what a responder wrote (or the playbook's text): never notes,
never the internal title's context beyond the name.
"""

from __future__ import annotations

from typing import Any

import httpx

from bot.integrations.calls import call
from bot.integrations.deferred import Handler
from bot.integrations.errors import Refused
from bot.integrations.journal import Journal

STATUSES = ("investigating", "identified", "monitoring", "resolved")
REF = "statuspage_incident_id"


def statuspage_handler(
    client: httpx.AsyncClient, journal: Journal, *, url: str, page_id: str, api_key: str
) -> Handler:
    """The `statuspage.update` handler: create the public incident once, then update it.

    The created id is stored right after Statuspage answers; a crash in between would
    create a second public incident on retry, as Statuspage has no idempotency key.
    """
    base = f"{url.rstrip('/')}/pages/{page_id}/incidents"
    headers = {"Authorization": f"OAuth {api_key}"}

    async def handle(payload: dict[str, Any]) -> dict[str, Any]:
        status = payload.get("status")
        if status not in STATUSES:
            raise Refused(f"unknown Statuspage status {status!r}")
        text = str(payload.get("text") or "")
        incident = await journal.incident(int(payload["incident_id"]))
        if incident is None:
            raise Refused(f"incident #{payload['incident_id']} no longer exists")
        if incident.drill:
            return {"skipped": "drills never reach the public status page"}
        public_id = incident.external.get(REF)
        data = {"integration": "statuspage", "status": status}
        if public_id is None:
            label = "Statuspage incident creation"
            response = await call(
                client,
                journal,
                incident_id=incident.id,
                label=label,
                data=data,
                method="POST",
                url=base,
                headers=headers,
                json={"incident": {"name": incident.title, "status": status, "body": text}},
            )
            public_id = _incident_id(response)
            await journal.remember(incident.id, **{REF: public_id})
            done = f"Statuspage incident created ({status})"
        else:
            label = "Statuspage resolve" if status == "resolved" else "Statuspage update"
            response = await call(
                client,
                journal,
                incident_id=incident.id,
                label=label,
                data=data,
                method="PATCH",
                url=f"{base}/{public_id}",
                headers=headers,
                json={"incident": {"status": status, "body": text}},
            )
            done = f"Statuspage update sent ({status})"
        await journal.record(
            incident.id, done, ok=True, data={**data, REF: public_id, "http": response.status_code}
        )
        return {REF: public_id, "status": status}

    return handle


def _incident_id(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError as error:
        raise Refused("Statuspage created an incident but its answer is not JSON") from error
    public_id = body.get("id") if isinstance(body, dict) else None
    if not public_id:
        raise Refused("Statuspage created an incident but its answer has no id")
    return str(public_id)
