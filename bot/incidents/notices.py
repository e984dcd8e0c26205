"""Notices: what the bot tells people on its own, as facts; each adapter words them.

The domain says "stage X ran past its 5-minute timebox"; `bot/slack/notices.py` turns that
into mrkdwn and emoji. Each notice has a stable `name`, stored in its effect's payload.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True, kw_only=True)
class Notice:
    """Something to tell people, in structured fields."""

    name: ClassVar[str]


@dataclass(frozen=True, kw_only=True)
class StageStarted(Notice):
    """The incident entered a playbook stage: its title, timebox and checklist.

    `title` is None when the incident has no playbook to name the stage.
    """

    name: ClassVar[str] = "stage_started"
    stage_id: str
    title: str | None = None
    timebox_seconds: int | None = None
    tasks: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class TimeboxOverdue(Notice):
    """A stage ran past its timebox."""

    name: ClassVar[str] = "timebox_overdue"
    stage_id: str
    title: str
    timebox_seconds: int | None = None


@dataclass(frozen=True, kw_only=True)
class StatusUpdateDue(Notice):
    """No status update for a while: since the last one, or since the incident opened."""

    name: ClassVar[str] = "status_update_due"
    elapsed_seconds: int
    since_last_update: bool


@dataclass(frozen=True, kw_only=True)
class Unacknowledged(Notice):
    """Nobody acknowledged the incident in time (a drill's: nobody is paged for it; a real
    incident's escalation is told by its page's `Paged` notice)."""

    name: ClassVar[str] = "unacknowledged"
    waited_seconds: int


# What became of a page, as `Paged.outcome` says it.
PAGED, NOT_PAGED, REFUSED, HELD = "paged", "not_paged", "refused", "held"


@dataclass(frozen=True, kw_only=True)
class Paged(Notice):
    """What became of a page, told once it is known.

    `outcome`: PAGED (the tool took it: `summary` is what its alert shows, `key` its dedup
    key, `page` which page of the incident it is), NOT_PAGED (nothing was sent: `reason`),
    REFUSED (the tool refused it: `reason`), HELD (not sent: the page `key` is still open
    and nobody acknowledged it, so a trigger would only merge into it). `waited_seconds`:
    the page escalated an incident nobody acknowledged for that long.
    """

    name: ClassVar[str] = "paged"
    outcome: str
    key: str | None = None
    page: int = 1
    summary: str | None = None
    reason: str | None = None
    waited_seconds: int | None = None


@dataclass(frozen=True, kw_only=True)
class PostmortemDue(Notice):
    """The postmortem of a resolved incident is due: `owner` (a user id) is reminded; `due`
    (YYYY-MM-DD) is the day it was due, `late_days` how many business days ago."""

    name: ClassVar[str] = "postmortem_due"
    owner: str | None = None
    due: str | None = None
    late_days: int = 0


@dataclass(frozen=True, kw_only=True)
class ChannelArchiving(Notice):
    """The last word before the channel is archived: where the postmortem is."""

    name: ClassVar[str] = "channel_archiving"
    path: str | None = None
    permalink: str | None = None


@dataclass(frozen=True, kw_only=True)
class MaintenanceScheduled(Notice):
    """A maintenance window was scheduled."""

    name: ClassVar[str] = "maintenance_scheduled"
    maintenance_id: int
    title: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, kw_only=True)
class MaintenanceDue(Notice):
    """One of a window's notices: `t24h` and `t1h` ahead, `start`, `end`."""

    name: ClassVar[str] = "maintenance_due"
    maintenance_id: int
    title: str
    phase: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, kw_only=True)
class InviteRefused(Notice):
    """People the incident channel could not take in: `people[i]` refused for `reasons[i]`
    (the far side's code, `user_not_found`); the others were invited."""

    name: ClassVar[str] = "invite_refused"
    people: tuple[str, ...]
    reasons: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class DeliveryFailed(Notice):
    """An operation of the incident (`kind`, an effect kind) failed for good, and why; the
    operations after it went on."""

    name: ClassVar[str] = "delivery_failed"
    kind: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class StatusPageResult(Notice):
    """What became of a status-page update, told once the status page answered (or was
    not asked): `updated` to `status`, else why not (`reason`)."""

    name: ClassVar[str] = "statuspage_result"
    status: str
    updated: bool
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class StillFiringAfterResolve(Notice):
    """The incident's alert group fired again within its playbook's `refire_window` after
    the incident was resolved: `title` is the alert's, `resolved_at` when it was resolved.
    Told once per resolve; the repeats after it are only counted."""

    name: ClassVar[str] = "still_firing_after_resolve"
    title: str
    resolved_at: datetime


@dataclass(frozen=True, kw_only=True)
class TicketFiled(Notice):
    """Follow-up `number` is now ticket `key` in `tracker`, at `url`."""

    name: ClassVar[str] = "ticket_filed"
    number: int
    tracker: str
    key: str
    url: str


NOTICE_TYPES: tuple[type[Notice], ...] = (
    StageStarted,
    TimeboxOverdue,
    StatusUpdateDue,
    Unacknowledged,
    Paged,
    PostmortemDue,
    ChannelArchiving,
    MaintenanceScheduled,
    MaintenanceDue,
    InviteRefused,
    DeliveryFailed,
    StatusPageResult,
    StillFiringAfterResolve,
    TicketFiled,
)
