"""Rows inserted late and together: one Core statement per table instead of ORM objects.

Building an ORM object and flushing it cost four times what one executemany costs per
row, and recording a command is mostly such rows. A writer (`Rows`) collects its rows
while its operation runs, so it can still change them. Once it is closed they go in, in
the order the writers were made, before the session's next ORM query; `flush` and the
commit write every writer's rows, closing those still open. A savepoint rolled back
takes back what was written inside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, event, insert
from sqlalchemy.orm import ORMExecuteState, SessionTransaction
from sqlmodel import Session

_QUEUE = "warroom.deferred_rows"
_SAVED = "warroom.deferred_saved"


@dataclass(eq=False)
class Rows:
    """One operation's rows, per table in order; written once closed."""

    session: Session
    tables: dict[Table, list[dict[str, Any]]] = field(default_factory=dict)
    closed: bool = False

    def __post_init__(self) -> None:
        _queue(self.session).append(self)

    def add(self, table: Table, row: dict[str, Any]) -> dict[str, Any]:
        """Queue a row (every column given: Core fills in no Python-side defaults)."""
        if self.closed:
            raise RuntimeError("these rows were handed over already")
        self.tables.setdefault(table, []).append(row)
        return row

    def close(self) -> None:
        """The rows are final: they go in with the session's next query or commit."""
        self.closed = True


def flush(session: Session) -> None:
    """Write every writer's rows (closing any still open), then flush the ORM; both raise
    IntegrityError, so a conflict is found here rather than at the commit."""
    write(session, everything=True)
    session.flush()


def write(session: Session, *, everything: bool = False) -> None:
    """Insert the rows of every closed writer up to the first one still open (`everything`:
    close them all first), one statement per table."""
    queue: list[Rows] | None = session.info.get(_QUEUE)
    if not queue:
        return
    done = 0
    merged: dict[Table, list[dict[str, Any]]] = {}
    for rows in queue:
        if everything:
            rows.closed = True
        elif not rows.closed:
            break
        done += 1
        for table, added in rows.tables.items():
            merged.setdefault(table, []).extend(added)
    del queue[:done]  # first: a failing insert must not be tried again with the next query
    if merged:
        connection = session.connection()
        for table, added in merged.items():
            connection.execute(_insert(table), added)


_INSERTS: dict[Table, Any] = {}


def _insert(table: Table) -> Any:
    statement = _INSERTS.get(table)
    if statement is None:
        statement = _INSERTS[table] = insert(table)
    return statement


def _queue(session: Session) -> list[Rows]:
    queue: list[Rows] = session.info.setdefault(_QUEUE, [])
    return queue


@event.listens_for(Session, "do_orm_execute")
def _before_query(state: ORMExecuteState) -> None:
    # What a query might read must be in the database first, as the ORM's autoflush does.
    write(state.session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    # A savepoint's release writes what is ready; the transaction's commit, everything.
    write(session, everything=not session.in_nested_transaction())


@event.listens_for(Session, "after_transaction_create")
def _savepoint_begins(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        # Writers from before the savepoint belong to the outer transaction: if the
        # savepoint rolls back after writing them, they must be written again; writers
        # made inside it are dropped with it.
        session.info.setdefault(_SAVED, {})[transaction] = list(session.info.get(_QUEUE) or [])


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous: SessionTransaction) -> None:
    # What rolled back may be the savepoint itself, or a flush failing inside it (the
    # flush's own inner transaction, after which the savepoint is closed, not rolled back):
    # either way the database is back where the nearest savepoint began.
    boundary: SessionTransaction | None = previous
    while boundary is not None and not boundary.nested:
        boundary = boundary.parent
    if boundary is not None and session.in_transaction():
        session.info[_QUEUE] = list(session.info.get(_SAVED, {}).get(boundary, []))
    else:
        session.info.pop(_QUEUE, None)


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    # (A savepoint's own snapshot stays until then: this runs before after_soft_rollback.)
    if transaction.parent is None:
        session.info.pop(_QUEUE, None)
        session.info.pop(_SAVED, None)
