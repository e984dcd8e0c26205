"""One transaction's unit of work: its session and what it holds until the explicit flush.

Recording a command is mostly new rows (timeline entries, outbox operations). Building an
ORM object per row and flushing it costs about four times what one Core executemany costs
per row, so an operation collects its rows in a writer (`Rows`) while it runs, and they go
in together at `flush`: one statement per table for every operation of the transaction,
whether it runs alone or shares the transaction with others. Nothing is written behind the
caller's back: whoever reads what this transaction wrote calls `flush` first.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col

from storage import db
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


class UnitOfWork:
    """A session plus what one transaction shares between the operations it carries.

    `pending`: writers whose rows go in at the next `flush`, in the order they were made.
    `new_delivery_keys`: delivery keys checked up front and found unrecorded (each used
    once). `incidents`, `channels`: incidents loaded in this transaction, and which
    incident a channel belongs to (asked once). `people`: (user, name) pairs stored.

    Made on a session, or on a connection in a transaction (`on_connection`): there the
    ORM session is opened, joined to that transaction, only when first asked for.
    """

    def __init__(self, session: Session | None = None) -> None:
        self._session = session
        self._connection: Connection | None = None
        self._open_session: Callable[[], Session] | None = None
        self.pending: list[Rows] = []
        self.new_delivery_keys: set[str] = set()
        self.incidents: dict[int, Incident] = {}
        self.channels: dict[str, int] = {}
        self.people: set[tuple[str, str]] = set()

    @classmethod
    def on_connection(
        cls, connection: Connection, open_session: Callable[[], Session]
    ) -> UnitOfWork:
        """A unit of work in `connection`'s transaction; `open_session` makes the session
        (bound to that connection) if an operation needs the ORM."""
        uow = cls()
        uow._connection = connection
        uow._open_session = open_session
        return uow

    @property
    def session(self) -> Session:
        """The ORM session (opened now, on a connection's unit of work asked first)."""
        if self._session is None:
            assert self._open_session is not None, "a unit of work needs a session"
            self._session = self._open_session()
        return self._session

    @property
    def session_opened(self) -> Session | None:
        """The session if there is one yet."""
        return self._session

    def connection(self) -> Connection:
        """The transaction's connection, for Core statements."""
        if self._connection is not None:
            return self._connection
        return self.session.connection()

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
            connection = self.connection()
            for table, added in merged.items():
                connection.execute(_insert(table), added)
        if self._session is not None:
            self._session.flush()

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
        """The incident by id, locked and kept loaded until the transaction ends.

        The session's identity map holds rows weakly: without this reference the row (and
        its large playbook snapshot) would be loaded again by every operation of a batch.
        The row's lock (PostgreSQL; SQLite's writers take turns already) makes the changes
        to one incident take turns: a check such as "already acknowledged?" reads what the
        change before it wrote, rather than both passing it at once.
        """
        incident = self.incidents.get(incident_id)
        if incident is None:
            incident = self.session.get(Incident, incident_id, with_for_update=True)
            if incident is not None:
                self.incidents[incident_id] = incident
        return incident

    def incident_for_channel(self, channel_id: str | None) -> Incident | None:
        """The incident whose channel this is (the newest, if a channel was reused)."""
        if not channel_id:
            return None
        incident_id = self.channels.get(channel_id)
        if incident_id is None:
            found = self.connection().execute(_BY_CHANNEL, {"p_channel": channel_id})
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


class KeptConnection:
    """A connection each thread keeps between its transactions, outside the pool, until
    `release` (or until it sat idle for `db.PING_IDLE_AFTER`, or was found dead: then the
    next transaction takes another from the pool, pinged there as the pool does).

    For a writer thread whose transactions follow each other (the alert writer): taking a
    connection from the pool and putting it back costs about a tenth of a lone alert's
    transaction in the pool's bookkeeping, events and reset.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()

    @contextmanager
    def hold(self) -> Iterator[Connection]:
        """This thread's connection for one transaction (idle again when the block ends)."""
        connection = self._take()
        try:
            yield connection
        finally:
            self._local.used = time.monotonic()

    def _take(self) -> Connection:
        local = self._local
        connection: Connection | None = getattr(local, "connection", None)
        if connection is not None and (
            connection.invalidated
            or connection.closed
            or time.monotonic() - local.used >= db.PING_IDLE_AFTER
        ):
            self.release()
            connection = None
        if connection is None:
            connection = self.engine.connect()
            # Out of the pool's count: closing it closes it rather than putting it back.
            connection.detach()
            local.connection = connection
        return connection

    def release(self) -> None:
        """Close this thread's connection, if it keeps one."""
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            with contextlib.suppress(Exception):  # a dead one cannot be closed cleanly
                connection.close()


@contextmanager
def connected_unit_of_work(
    source: Engine | KeptConnection, factory: sessionmaker[Session]
) -> Iterator[UnitOfWork]:
    """A unit of work on a connection of its own (or the thread's kept one), committed on
    success, rolled back on any error. Work done with Core statements alone never opens an
    ORM session (its bookkeeping costs more than a small batch's statements); a session
    opened on the way joins the transaction, and is told of the commit after it (its
    `after_commit` hooks).
    """
    opened = source.hold() if isinstance(source, KeptConnection) else source.connect()
    with opened as connection:
        uow: UnitOfWork | None = None
        try:
            with connection.begin():
                uow = UnitOfWork.on_connection(connection, lambda: factory(bind=connection))
                yield uow
                uow.flush()
        except BaseException:
            session = uow.session_opened if uow is not None else None
            if session is not None:
                session.close()  # the transaction it joined is rolled back already
            raise
        session = uow.session_opened
        if session is not None:
            session.commit()  # the transaction is committed: this only runs the hooks
            session.close()


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
