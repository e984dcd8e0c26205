"""Engines and sessions for SQLite (WAL, embedded default) and PostgreSQL."""

from __future__ import annotations

import contextlib
import threading
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


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the settings each backend needs under concurrency."""
    url = normalize_url(url)
    if not is_sqlite(url):
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)
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
            connection.connection.driver_connection.execute("BEGIN IMMEDIATE")
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
