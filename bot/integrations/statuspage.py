"""Publish to an Atlassian Statuspage: one public incident per warroom incident.

The public incident is named by the incident's public title, never its internal one, and
its text is exactly what a responder wrote for the public (or the playbook's, or the fixed
wording of a resolve or reopen): never notes. A private incident never reaches it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from bot.incidents.effects import UpdateStatusPage
from bot.incidents.notices import StatusPageResult
from bot.incidents.privacy import DEFAULT_PUBLIC_TITLE
from bot.integrations.calls import call
from bot.integrations.journal import Journal
from bot.outbox.errors import GiveUp
from bot.outbox.routes import Attempt, Remark

STATUSES = ("investigating", "identified", "monitoring", "resolved")
REF = "statuspage_incident_id"
LAST = "statuspage_status"  # the status the public incident was last given


def statuspage_handler(
    client: httpx.AsyncClient, journal: Journal, *, url: str, page_id: str, api_key: str
) -> Callable[[UpdateStatusPage, Attempt], Awaitable[dict[str, Any]]]:
    """The `statuspage.update` handler: create the public incident once, then update it.

    Statuspage has no idempotency key: each public incident is created carrying our id in
    its metadata, and a retried creation (a crash, a timeout after Statuspage acted) first
    looks among the page's unresolved incidents for the one it may have made already.
    """
    base = f"{url.rstrip('/')}/pages/{page_id}/incidents"
    headers = {"Authorization": f"OAuth {api_key}"}

    async def handle(effect: UpdateStatusPage, attempt: Attempt) -> dict[str, Any]:
        status = effect.status
        if status not in STATUSES:
            raise GiveUp(f"unknown Statuspage status {status!r}")
        text = effect.text or ""
        incident = await journal.incident(int(effect.incident_id or 0))
        if incident is None:
            raise GiveUp(f"incident #{effect.incident_id} no longer exists")
        if incident.private:
            return {"skipped": "private incidents never reach the public status page"}
        if incident.drill:
            return {"skipped": "drills never reach the public status page"}
        public_id = incident.external.get(REF)
        data = {"integration": "statuspage", "status": status}
        if public_id is None and attempt.resumed:
            public_id = await _made_before(incident.id, data)
            if public_id is not None:
                await journal.remember(incident.id, **{REF: public_id})
        if effect.follow and public_id is None:
            return {"skipped": "no status-page incident to follow"}
        if effect.follow and incident.external.get(LAST) == status:
            return {"skipped": f"the status page already says {status}", REF: public_id}
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
                json={
                    "incident": {
                        "name": incident.public_title or DEFAULT_PUBLIC_TITLE,
                        "status": status,
                        "body": text,
                        "metadata": {"warroom": {"incident_id": incident.id}},
                    }
                },
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
        await journal.remember(incident.id, **{LAST: status})
        await journal.record(
            incident.id, done, ok=True, data={**data, REF: public_id, "http": response.status_code}
        )
        return {REF: public_id, "status": status}

    async def _made_before(incident_id: int, data: dict[str, Any]) -> str | None:
        response = await call(
            client,
            journal,
            incident_id=incident_id,
            label="Statuspage lookup",
            data=data,
            method="GET",
            url=f"{base}/unresolved",
            headers=headers,
        )
        return tagged(response, "incident_id", incident_id)

    return handle


def tagged(response: httpx.Response, key: str, value: int) -> str | None:
    """The id of the listed status-page incident whose `metadata.warroom[key]` is `value`:
    what a creation whose answer was lost made (we tag each one we create)."""
    try:
        listed = response.json()
    except ValueError:
        return None
    for public in listed if isinstance(listed, list) else []:
        if not isinstance(public, dict):
            continue
        ours = ((public.get("metadata") or {}).get("warroom") or {}).get(key)
        if ours == value and public.get("id"):
            return str(public["id"])
    return None


def statuspage_remarks(effect: UpdateStatusPage, result: dict[str, Any]) -> list[Remark]:
    """What the channel is told once the status page answered (or was not asked): updated,
    or why not. A resolve or reopen that had nothing to follow says nothing."""
    skipped = result.get("skipped")
    if result.get("superseded") or (skipped and effect.follow):
        return []
    # Told in the channel only: a call made has its own timeline entry ("Statuspage update
    # sent"), and one not made is no event of the incident (the postmortem stays clean).
    if skipped:
        notice = StatusPageResult(status=effect.status, updated=False, reason=str(skipped))
        return [Remark(notice, None)]
    return [Remark(StatusPageResult(status=effect.status, updated=True), None)]


def _incident_id(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError as error:
        raise GiveUp("Statuspage created an incident but its answer is not JSON") from error
    public_id = body.get("id") if isinstance(body, dict) else None
    if not public_id:
        raise GiveUp("Statuspage created an incident but its answer has no id")
    return str(public_id)
