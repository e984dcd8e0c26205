"""One transaction's unit of work: its session and what it holds until the explicit flush.

Recording a command is mostly new rows (timeline entries, outbox operations). Building an
ORM object per row and flushing it costs about four times what one Core executemany costs
per row, so an operation collects its rows in a writer (`Rows`) while it runs, and they go
in together at `flush`: one statement per table for every operation of the transaction,
whether it runs alone or shares the transaction with others. Nothing is written behind the
caller's back: whoever reads what this transaction wrote calls `flush` first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col

from storage.models import Incident


@dataclass(eq=False)
class Rows:
    """One operation's new rows, per table in order; it may change them until `close`."""

    tables: dict[Table, list[dict[str, Any]]] = field(default_factory=dict)
    closed: bool = False

    def add(self, table: Table, row: dict[str, Any]) -> dict[str, Any]:
        """Queue a row (every column given: Core fills in no Python-side defaults)."""
        if self.closed:
            raise RuntimeError("these rows were handed over already")
        self.tables.setdefault(table, []).append(row)
        return row

    def close(self) -> None:
        """The rows are final."""
        self.closed = True


_BY_CHANNEL = (
    select(col(Incident.id))
    .where(col(Incident.channel_id) == bindparam("p_channel"))
    .order_by(col(Incident.id).desc())
    .limit(1)
)


@dataclass(eq=False)
class UnitOfWork:
    """A session plus what one transaction shares between the operations it carries.

    `pending`: writers whose rows go in at the next `flush`, in the order they were made.
    `new_delivery_keys`: delivery keys checked up front and found unrecorded (each used
    once). `incidents`, `channels`: incidents loaded in this transaction, and which
    incident a channel belongs to (asked once). `people`: (user, name) pairs stored.
    """

    session: Session
    pending: list[Rows] = field(default_factory=list)
    new_delivery_keys: set[str] = field(default_factory=set)
    incidents: dict[int, Incident] = field(default_factory=dict)
    channels: dict[str, int] = field(default_factory=dict)
    people: set[tuple[str, str]] = field(default_factory=set)

    def rows(self) -> Rows:
        """A writer for one operation's new rows."""
        rows = Rows()
        self.pending.append(rows)
        return rows

    def flush(self) -> None:
        """Write every writer's rows (closing any still open), then the ORM's changes.

        Both raise IntegrityError, so a taken key is found here rather than at the commit.
        """
        pending, self.pending = self.pending, []  # a failing insert is not tried twice
        merged: dict[Table, list[dict[str, Any]]] = {}
        for rows in pending:
            rows.closed = True
            for table, added in rows.tables.items():
                merged.setdefault(table, []).extend(added)
        if merged:
            connection = self.session.connection()
            for table, added in merged.items():
                connection.execute(_insert(table), added)
        self.session.flush()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Undo everything done inside, rows and ORM changes alike, if it raises."""
        self.flush()  # what came before belongs to the outer transaction
        with self.session.begin_nested():
            try:
                yield
            except BaseException:
                self.pending.clear()  # made inside: dropped with the savepoint
                raise
            self.flush()

    def incident(self, incident_id: int) -> Incident | None:
        """The incident by id, kept loaded until the transaction ends.

        The session's identity map holds rows weakly: without this reference the row (and
        its large playbook snapshot) would be loaded again by every operation of a batch.
        """
        incident = self.incidents.get(incident_id)
        if incident is None:
            incident = self.session.get(Incident, incident_id)
            if incident is not None:
                self.incidents[incident_id] = incident
        return incident

    def incident_for_channel(self, channel_id: str | None) -> Incident | None:
        """The incident whose channel this is (the newest, if a channel was reused)."""
        if not channel_id:
            return None
        incident_id = self.channels.get(channel_id)
        if incident_id is None:
            found = self.session.connection().execute(_BY_CHANNEL, {"p_channel": channel_id})
            row = found.first()
            if row is None:
                return None
            incident_id = self.channels[channel_id] = row.id
        return self.incident(incident_id)


_INSERTS: dict[Table, Any] = {}


def _insert(table: Table) -> Any:
    statement = _INSERTS.get(table)
    if statement is None:
        statement = _INSERTS[table] = insert(table)
    return statement


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[UnitOfWork]:
    """A unit of work in a transaction of its own: flushed and committed on success, rolled
    back on any error."""
    with factory() as session:
        uow = UnitOfWork(session)
        try:
            yield uow
            uow.flush()
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def within(session: Session) -> Iterator[UnitOfWork]:
    """A unit of work in the caller's transaction: flushed when the block ends (the caller
    commits)."""
    uow = UnitOfWork(session)
    yield uow
    uow.flush()
