"""Engines and sessions for SQLite (WAL, embedded default) and PostgreSQL."""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import StaticPool
from sqlmodel import Session


def normalize_url(url: str) -> str:
    """Point bare `postgresql://` URLs at psycopg 3, the driver we ship."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    """Tell whether a database URL names SQLite."""
    return make_url(url).get_backend_name() == "sqlite"


# A connection taken from the pool is pinged first only if it sat idle this long (seconds),
# or was put back before the pool last saw a connection die. See `ping_when_idle`.
PING_IDLE_AFTER = 1.0


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the settings each backend needs under concurrency."""
    url = normalize_url(url)
    if not is_sqlite(url):
        engine = create_engine(url, pool_size=10, max_overflow=20, **kwargs)
        ping_when_idle(engine)
        return engine
    database = make_url(url).database
    in_memory = not database or database == ":memory:"
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        poolclass=StaticPool if in_memory else None,
        **kwargs,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling would open deferred transactions that
        # deadlock when two writers upgrade their read locks; we issue BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            # FULL fsyncs the WAL at every commit: a 202 given after commit then survives a
            # power cut (NORMAL syncs only at checkpoints, so a crash of the machine can
            # roll back the last commits). Group commit makes it one fsync per batch.
            cursor.execute("PRAGMA synchronous=FULL")
            # A statement that may abort midway (an upsert, a foreign key) keeps the pages
            # it changes in a statement journal; past 64 KiB in a transaction (a storm's
            # batch) SQLite spills it to a new file in /var/tmp, created, written, deleted
            # and closed at every commit. In memory it is a copy of those pages (10% of the
            # storm's writer in process). Temporary tables and a sort too large for the
            # cache stay in memory too: no read of ours sorts more than a few MB.
            cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    # SQLite has one writer at a time. Waiting for it in SQLite's busy handler means
    # sleeping in growing steps, so under a storm most threads sleep while the lock is
    # free; queueing on a lock of our own hands it over the moment a commit is done. (The
    # busy timeout still covers other processes on the same file.)
    writer = threading.RLock()
    holders: set[int] = set()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        writer.acquire()
        holders.add(id(connection.connection.dbapi_connection))
        try:
            # IMMEDIATE takes the write lock up front, so concurrent writers queue instead
            # of failing with "database is locked" mid-transaction. On sqlite3's own
            # connection: SQLAlchemy's execute path costs ten times the statement, and every
            # transaction (each batch of an alert storm) begins here.
            driver_of(connection.connection).execute("BEGIN IMMEDIATE")
        except dialect.loaded_dbapi.Error as error:
            _release(connection.connection.dbapi_connection)
            raise exc.DBAPIError.instance(
                "BEGIN IMMEDIATE", (), error, dialect.loaded_dbapi.Error, dialect=dialect
            ) from error
        except BaseException:
            _release(connection.connection.dbapi_connection)
            raise

    def _release(connection: Any) -> None:
        # Commit, rollback and the pool's reset hand over the pool's proxy; begin the raw one.
        key = id(getattr(connection, "dbapi_connection", connection))
        if key in holders:
            holders.discard(key)
            with contextlib.suppress(RuntimeError):  # released from another thread
                writer.release()

    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        try:
            commit(dbapi_connection)
        finally:
            _release(dbapi_connection)

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            _release(dbapi_connection)

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]
    return engine


_died_at: weakref.WeakKeyDictionary[Engine, dict[str, float]] = weakref.WeakKeyDictionary()


def found_dead(engine: Engine) -> None:
    """A connection of `engine` was found dead outside its pool (a kept one): the pooled
    ones are pinged before their next use, as when the pool invalidates one itself."""
    state = _died_at.get(engine)
    if state is not None:
        state["died_at"] = time.monotonic()


def ping_when_idle(engine: Engine) -> None:
    """Ping a connection taken from the pool when it sat idle for PING_IDLE_AFTER seconds,
    or was put back before a connection of the pool was last found dead; replace it if the
    ping fails (the pool's own retry on `DisconnectionError`).

    SQLAlchemy's `pool_pre_ping` pings on every checkout: a round trip per transaction, a
    tenth of an alert batch's writer time. A connection in use a moment ago is alive but
    for a server restart or crash within that moment; then its first statement fails, the
    connection is invalidated (and every other one is pinged before its next use), and the
    alert writer runs its batch again on a fresh one (`GroupCommit`).
    """
    dialect = engine.dialect
    state = _died_at[engine] = {"died_at": 0.0}

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "invalidate")
    def _invalidated(dbapi_connection: Any, record: Any, exception: Any) -> None:
        state["died_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None:
            return  # connected just now
        if time.monotonic() - idle_since < PING_IDLE_AFTER and idle_since > state["died_at"]:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError(f"connection found dead: {error}") from error


def driver_of(pooled: Any) -> Any:
    """The driver's own connection behind a pooled one, detached from its pool or not (a
    detached one no longer names it as `driver_connection`; neither driver is wrapped)."""
    return pooled.driver_connection or pooled.dbapi_connection


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(bind=engine, class_=Session, expire_on_commit=False)


def make_statement_engine(url: str, **kwargs: Any) -> Engine | None:
    """An engine for work that is a single statement, durable once it returns (None on
    SQLite, whose transactions cost no round trips: use the main engine).

    On PostgreSQL each statement commits by itself, and connections are not pinged when
    taken from the pool: no BEGIN, COMMIT or ping round trips, after each of which the
    calling thread waits for the GIL again. A connection that died with the server fails
    its statement, which the caller reports; the pool then replaces it.
    """
    url = normalize_url(url)
    if is_sqlite(url):
        return None
    return create_engine(url, isolation_level="AUTOCOMMIT", pool_size=2, max_overflow=8, **kwargs)


def statement_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions on an engine from `make_statement_engine` (or the main one on SQLite)."""
    return sessionmaker(bind=engine, class_=Session, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def ping(engine: Engine) -> None:
    """Raise if the database cannot be reached."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
