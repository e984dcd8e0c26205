"""What every incident operation writes: timeline entries, milestones, outbox effects."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select
from sqlmodel import Session, col

from bot.incidents.effect_codec import encode
from bot.incidents.effects import Effect, lane_of
from storage import outbox
from storage.models import Incident, Milestone, TimelineEvent
from storage.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from bot.incidents.views import Shown

_EVENTS = TimelineEvent.__table__  # type: ignore[attr-defined]
E = TypeVar("E", bound=Effect)


@dataclass
class Outcome:
    """What an operation did: the incident, the effects it queued, and what to tell people.

    `reply` is echoed in the incident channel; `private` (text) or `shown` (a structured
    view the adapter words) is shown only to the responder who asked (read-only
    commands); `effects` go into the outbox with the operation's other rows, in the same
    transaction.
    """

    incident: Incident | None
    effects: list[Effect] = field(default_factory=list)
    reply: str | None = None
    private: str | None = None
    shown: Shown | None = None
    duplicate: bool = False


@dataclass(frozen=True)
class Origin:
    """Where a change came from: a responder's command (the default), or a paging tool.

    A change from a paging tool (`pager`, its name) keeps the tool's own time (`at`) and
    is recorded with `source` "pager"; nothing of it is sent back to that tool.
    """

    source: str = "command"
    at: datetime | None = None
    pager: str | None = None


COMMAND = Origin()


class Recorder:
    """Collects one operation's writes so they land in the caller's transaction together.

    Timeline entries and outbox rows wait in the unit of work and go in at its flush,
    together with those of every other operation in the transaction; until the operation
    is closed `amend` can still change them. `key` names the delivery the operation
    answers: the first timeline entry carries it, so a retry is recognised.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        incident: Incident | None,
        now: datetime,
        tz: tzinfo = UTC,
        *,
        key: str | None = None,
    ) -> None:
        self.uow = uow
        self.session = uow.session
        self.incident = incident
        self.now = now
        self.tz = tz
        self.key = key
        self.outcome = Outcome(incident)
        self.rows = uow.rows()
        self._ops: dict[int, dict[str, Any]] = {}

    def event(
        self,
        kind: str,
        text: str,
        *,
        actor: str | None,
        source: str = "command",
        at: datetime | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Add a timeline entry (at `at`, default now)."""
        assert self.incident is not None and self.incident.id is not None
        key, self.key = self.key, None
        self.rows.add(
            _EVENTS,
            {
                "incident_id": self.incident.id,
                "occurred_at": at or self.now,
                "recorded_at": self.now,
                "kind": kind,
                "actor": actor,
                "text": text,
                "data": data or {},
                "source": source,
                "idempotency_key": key,
            },
        )

    def close(self) -> None:
        """The operation is done: its rows are final (they go in at the unit of work's flush)."""
        self.rows.close()

    def milestone(
        self,
        name: str,
        at: datetime,
        *,
        source: str,
        actor: str | None,
        overwrite: bool = False,
    ) -> Milestone | None:
        """Set a milestone; an existing one is kept unless `overwrite`, with its edit history."""
        assert self.incident is not None and self.incident.id is not None
        incident_id = self.incident.id
        row = self.session.scalar(
            select(Milestone).where(
                col(Milestone.incident_id) == incident_id, col(Milestone.name) == name
            )
        )
        if row is None:
            row = Milestone(incident_id=incident_id, name=name, at=at, source=source, actor=actor)
            self.session.add(row)
            return row
        if not overwrite:
            return None
        history = [*row.history, _history_entry(row, self.now)]
        row.history = history
        row.at, row.source, row.actor = at, source, actor
        return row

    def effect(self, effect: E) -> E:
        """Write an effect to the outbox in this transaction, about this operation's
        incident; return it as written (change it with `amend`)."""
        incident_id = self.incident.id if self.incident is not None else None
        effect = dataclasses.replace(effect, incident_id=incident_id)
        self._ops[id(effect)] = outbox.row(
            self.rows,
            kind=effect.kind,
            version=effect.version,
            lane=lane_of(effect.kind),
            payload=encode(effect),
            incident_id=incident_id,
            now=self.now,
        )
        self.outcome.effects.append(effect)
        return effect

    def amend(self, effect: E, **changes: Any) -> E:
        """Change an effect's fields after the fact (a command's echo gets its text last)."""
        if self.rows.closed:
            raise RuntimeError("the operation's rows are closed: amend before close()")
        amended = dataclasses.replace(effect, **changes)
        op = self._ops.pop(id(effect))
        op["payload"] = encode(amended)
        self._ops[id(amended)] = op
        effects = self.outcome.effects
        effects[next(i for i, e in enumerate(effects) if e is effect)] = amended
        return amended

    def touch(self) -> None:
        """Mark the incident changed."""
        if self.incident is not None:
            self.incident.updated_at = self.now
            self.session.add(self.incident)


def _history_entry(row: Milestone, now: datetime) -> dict[str, Any]:
    return {
        "at": row.at.isoformat(),
        "source": row.source,
        "actor": row.actor,
        "replaced_at": now.isoformat(),
    }


def milestones_of(session: Session, incident_id: int) -> dict[str, Milestone]:
    """An incident's milestones by name."""
    rows = session.scalars(select(Milestone).where(col(Milestone.incident_id) == incident_id))
    return {row.name: row for row in rows}
