"""The tables: incidents and everything recorded about them, plus the outbox."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.timeline_kinds import NOT_ALERT
from storage.types import JSONType, UTCDateTime, written_cadence

OPEN_STATUSES = ("investigating", "identified", "monitoring")


def _utc(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def _json(default: Any = dict) -> Any:
    return Field(default_factory=default, sa_type=JSONType, nullable=False)


class Incident(SQLModel, table=True):
    """One incident: its state, the playbook it runs and where it lives in Slack."""

    __tablename__ = "incidents"
    __table_args__ = (
        # One open incident per grouping key, whatever the concurrency or the replica count.
        Index(
            "uq_incidents_open_group",
            "grouping_key",
            unique=True,
            sqlite_where=text("status != 'resolved' AND grouping_key IS NOT NULL"),
            postgresql_where=text("status != 'resolved' AND grouping_key IS NOT NULL"),
        ),
        # A group with nothing open looks for its last resolved incident (re-fire policy).
        Index("ix_incidents_grouping_key", "grouping_key"),
        # The list's order (opened, id), alone and under each filter it seeks by (0017).
        Index("ix_incidents_opened", "created_at", "id"),
        Index("ix_incidents_status_opened", "status", "created_at", "id"),
        Index("ix_incidents_severity_opened", "severity", "created_at", "id"),
        Index("ix_incidents_playbook_opened", "playbook_id", "created_at", "id"),
        # What the stats read of every incident, so their passes skip the 4 KiB rows (0021):
        # which count (drill) with their severity, and the window's resolved ones.
        Index("ix_incidents_counted", "drill", "id", "severity"),
        Index("ix_incidents_resolved", "drill", "resolved_at", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    title: str
    severity: str = Field(index=True)
    status: str = Field(default="investigating", index=True)
    playbook_id: str
    playbook_snapshot: dict[str, Any] = _json()
    playbook_state: dict[str, Any] = _json()
    grouping_key: str | None = Field(default=None)
    channel_id: str | None = Field(default=None, index=True)
    channel_name: str | None = None
    card_ts: str | None = None
    drill: bool = False
    # Its title, channel and text never reach a public surface (broadcast, status page,
    # webhooks not marked private-ok).
    private: bool = False
    # What public surfaces call it (None: its playbook's public wording, else a default).
    public_title: str | None = None
    impact: str | None = None
    cause: str | None = None
    summary: str | None = None
    opened_by: str | None = None
    created_at: datetime = _utc()
    updated_at: datetime = _utc()
    resolved_at: datetime | None = _utc(nullable=True)
    postmortem: str | None = None
    # References the integrations keep for this incident (e.g. the Statuspage incident id).
    external: dict[str, Any] = _json()
    # The resolved incident of the same alert group this one is a recurrence of.
    recurrence_of: int | None = None
    # Alerts triggered in the paging tool for it, one dedup key each, and whether the
    # last is still open there (see `bot.incidents.pages`).
    pages: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    page_open: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})


# The update cadence each incident's playbook wrote, by severity, drills first (0021): the
# stats find the few distinct ones by seeks instead of reading every snapshot.
Index(
    "ix_incidents_cadence",
    Incident.__table__.c.drill,  # type: ignore[attr-defined]  # SQLModel's stubs omit it
    Incident.__table__.c.severity,  # type: ignore[attr-defined]
    written_cadence(Incident.__table__.c.playbook_snapshot),  # type: ignore[attr-defined]
)


class Milestone(SQLModel, table=True):
    """A named moment of an incident, with where its time came from and how it was edited."""

    __tablename__ = "milestones"
    __table_args__ = (
        UniqueConstraint("incident_id", "name", name="uq_milestones_name"),
        # One milestone across incidents (the stats' time to it) (0017).
        Index("ix_milestones_name", "name", "incident_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True)
    name: str
    at: datetime = _utc()
    source: str  # alert | command | backdate | pin | declare
    actor: str | None = None
    history: list[dict[str, Any]] = _json(list)


class TimelineEvent(SQLModel, table=True):
    """One entry of an incident's timeline."""

    __tablename__ = "timeline_events"
    __table_args__ = (
        # The timeline's order, which the API pages by.
        Index("ix_timeline_incident_occurred", "incident_id", "occurred_at", "id"),
        # One kind of entry across incidents (the stats' first update per incident) (0017).
        # No alert's entry (0024): a storm writes thousands, no read by kind asks for them.
        Index(
            "ix_timeline_kind",
            "kind",
            "incident_id",
            "occurred_at",
            sqlite_where=text(NOT_ALERT),
            postgresql_where=text(NOT_ALERT),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id")
    occurred_at: datetime = _utc()
    recorded_at: datetime = _utc()
    kind: str
    actor: str | None = None
    text: str = ""
    data: dict[str, Any] = _json()
    source: str = "command"  # alert | command | backdate | pin | system | playbook
    # A retried delivery carries the same key; the unique index records it once.
    idempotency_key: str | None = Field(default=None, unique=True)


class Alert(SQLModel, table=True):
    """An alert (source, fingerprint) attached to the incident of its group."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("incident_id", "source", "fingerprint", name="uq_alerts_identity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # No index of its own: uq_alerts_identity leads with it (0023 dropped the second one).
    incident_id: int = Field(foreign_key="incidents.id")
    source: str
    fingerprint: str
    title: str
    # What the sender calls the alert (its alertname, else its title); null before 0013.
    name: str | None = None
    status: str = "firing"
    labels: dict[str, str] = _json()
    annotations: dict[str, str] = _json()
    starts_at: datetime | None = _utc(nullable=True)
    ends_at: datetime | None = _utc(nullable=True)
    url: str | None = None
    first_seen_at: datetime = _utc()
    last_seen_at: datetime = _utc()
    seen_count: int = 1


class RoleAssignment(SQLModel, table=True):
    """Who holds a role; the latest assignment of a role wins, older ones are history."""

    __tablename__ = "role_assignments"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True)
    role: str
    user: str
    assigned_by: str | None = None
    assigned_at: datetime = _utc()


class OutboxOp(SQLModel, table=True):
    """An external operation committed with the state change that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "state", "next_attempt_at"),
        Index("ix_outbox_lane", "incident_id", "lane", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int | None = Field(default=None, foreign_key="incidents.id", index=True)
    kind: str
    # The version of the kind's payload shape: a newer shape gets a new number, so code
    # that cannot read a row fails that one operation instead of guessing.
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    # Operations of one incident run in order within a lane; lanes do not wait for each
    # other, so a third party that is down never holds up the incident's Slack updates.
    lane: str = Field(default="main", sa_column_kwargs={"server_default": "main"})
    payload: dict[str, Any] = _json()
    state: str = "pending"  # pending | running | done | failed
    attempts: int = 0
    # Of the attempts, those that failed in our own code or never reported back: bounded.
    faults: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    next_attempt_at: datetime = _utc()
    created_at: datetime = _utc()
    updated_at: datetime = _utc()
    claimed_by: str | None = None
    result: dict[str, Any] | None = Field(default=None, sa_type=JSONType, nullable=True)
    last_error: str | None = None


class Delivery(SQLModel, table=True):
    """A webhook delivery already accepted, so a retry of it changes nothing."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("source", "delivery_id", name="uq_deliveries"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str
    delivery_id: str
    received_at: datetime = _utc()
    response: dict[str, Any] = _json()


class PagedIncident(SQLModel, table=True):
    """A paging tool's incident (PagerDuty's id) and the warroom incident it belongs to.

    Learned from the tool's webhooks, so its later events that name only the tool's
    incident (a note names no dedup key) find their warroom incident.
    """

    __tablename__ = "paged_incidents"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_paged_incidents"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str
    external_id: str
    incident_id: int = Field(foreign_key="incidents.id", index=True)
    linked_at: datetime = _utc()


class Person(SQLModel, table=True):
    """A responder's display name, learned from what Slack sends, for drafts and the API."""

    __tablename__ = "people"

    id: str = Field(primary_key=True)  # Slack user id
    name: str
    updated_at: datetime = _utc()


class CatchUpSent(SQLModel, table=True):
    """Someone who joined an incident channel late and was sent the catch-up: once each."""

    __tablename__ = "catchups_sent"

    incident_id: int = Field(foreign_key="incidents.id", primary_key=True)
    user_id: str = Field(primary_key=True)  # Slack user id
    sent_at: datetime = _utc()


class Maintenance(SQLModel, table=True):
    """A scheduled maintenance window, announced ahead in the broadcast channel."""

    __tablename__ = "maintenances"

    id: int | None = Field(default=None, primary_key=True)
    title: str
    starts_at: datetime = _utc()
    ends_at: datetime = _utc()
    created_by: str | None = None
    created_at: datetime = _utc()
    cancelled_at: datetime | None = _utc(nullable=True)
    # References the integrations keep for this window (the Statuspage incident id).
    external: dict[str, Any] = _json()


class InboxRequest(SQLModel, table=True):
    """A request Slack was told we received (a command, a click, a pin), kept until carried
    out: written before the answer, so a crash after it loses nothing."""

    __tablename__ = "inbox"
    __table_args__ = (Index("ix_inbox_pending", "done_at", "received_at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)  # the delivery: a retry of it finds this row
    kind: str
    payload: dict[str, Any] = _json()
    received_at: datetime = _utc()
    claimed_until: datetime | None = _utc(nullable=True)
    attempts: int = 0
    done_at: datetime | None = _utc(nullable=True)


class SchedulerLeader(SQLModel, table=True):
    """The one row holding the scheduler's fencing token: bumped at each takeover."""

    __tablename__ = "scheduler_leader"

    id: int = Field(default=1, primary_key=True)
    epoch: int = Field(default=0, sa_type=BigInteger, nullable=False)
    holder: str | None = None
    elected_at: datetime | None = _utc(nullable=True)


class Followup(SQLModel, table=True):
    """A follow-up the team commits to after an incident: `action <text>` in its channel.

    Numbered within its incident (`action done 2`); its ticket, once a tracker filed it,
    is found again by (`tracker`, `ticket_key`) when the tracker's webhook reports on it.
    Superseded `action_items` (whose rows migration 0018 copied here; 0022 dropped it).
    """

    __tablename__ = "followups"
    __table_args__ = (
        UniqueConstraint("incident_id", "number", name="uq_followups_number"),
        Index("ix_followups_ticket", "tracker", "ticket_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True)
    number: int
    text: str
    owner: str | None = None  # a Slack user id
    due: date | None = None
    status: str = "open"  # open | done | dropped
    created_by: str | None = None
    created_at: datetime = _utc()
    # Set when it was last closed (done or dropped); cleared when it is opened again.
    closed_at: datetime | None = _utc(nullable=True)
    closed_by: str | None = None
    drop_reason: str | None = None
    tracker: str | None = None  # github | jira | linear, once its ticket exists
    ticket_key: str | None = None
    ticket_url: str | None = None


class Postmortem(SQLModel, table=True):
    """A resolved incident's postmortem: who owns it, when it is due, how far it got.

    One per incident, made at its resolve (or, for incidents resolved before migration
    0019, when first needed). `status` goes draft -> in_review -> published; `path` and
    `permalink` say where the last published version is.
    """

    __tablename__ = "postmortems"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", unique=True)
    owner: str | None = None  # a Slack user id
    status: str = "draft"  # draft | in_review | published
    due: date
    resolved_at: datetime = _utc(index=True)  # the resolve it is due from
    created_at: datetime = _utc()
    reviewed_at: datetime | None = _utc(nullable=True)
    published_at: datetime | None = _utc(nullable=True)
    published_by: str | None = None
    path: str | None = None  # the Markdown file written at the last publish, if any
    permalink: str | None = None  # the channel message of the last published version


class PostmortemDraft(SQLModel, table=True):
    """An incident's postmortem as warroom last generated it, and as the team edited it.

    `generated` is the base of the next three-way merge (`bot.postmortem.edits`): a section
    of `edited` equal to its generated version was not touched and is regenerated. Once the
    team has edited, `edited` holds the current text (its sections and the refreshed ones).
    """

    __tablename__ = "postmortem_drafts"

    incident_id: int = Field(foreign_key="incidents.id", primary_key=True)
    generated: str
    edited: str | None = None
    edited_by: str | None = None  # a Slack user id, or "api"
    edited_at: datetime | None = _utc(nullable=True)
    edited_via: str | None = None  # api | slack_file
