"""The `tracker.create` route: a follow-up filed as a ticket once, its link told in the channel.

A retried creation (a crash, or a timeout after the tracker acted) first asks the tracker
for the ticket an earlier attempt made, by the marker every ticket carries, so a lost
answer never makes two tickets. The ticket is kept on the follow-up, and the route's
remark posts its link in the incident channel when the operation is marked done.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.incidents.effects import CreateTicket
from bot.incidents.notices import TicketFiled
from bot.integrations.journal import Journal
from bot.integrations.trackers.base import Ticket, TicketDraft, Tracker
from bot.outbox.errors import GiveUp
from bot.outbox.routes import Attempt, Remark, Route
from storage import followups
from storage.db import transaction
from storage.models import Incident
from storage.people import names

TITLE_LIMIT = 200


@dataclass(frozen=True)
class Filing:
    """What the route reads before calling the tracker: the draft, and the ticket the
    follow-up already has (a retry after it was stored) or why it needs none."""

    draft: TicketDraft | None
    ticket: Ticket | None = None
    skipped: str | None = None


def marker(incident_id: int, number: int) -> str:
    """What each ticket carries so a retried creation finds it: `warroom-7-action-2`."""
    return f"warroom-{incident_id}-action-{number}"


def draft_of(
    incident: Incident,
    *,
    number: int,
    text: str,
    owner: str | None,
    due: date | None,
    channel_url: str | None,
) -> TicketDraft:
    """The ticket a follow-up becomes. A private incident's title stays out of it: a
    tracker is read by more people than the incident's channel."""
    assert incident.id is not None
    title = " ".join(text.split())
    if len(title) > TITLE_LIMIT:
        title = title[: TITLE_LIMIT - 1] + "…"
    about = (
        f"a private incident (#{incident.id})"
        if incident.private
        else f"incident #{incident.id}: {incident.title} ({incident.severity})"
    )
    lines = [text, "", f"Follow-up {number} of warroom {about}."]
    if owner:
        lines.append(f"Owner: {owner}")
    if due is not None:
        lines.append(f"Due: {due.isoformat()}")
    if channel_url and not incident.private:
        lines.append(f"Incident channel: {channel_url}")
    return TicketDraft(
        incident_id=incident.id,
        number=number,
        marker=marker(incident.id, number),
        title=title,
        body="\n".join(lines),
        owner=owner,
        due=due,
    )


def ticket_route(tracker: Tracker, journal: Journal) -> Route[CreateTicket]:
    """The route that files follow-ups in `tracker`."""

    async def handle(effect: CreateTicket, attempt: Attempt) -> dict[str, Any]:
        incident_id = int(effect.incident_id or 0)
        filing = await asyncio.to_thread(_read, journal, incident_id, effect.number)
        if filing.skipped:
            return {"skipped": filing.skipped}
        ticket = filing.ticket
        if ticket is None:
            assert filing.draft is not None
            if attempt.resumed:
                ticket = await tracker.find(filing.draft)
            if ticket is None:
                ticket = await tracker.create(filing.draft)
            await asyncio.to_thread(_keep, journal, incident_id, effect.number, ticket)
            await journal.record(
                incident_id,
                f"Follow-up {effect.number} filed as {ticket.key}",
                ok=True,
                data={
                    "integration": "tracker",
                    "tracker": ticket.tracker,
                    "number": effect.number,
                    "key": ticket.key,
                    "url": ticket.url,
                },
            )
        return {"tracker": ticket.tracker, "key": ticket.key, "url": ticket.url}

    return Route(handle, remarks=ticket_remarks)


def ticket_remarks(effect: CreateTicket, result: dict[str, Any]) -> list[Remark]:
    """The ticket's link, told in the incident channel (its timeline entry is written when
    it is filed)."""
    if not result.get("key"):
        return []
    notice = TicketFiled(
        number=effect.number,
        tracker=str(result["tracker"]),
        key=str(result["key"]),
        url=str(result["url"]),
    )
    return [Remark(notice, None)]


def _read(journal: Journal, incident_id: int, number: int) -> Filing:
    with journal.sessions() as session:
        incident = session.get(Incident, incident_id)
        row = followups.followup(session=session, incident_id=incident_id, number=number)
        if incident is None or row is None:
            raise GiveUp(f"follow-up {number} of incident #{incident_id} no longer exists")
        if row.ticket_key and row.tracker:
            ticket = Ticket(tracker=row.tracker, key=row.ticket_key, url=row.ticket_url or "")
            return Filing(None, ticket)
        if row.status != "open":
            return Filing(None, skipped=f"follow-up {number} was {row.status} before filing")
        owner = None
        if row.owner:
            owner = names(session=session, user_ids={row.owner}).get(row.owner, row.owner)
        channel = (
            f"https://slack.com/app_redirect?channel={incident.channel_id}"
            if incident.channel_id
            else None
        )
        draft = draft_of(
            incident, number=number, text=row.text, owner=owner, due=row.due, channel_url=channel
        )
        return Filing(draft)


def _keep(journal: Journal, incident_id: int, number: int, ticket: Ticket) -> None:
    with transaction(journal.sessions) as session:
        followups.set_ticket(
            session=session,
            incident_id=incident_id,
            number=number,
            tracker=ticket.tracker,
            key=ticket.key,
            url=ticket.url,
        )
