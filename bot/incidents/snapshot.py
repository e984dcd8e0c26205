"""One incident as every reader sees it: the card, the App Home, the API, webhooks, postmortems.

Each fact (when impact started, when it was resolved, the stage and its checklist, who holds
which role) is worked out here once, so no two surfaces can disagree about it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from bot.incidents.stages import playbook_of, state_of
from playbooks import Credit
from storage.models import Alert, Incident, Milestone, RoleAssignment

# Alerts whose links an incident shows: what a card has room for.
LINK_LIMIT = 5
WEB_SCHEMES = ("http://", "https://")


@dataclass(frozen=True)
class MilestoneEdit:
    """An earlier value of a milestone, replaced at `replaced_at`."""

    at: datetime | None
    source: str | None
    actor: str | None
    replaced_at: datetime | None


@dataclass(frozen=True)
class MilestoneFact:
    """A named moment of the incident, where its time came from, and its earlier values."""

    name: str
    at: datetime
    source: str
    actor: str | None
    history: tuple[MilestoneEdit, ...] = ()


@dataclass(frozen=True)
class Task:
    """A task of a stage; `n` is what `/incident task done <n>` takes. `credit` is what
    ticked it off (a milestone, a command, or a responder by hand), when known."""

    n: int
    text: str
    done: bool
    credit: Credit | None = None


@dataclass(frozen=True)
class StageFact:
    """A playbook stage: when the incident entered it (None if never) and its checklist."""

    id: str
    title: str
    timebox: timedelta | None = None
    entered_at: datetime | None = None
    tasks: tuple[Task, ...] = ()


@dataclass(frozen=True)
class IncidentSnapshot:
    """An incident as stored now, with every fact its readers show already worked out.

    `started_at` is when impact began: the `started` milestone, else the declaration.
    `resolved_at` is the `resolved` milestone (it holds a backdated time), else the column.
    `milestones` are in the order they happened; `stages` are every stage of the
    incident's playbook, in playbook order, and `stage` is the current one (None before
    the playbook started). `roles` maps each role to its latest holder; `alert_links` are
    the web links of the first alerts that have one. `recurrence_of` is the resolved
    incident of the same alert group this one follows. `source` is the sender of the alert
    that opened the incident (None for a declared one) and `alert_names` the distinct names
    of its alerts, in the order they first came.
    """

    id: int
    title: str
    severity: str
    status: str
    playbook_id: str
    drill: bool
    channel_id: str | None
    channel_name: str | None
    created_at: datetime
    started_at: datetime
    resolved_at: datetime | None
    impact: str | None = None
    cause: str | None = None
    summary: str | None = None
    opened_by: str | None = None
    milestones: Mapping[str, MilestoneFact] = field(default_factory=dict)
    stages: tuple[StageFact, ...] = ()
    stage: StageFact | None = None
    roles: Mapping[str, str] = field(default_factory=dict)
    alert_links: tuple[str, ...] = ()
    external: Mapping[str, Any] = field(default_factory=dict)
    recurrence_of: int | None = None
    source: str | None = None
    alert_names: tuple[str, ...] = ()
    private: bool = False
    public_title: str | None = None

    @property
    def commander(self) -> str | None:
        """Who commands the incident now."""
        return self.roles.get("commander")

    @property
    def milestone_times(self) -> dict[str, datetime]:
        """Each milestone's time by name."""
        return {name: fact.at for name, fact in self.milestones.items()}


def snapshot(session: Session, incident_id: int) -> IncidentSnapshot | None:
    """Load one incident's snapshot (None if there is no such incident)."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        return None
    return snapshots(session, [incident])[0]


def snapshots(session: Session, incidents: Sequence[Incident]) -> list[IncidentSnapshot]:
    """Snapshots of incidents already loaded, in their order, in four queries for them all."""
    ids = [incident.id for incident in incidents if incident.id is not None]
    milestones = _milestones(session, ids)
    roles = roles_by_incident(session, ids)
    links = _links(session, ids)
    senders = senders_by_incident(session, ids)
    return [
        replace(
            _snapshot(
                incident,
                milestones.get(incident.id or 0, []),
                roles.get(incident.id or 0, {}),
                links.get(incident.id or 0, ()),
            ),
            **senders.get(incident.id or 0, {}),
        )
        for incident in incidents
    ]


def senders_by_incident(session: Session, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Each alerted incident's `source` (its first alert's) and distinct `alert_names`."""
    found: dict[int, dict[str, Any]] = {}
    if not ids:
        return found
    # Rows stored before alerts had a name are named by their title.
    name = func.coalesce(col(Alert.name), col(Alert.title))
    first = func.min(col(Alert.id))
    rows = session.execute(
        select(col(Alert.incident_id), col(Alert.source), name, first)
        .where(col(Alert.incident_id).in_(ids))
        .group_by(col(Alert.incident_id), col(Alert.source), name)
        .order_by(col(Alert.incident_id), first)
    )
    for incident_id, source, alert_name, _ in rows:
        facts = found.setdefault(incident_id, {"source": source, "alert_names": ()})
        if alert_name not in facts["alert_names"]:
            facts["alert_names"] = (*facts["alert_names"], alert_name)
    return found


def roles_by_incident(session: Session, ids: Sequence[int]) -> dict[int, dict[str, str]]:
    """Each incident's role -> holder, the latest assignment of each role winning."""
    found: dict[int, dict[str, str]] = {}
    if not ids:
        return found
    rows = session.execute(
        select(col(RoleAssignment.incident_id), col(RoleAssignment.role), col(RoleAssignment.user))
        .where(col(RoleAssignment.incident_id).in_(ids))
        .order_by(col(RoleAssignment.assigned_at), col(RoleAssignment.id))
    )
    for incident_id, role, user in rows:
        found.setdefault(incident_id, {})[role] = user
    return found


def _milestones(session: Session, ids: Sequence[int]) -> dict[int, list[Milestone]]:
    found: dict[int, list[Milestone]] = {}
    if ids:
        for row in session.scalars(select(Milestone).where(col(Milestone.incident_id).in_(ids))):
            found.setdefault(row.incident_id, []).append(row)
    return found


def _links(session: Session, ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """The URLs of each incident's first alerts that carry one."""
    found: dict[int, tuple[str, ...]] = {}
    if not ids:
        return found
    rank = (
        func.row_number()
        .over(partition_by=col(Alert.incident_id), order_by=col(Alert.id))
        .label("rank")
    )
    ranked = (
        select(col(Alert.incident_id).label("incident_id"), col(Alert.url).label("url"), rank)
        .where(col(Alert.incident_id).in_(ids), col(Alert.url).is_not(None))
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.incident_id, ranked.c.url)
        .where(ranked.c.rank <= LINK_LIMIT)
        .order_by(ranked.c.incident_id, ranked.c.rank)
    )
    for incident_id, url in rows:
        # Only web links are links: anything else could run script or open another app.
        if url.startswith(WEB_SCHEMES):
            found[incident_id] = (*found.get(incident_id, ()), url)
    return found


def _snapshot(
    incident: Incident,
    milestones: list[Milestone],
    roles: dict[str, str],
    links: tuple[str, ...],
) -> IncidentSnapshot:
    assert incident.id is not None
    facts = {
        row.name: MilestoneFact(row.name, row.at, row.source, row.actor, _history(row.history))
        for row in sorted(milestones, key=lambda row: (row.at, row.name))
    }
    started = facts.get("started")
    resolved = facts.get("resolved")
    stages, current = _stages(incident)
    return IncidentSnapshot(
        id=incident.id,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        playbook_id=incident.playbook_id,
        drill=incident.drill,
        private=incident.private,
        public_title=incident.public_title,
        channel_id=incident.channel_id,
        channel_name=incident.channel_name,
        created_at=incident.created_at,
        started_at=started.at if started is not None else incident.created_at,
        resolved_at=resolved.at if resolved is not None else incident.resolved_at,
        impact=incident.impact,
        cause=incident.cause,
        summary=incident.summary,
        opened_by=incident.opened_by,
        milestones=facts,
        stages=stages,
        stage=current,
        roles=roles,
        alert_links=links,
        external=dict(incident.external or {}),
        recurrence_of=incident.recurrence_of,
    )


def _stages(incident: Incident) -> tuple[tuple[StageFact, ...], StageFact | None]:
    """Every stage of the incident's playbook, and the one it is in."""
    if not incident.playbook_snapshot:
        return (), None
    state = state_of(incident)
    stages = []
    for stage in playbook_of(incident).stages:
        done = state.done(stage.id) if state is not None else frozenset()
        stages.append(
            StageFact(
                id=stage.id,
                title=stage.title,
                timebox=stage.timebox,
                entered_at=state.entered_at.get(stage.id) if state is not None else None,
                tasks=tuple(
                    Task(
                        n,
                        task.text,
                        n in done,
                        state.credit(stage.id, n) if state is not None else None,
                    )
                    for n, task in enumerate(stage.tasks, 1)
                ),
            )
        )
    current = None
    if state is not None:
        current = next((stage for stage in stages if stage.id == state.stage), None)
    return tuple(stages), current


def _history(entries: Iterable[Any]) -> tuple[MilestoneEdit, ...]:
    """Milestone history as stored (ISO strings); anything but an entry is skipped."""
    return tuple(
        MilestoneEdit(
            at=_time(entry.get("at")),
            source=entry.get("source"),
            actor=entry.get("actor"),
            replaced_at=_time(entry.get("replaced_at")),
        )
        for entry in entries
        if isinstance(entry, dict)
    )


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
