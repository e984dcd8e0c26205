"""Effects: the external work a state change causes, carried out later by the dispatcher.

One frozen dataclass per operation. Each has a stable `kind` (stored with the outbox row,
so rows already written keep running) and a `version`, raised when the stored shape of
that kind changes; `bot/incidents/effect_codec.py` turns them into a row's JSON and back.
`incident_id` is filled in by the Recorder that writes the effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from bot.incidents.notices import Notice

# Effect kinds, as stored in the outbox. The Slack adapter handles the chat ones,
# integrations and the scheduler the rest.
OPEN_CHANNEL = "channel.open"
INVITE = "channel.invite"
DESCRIBE_CHANNEL = "channel.describe"
POST_CARD = "card.post"
UPDATE_CARD = "card.update"
POST_MESSAGE = "message.post"
POST_NOTICE = "notice.post"
BROADCAST = "broadcast.post"
BROADCAST_NOTICE = "notice.broadcast"
PAGE = "pagerduty.event"
STATUSPAGE = "statuspage.update"
STATUSPAGE_MAINTENANCE = "statuspage.maintenance"
WEBHOOK = "webhook.send"
POST_POSTMORTEM = "postmortem.post"
SCHEDULE = "schedule.set"
UNSCHEDULE = "schedule.clear"
CREATE_TICKET = "tracker.create"
PUBLISH_POSTMORTEM = "postmortem.publish"
ARCHIVE_CHANNEL = "channel.archive"


@dataclass(frozen=True, kw_only=True)
class Effect:
    """One operation for the outbox, about an incident (or none: maintenance, playbooks)."""

    kind: ClassVar[str]
    version: ClassVar[int] = 1
    incident_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class OpenChannel(Effect):
    """Create the incident channel, describe it and invite people."""

    kind: ClassVar[str] = OPEN_CHANNEL
    name: str
    topic: str
    purpose: str
    invite: tuple[str, ...] = ()
    private: bool = False


@dataclass(frozen=True, kw_only=True)
class Invite(Effect):
    """Bring people (user ids, emails, user groups) into the incident channel."""

    kind: ClassVar[str] = INVITE
    users: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class DescribeChannel(Effect):
    """Set the incident channel's topic and purpose (the incident's severity, status or
    title changed); the last one queued wins."""

    kind: ClassVar[str] = DESCRIBE_CHANNEL
    topic: str
    purpose: str


@dataclass(frozen=True, kw_only=True)
class PostCard(Effect):
    """Post the incident card in its channel and pin it."""

    kind: ClassVar[str] = POST_CARD


@dataclass(frozen=True, kw_only=True)
class UpdateCard(Effect):
    """Redraw the card from the incident as it is when the redraw runs."""

    kind: ClassVar[str] = UPDATE_CARD


@dataclass(frozen=True, kw_only=True)
class PostMessage(Effect):
    """Post text in the incident channel: a command's echo (`actor`) or a playbook's post.

    `trusted` text (from a playbook) is posted as written; any other is escaped.
    """

    kind: ClassVar[str] = POST_MESSAGE
    text: str
    actor: str | None = None
    trusted: bool = False


@dataclass(frozen=True, kw_only=True)
class PostNotice(Effect):
    """Tell the incident channel something the bot noticed (the adapter words it)."""

    kind: ClassVar[str] = POST_NOTICE
    notice: Notice


@dataclass(frozen=True, kw_only=True)
class Broadcast(Effect):
    """Announce plain text in the broadcast channel (escaped when posted), with a link to
    the incident channel unless `link` is False (a private incident's)."""

    kind: ClassVar[str] = BROADCAST
    text: str
    link: bool = True


@dataclass(frozen=True, kw_only=True)
class BroadcastNotice(Effect):
    """Announce a notice in the broadcast channel (the adapter words it)."""

    kind: ClassVar[str] = BROADCAST_NOTICE
    notice: Notice


@dataclass(frozen=True, kw_only=True)
class Page(Effect):
    """A PagerDuty event for the incident: trigger, acknowledge or resolve.

    A trigger is the incident's `page`-th page, sent under that page's own key; acknowledge
    and resolve reach pages 1 to `page`. `waited_seconds`: the page escalates an incident
    nobody acknowledged for that long (its notice says so, once the page's fate is known).
    """

    kind: ClassVar[str] = PAGE
    action: str
    escalation: bool = False
    page: int = 1
    waited_seconds: int | None = None


@dataclass(frozen=True, kw_only=True)
class UpdateStatusPage(Effect):
    """Publish the incident's public status and text on the status page.

    `follow`: only move a status-page incident this one already opened (resolve, reopen),
    never open one, and say nothing when there is none.
    """

    kind: ClassVar[str] = STATUSPAGE
    status: str
    text: str
    follow: bool = False


@dataclass(frozen=True, kw_only=True)
class PublishMaintenance(Effect):
    """Publish a maintenance window on the status page as a scheduled maintenance:
    `phase` is scheduled (with its window), in_progress, completed or cancelled."""

    kind: ClassVar[str] = STATUSPAGE_MAINTENANCE
    maintenance_id: int
    phase: str


@dataclass(frozen=True, kw_only=True)
class SendWebhook(Effect):
    """A signed incident event to the configured endpoints (and the playbook's `url`).

    `severity` and `status` are the values the event is about, which win over the
    incident's when the webhook goes out later; `stage` and `stage_title` name the stage
    a `playbook.stage` event is about (the incident may be in a later one by then).
    """

    kind: ClassVar[str] = WEBHOOK
    event: str
    url: str | None = None
    severity: str | None = None
    status: str | None = None
    stage: str | None = None
    stage_title: str | None = None


@dataclass(frozen=True, kw_only=True)
class PostPostmortem(Effect):
    """Draft the postmortem and upload it to the incident channel."""

    kind: ClassVar[str] = POST_POSTMORTEM


@dataclass(frozen=True, kw_only=True)
class PublishPostmortem(Effect):
    """Write the postmortem's final Markdown to the postmortem folder (if one is set) and
    post the final version in the channel."""

    kind: ClassVar[str] = PUBLISH_POSTMORTEM


@dataclass(frozen=True, kw_only=True)
class ArchiveChannel(Effect):
    """Say where the postmortem is, then archive the incident channel."""

    kind: ClassVar[str] = ARCHIVE_CHANNEL


@dataclass(frozen=True, kw_only=True)
class Schedule(Effect):
    """Add or replace a scheduler job (`job`: reminder, ack, timebox, postmortem, archive,
    maintenance)."""

    kind: ClassVar[str] = SCHEDULE
    job: str
    due_at: datetime
    every_seconds: int | None = None
    stage: str | None = None
    maintenance_id: int | None = None
    phase: str | None = None


@dataclass(frozen=True, kw_only=True)
class Unschedule(Effect):
    """Remove scheduler jobs: one, an incident's (`job="*"`), or a maintenance's."""

    kind: ClassVar[str] = UNSCHEDULE
    job: str = "*"
    stage: str | None = None
    maintenance_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class CreateTicket(Effect):
    """File follow-up `number` of the incident as a ticket in the configured tracker, once."""

    kind: ClassVar[str] = CREATE_TICKET
    number: int


EFFECT_TYPES: tuple[type[Effect], ...] = (
    OpenChannel,
    Invite,
    DescribeChannel,
    PostCard,
    UpdateCard,
    PostMessage,
    PostNotice,
    Broadcast,
    BroadcastNotice,
    Page,
    UpdateStatusPage,
    PublishMaintenance,
    SendWebhook,
    PostPostmortem,
    PublishPostmortem,
    ArchiveChannel,
    Schedule,
    Unschedule,
    CreateTicket,
)

# Each third party gets a lane of its own: one that is down holds up only itself.
LANES = {
    PAGE: "pagerduty",
    STATUSPAGE: "statuspage",
    STATUSPAGE_MAINTENANCE: "statuspage",
    WEBHOOK: "webhook",
    CREATE_TICKET: "tracker",
}


def lane_of(kind: str) -> str:
    """The outbox lane an effect kind runs in."""
    return LANES.get(kind, "main")
