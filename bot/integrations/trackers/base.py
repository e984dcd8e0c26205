"""What every ticket tracker does for warroom's follow-ups, whichever it is.

A tracker turns a follow-up into a ticket once (a retried creation first looks for the
ticket a lost answer made, by the marker each ticket carries), and its webhook tells us
when a ticket was closed or reopened there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, Protocol


@dataclass(frozen=True)
class TicketDraft:
    """One follow-up as a tracker is asked to file it."""

    incident_id: int
    number: int  # the follow-up's number within its incident, as in `action done <n>`
    marker: str  # "warroom-<incident>-action-<n>": carried in the ticket to find it again
    title: str
    body: str  # Markdown: what to do, the incident it came from, owner and due date
    owner: str | None  # a display name; nobody is assigned (people differ across systems)
    due: date | None


@dataclass(frozen=True)
class Ticket:
    """A ticket a tracker holds: `key` as the tracker shows it, `url` for people."""

    tracker: str  # github | jira | linear
    key: str  # "owner/name#12", "OPS-7", "ENG-42"
    url: str


@dataclass(frozen=True)
class TicketChange:
    """A ticket closed (`done`) or reopened (`open`) in its tracker, as its webhook said."""

    tracker: str
    key: str
    state: Literal["done", "open"]
    actor: str | None = None
    at: datetime | None = None


class WebhookRefused(Exception):
    """A tracker webhook we will not act on: `status` is the HTTP answer (401, 400, 422)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Tracker(Protocol):
    """A configured tracker. Calls go through `bot.integrations.calls.call`, so a failed
    one raises `RetryLater` or `GiveUp` for the outbox and leaves a timeline entry."""

    name: str

    async def find(self, draft: TicketDraft) -> Ticket | None:
        """The ticket an earlier, unanswered creation of this draft made, if any."""
        ...

    async def create(self, draft: TicketDraft) -> Ticket:
        """File the draft as a new ticket."""
        ...


class WebhookReader(Protocol):
    """Check a tracker webhook's authenticity and read the ticket changes it carries.

    Raises `WebhookRefused` for a bad signature or secret (401) or an unreadable body
    (400/422); events that are not a close or reopen read as no changes.
    """

    def __call__(
        self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]
    ) -> list[TicketChange]: ...
